"""What is checked once Ray is up, and a run whose trials fail: one line, no hang, not "completed".

Each test runs the real CLI (``demo``, the mini config) through ``standin_driver.py``;
the CLI starts a local Ray itself.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from cappuccino_ray.run_files import PHASE1_DIR, PHASE1_WINNER_FILE, PHASE2_DIR, TRAINING_REPORT_FILE
from tests.python_run import REPO, child_env, run_python

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent


def run_demo(
    tmp_path: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_python(
        str(HERE / "standin_driver.py"), "0", "demo", "--quiet", *extra, cwd=tmp_path, env=child_env(env)
    )


def last_line(err: str) -> str:
    return [ln for ln in err.splitlines() if ln.strip()][-1]


def test_cpus_per_trial_above_the_cluster_is_refused_once_ray_is_up(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    shutil.copytree(REPO / "configs", configs)
    text = (configs / "phase1.yaml").read_text().replace("cpus_per_trial: 1", "cpus_per_trial: 4096", 1)
    (configs / "phase1.yaml").write_text(text)
    t0 = time.monotonic()
    proc = run_demo(tmp_path, "--config", str(configs), "--results", "results")
    took = time.monotonic() - t0
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = last_line(proc.stderr)
    m = re.match(
        r"error: phase1\.yaml: resources\.cpus_per_trial is 4096 but the Ray cluster has (\d+) CPUs", line
    )
    assert m is not None, line
    assert f"set it to at most {m.group(1)}" in line
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "results").exists(), "a run folder was made for a job that cannot run"
    assert took < 60


def test_a_run_whose_trials_fail_is_not_completed(tmp_path: Path) -> None:
    proc = run_demo(
        tmp_path,
        "--config",
        str(REPO / "configs"),
        "--results",
        "results",
        env={"STANDIN_FAIL": "learning rate 1e-1 diverged"},
    )
    assert proc.returncode == 3, proc.stderr[-2000:]
    line = last_line(proc.stderr)
    assert line.startswith("error: phase 1: ")
    assert "the run is not completed" in line or "no trial reported a finite objective" in line
    assert "planted failure: learning rate 1e-1 diverged" in line
    (run,) = (tmp_path / "results").iterdir()
    report = json.loads((run / TRAINING_REPORT_FILE).read_text())
    assert report["status"] == "failed" and report["stopped_in"] == "phase 1"
    assert not (run / PHASE1_DIR / PHASE1_WINNER_FILE).exists()
    assert not (run / PHASE2_DIR).exists(), "phase 2 started after phase 1 failed"
