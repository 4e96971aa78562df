"""Run folders, locks, stop signals and failure checks, without Ray."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cappuccino_ray.cli.ops import _run_text
from cappuccino_ray.errors import ConfigError
from cappuccino_ray.search.interrupt import JobInterrupted, StopSignals, raise_if_stopped, tune_phase
from cappuccino_ray.search.run_folder import (
    RunFailedError,
    RunLock,
    check_trial_failures,
    find_run_dir,
    make_run_dir,
)
from tests.python_run import child_env

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path: Path) -> None:
    made = [make_run_dir(tmp_path, "mini", "abc", NOW) for _ in range(3)]
    assert [p.name for p in made] == [
        "20260102-030405_mini_abc",
        "20260102-030405-2_mini_abc",
        "20260102-030405-3_mini_abc",
    ]
    # --resume picks the newest: the highest suffix, and a later second over any suffix.
    assert find_run_dir(tmp_path, "mini", "abc") == made[-1]
    later = make_run_dir(tmp_path, "mini", "abc", NOW + dt.timedelta(seconds=1))
    assert find_run_dir(tmp_path, "mini", "abc") == later


def test_results_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="not a folder"):
        make_run_dir(tmp_path / "f", "mini", "abc", NOW)


def test_a_folder_in_use_is_refused_until_its_holder_ends(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from pathlib import Path; from cappuccino_ray.search.run_folder import RunLock\n"
            f"lock = RunLock(Path({str(tmp_path)!r})).acquire(); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match=f"in use by pid {holder.pid}"):
            RunLock(tmp_path).acquire()
    finally:
        holder.kill()  # SIGKILL: the kernel drops the lock
        holder.wait()
    with RunLock(tmp_path):
        pass


def test_mostly_failed_phase_is_a_failed_run_naming_the_first_error(tmp_path: Path) -> None:
    (tmp_path / "trial_b").mkdir()
    (tmp_path / "trial_b" / "error.txt").write_text("Traceback ...\nValueError: lr too high\n")
    doc = {"trial_counts": {"3d/1h": {"total": 4, "error": 3, "terminated": 1}}}
    with pytest.raises(RunFailedError, match=r"3 of 4 trials failed.*trial_b: ValueError: lr too high"):
        check_trial_failures(doc["trial_counts"], "phase 1", tmp_path)
    check_trial_failures({"3d/1h": {"total": 4, "error": 2}}, "phase 1", tmp_path)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stop_signal_outside_tune_raises_at_once_with_the_shell_exit_code(sig: int, code: int) -> None:
    with StopSignals(), pytest.raises(JobInterrupted) as info:
        os.kill(os.getpid(), sig)
        for _ in range(1000):  # the handler runs between bytecodes
            pass
    assert info.value.exit_code == code


def test_a_stop_signal_inside_tune_is_handed_to_tune_then_raised_when_fit_returns() -> None:
    asked: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda s, f: asked.append(s))
    try:
        with StopSignals(), pytest.raises(JobInterrupted) as info, tune_phase():
            assert os.environ["TUNE_DISABLE_SIGINT_HANDLER"] == "1"
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):
                pass
            assert asked == [signal.SIGUSR1]  # Tune's graceful stop, no exception yet
        assert info.value.signal_name == "SIGTERM"
    finally:
        signal.signal(signal.SIGUSR1, previous)
    raise_if_stopped()  # no active catcher any more: nothing to raise


def test_run_now_does_not_call_a_refused_deploy_a_success() -> None:
    rec = {"run_id": "r1", "outcome": "succeeded", "gate": {"passed": False, "reasons": ["PBO 0.7 > 0.5"]}}
    text = _run_text(rec)
    assert "succeeded" not in text and "gate refused" in text and "PBO 0.7 > 0.5" in text
    ok = {"run_id": "r1", "outcome": "succeeded", "gate": {"passed": True, "reasons": []}}
    assert _run_text(ok) == "run r1: succeeded"
