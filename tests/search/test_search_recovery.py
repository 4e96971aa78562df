"""Splits a trial finished but Tune never recorded are reported again on restore, not trained again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cappuccino_ray.run_files import SPLIT_ROW_FILE, TEST_RETURNS_FILE
from cappuccino_ray.search.recovery import unrecorded_splits
from cappuccino_ray.search.rows import is_split_row
from tests.python_run import child_env

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("own_ray")]


# A one-trial Tune job of the real trainable; `resume` restores it.
DRIVER = """
import sys
from ray import tune
from cappuccino_ray.search.runner import init_ray
from cappuccino_ray.search.trainable import cpcv_trainable, mini_trial_config
init_ray(log_to_driver=False)
storage = sys.argv[1]
if sys.argv[2] == "resume":
    tuner = tune.Tuner.restore(f"{storage}/exp", trainable=cpcv_trainable, resume_unfinished=True)
else:
    cfg = mini_trial_config(max_splits=3, n_groups=3, n_test_groups=1, synthetic_bars=1500, train_steps=4096)
    tuner = tune.Tuner(cpcv_trainable, param_space=cfg,
                       run_config=tune.RunConfig(name="exp", storage_path=storage, verbose=0))
grid = tuner.fit()
print("DONE", grid[0].metrics["splits_done"], grid.num_errors)
"""


def _split_rows(trial: Path) -> list[dict[str, Any]]:
    rows = [json.loads(x) for x in (trial / "result.json").read_text().splitlines() if x.strip()]
    return [r for r in rows if is_split_row(r)]


def test_a_driver_killed_before_its_snapshot_loses_no_finished_split(tmp_path: Path) -> None:
    store = tmp_path / "store"
    # Tune snapshots the experiment only at its start: every split finishes unrecorded.
    env = child_env({"TUNE_GLOBAL_CHECKPOINT_S": "3600"})
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(store), "new"], env=env)
    deadline = time.monotonic() + 240
    while not list(store.glob(f"exp/*/checkpoint_000001/{SPLIT_ROW_FILE}")):
        assert driver.poll() is None and time.monotonic() < deadline, "no second split"
        time.sleep(0.1)
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    time.sleep(3)  # the watchdog ends the trial's process
    (trial,) = store.glob("exp/*/")
    state = "".join(p.read_text() for p in store.glob("exp/experiment_state*.json"))
    assert "checkpoint_00000" not in state  # Tune recorded none of them
    found = unrecorded_splits(0, trial)
    assert len(found) >= 2 and [row["splits_done"] for _, row in found] == list(range(1, len(found) + 1))
    saved = [row for _, row in found]

    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(store), "resume"], env=child_env(), capture_output=True, text=True
    )
    assert done.returncode == 0 and "DONE 3 0" in done.stdout, done.stderr[-2000:]
    rows = _split_rows(trial)
    assert [r["splits_done"] for r in rows] == [1, 2, 3]
    for before, after in zip(saved, rows, strict=False):  # the same rows: reported again, not retrained
        assert after["train_s"] == before["train_s"] and after["objective"] == before["objective"]


def test_only_whole_checkpoints_that_continue_the_count_are_taken(tmp_path: Path) -> None:
    from cappuccino_ray.search.trainable import mini_trial_config, run_trial

    root = tmp_path / "trial"
    cfg = mini_trial_config(max_splits=3, n_groups=3, n_test_groups=1, synthetic_bars=1500, train_steps=512)
    for i, row in enumerate(run_trial(cfg, checkpoint_root=tmp_path / "splits")):
        folder = root / f"checkpoint_{i:06d}"
        folder.parent.mkdir(exist_ok=True)
        os.rename(tmp_path / "splits" / f"split_{i:03d}", folder)
        (folder / SPLIT_ROW_FILE).write_text(json.dumps(row))
    assert [r["splits_done"] for _, r in unrecorded_splits(0, root)] == [1, 2, 3]
    assert [r["splits_done"] for _, r in unrecorded_splits(1, root)] == [2, 3]
    assert unrecorded_splits(3, root) == []
    cut = root / "checkpoint_000001" / TEST_RETURNS_FILE
    cut.write_bytes(cut.read_bytes()[:100])  # copied halfway when the driver died
    assert [r["splits_done"] for _, r in unrecorded_splits(0, root)] == [1]  # split 3 needs split 2 first
    (root / "checkpoint_000000" / SPLIT_ROW_FILE).unlink()  # written before Tune's copy
    assert unrecorded_splits(0, root) == []
