"""Stopping a job: SIGINT, SIGTERM or SIGKILL mid-phase, then ``--resume``; two jobs at once.

Each job is the real CLI (``demo``: the mini config on generated candles) run
by ``standin_driver.py`` with the cheap stand-in trainable, each split slowed
so the signal lands mid-phase. A stopped job must not start a later phase, its
report must say ``interrupted`` and its exit code be ``128 + signal``;
``--resume`` must then finish exactly the missing trials (same trial ids, the
finished ones not re-run).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from cappuccino_ray.run_files import (
    PHASE1_DIR,
    PHASE1_WINNER_FILE,
    PHASE2_COMPARISON_FILE,
    PHASE2_DIR,
    TRAINING_REPORT_FILE,
)
from cappuccino_ray.search.reaper import start_time
from cappuccino_ray.search.results import rows_from_experiment
from cappuccino_ray.search.rows import ITERATION_ROW
from tests.python_run import REPO, child_env, run_cli

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
PHASE1_TRIALS = 8  # mini: 2 holding times x 2 intervals x 2 trials
PHASE2_TRIALS = 4  # mini: 2 algorithms x 2 trials


def start(results: Path, sleep_s: float, *extra: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, str(HERE / "standin_driver.py"), str(sleep_s), "demo"]
    cmd += ["--config", str(REPO / "configs"), "--results", str(results), "--quiet", *extra]
    return subprocess.Popen(
        cmd, cwd=results.parent, env=child_env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip


def run_dirs(results: Path) -> list[Path]:
    return sorted(p for p in results.glob("*_mini_*") if p.is_dir()) if results.is_dir() else []


def finished(exp: Path) -> set[str]:
    """Trial folders the experiment state records as finished."""
    if not exp.is_dir():
        return set()
    return {f"trial_{r.trial_id}" for r in rows_from_experiment(exp) if r.status == "TERMINATED"}


def _pids() -> set[int]:
    return {int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()}


def _ray_processes(existing: set[int]) -> list[str]:
    """Command lines of running Ray processes that were not there in ``existing``."""
    out = []
    for pid in _pids() - existing:
        if start_time(pid) is None:  # ended (or a zombie)
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith("ray::") or "/ray/" in cmd:
            out.append(cmd[:80])
    return out


def reports(exp: Path) -> dict[str, int]:
    """Trial folder -> number of split results it reported (learning-curve rows left out)."""
    out = {}
    for result in exp.glob("trial_*/result.json"):
        # Rows without a kind are split rows (the stand-in trainable's); text, not json:
        # SIGKILL can cut the last row short.
        rows = [x for x in result.read_text().splitlines() if x.strip()]
        out[result.parent.name] = sum(f'"result_kind": "{ITERATION_ROW}"' not in x for x in rows)
    return out


def wait_for(proc: subprocess.Popen[str], cond: object, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        assert proc.poll() is None, f"the job ended before the signal: {proc.communicate()[1][-2000:]}"
        time.sleep(0.2)
    raise AssertionError("the job never reached the point to stop it")


def stop(proc: subprocess.Popen[str], sig: int, *, group: bool) -> tuple[int, str]:
    (os.killpg if group else os.kill)(proc.pid, sig)
    try:
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode, err


def resume(results: Path) -> subprocess.CompletedProcess[str]:
    proc = start(results, 0.0, "--resume")
    out, err = proc.communicate(timeout=240)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def check_complete(
    run: Path, before1: dict[str, int], before2: dict[str, int], done_before: set[str]
) -> None:
    rows1 = rows_from_experiment(run / PHASE1_DIR)
    assert len(rows1) == PHASE1_TRIALS and len({r.trial_id for r in rows1}) == PHASE1_TRIALS
    assert Counter(r.combination for r in rows1) == {"3d/1h": 2, "3d/4h": 2, "7d/1h": 2, "7d/4h": 2}
    assert all(r.status == "TERMINATED" for r in rows1)
    rows2 = rows_from_experiment(run / PHASE2_DIR)
    assert Counter(r.config["algo"] for r in rows2) == {"ppo": 2, "ddqn": 2}
    assert all(r.status == "TERMINATED" for r in rows2)
    after1, after2 = reports(run / PHASE1_DIR), reports(run / PHASE2_DIR)
    for before, after in ((before1, after1), (before2, after2)):
        assert set(before) <= set(after)  # the interrupted trials kept their ids
        for name, n in before.items():
            if name in done_before:
                assert after[name] == n, f"{name} finished before the stop and was run again"
            else:
                # An unfinished trial continues after its last finished split; a split row
                # logged but not in Tune's snapshot is reported again, so it may repeat.
                assert after[name] >= n
    report = json.loads((run / TRAINING_REPORT_FILE).read_text())
    assert report["status"] == "completed"
    assert report["trial_counts"]["phase1"] == PHASE1_TRIALS
    assert report["trial_counts"]["phase2"] == PHASE2_TRIALS


@pytest.mark.parametrize(
    ("sig", "group", "code"),
    [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)],
    ids=["sigint-group", "sigterm"],
)
def test_stop_in_phase1_stops_the_job_then_resume_finishes_it(
    tmp_path: Path, sig: int, group: bool, code: int
) -> None:
    results = tmp_path / "results"
    proc = start(results, 2.0)
    wait_for(
        proc,
        lambda: len(run_dirs(results)) == 1 and sum(reports(run_dirs(results)[0] / PHASE1_DIR).values()) >= 3,
    )
    rc, err = stop(proc, sig, group=group)
    assert rc == code, err[-2000:]
    assert err.strip().splitlines()[-1].startswith(f"interrupted ({signal.Signals(sig).name})")
    assert "Traceback" not in err
    (run,) = run_dirs(results)
    report = json.loads((run / TRAINING_REPORT_FILE).read_text())
    assert (report["status"], report["stopped_in"]) == ("interrupted", "phase 1")
    assert not (run / PHASE1_DIR / PHASE1_WINNER_FILE).exists(), "phase 1 was summarised after the stop"
    assert not (run / PHASE2_DIR).exists(), "phase 2 started after the stop"
    before1 = reports(run / PHASE1_DIR)
    done_before = finished(run / PHASE1_DIR)
    assert len(done_before) < PHASE1_TRIALS

    done = resume(results)
    assert done.returncode == 0, done.stderr[-2000:]
    assert run_dirs(results) == [run]
    check_complete(run, before1, {}, done_before)
    check_relative_queries(results.parent, run)


def check_relative_queries(cwd: Path, run: Path) -> None:
    """``results RUN`` and ``report`` with the default, relative ``results/`` folder."""
    for argv in (["results", run.name], ["report"]):
        proc = run_cli(*argv, cwd=cwd, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        if argv[0] == "results":
            assert f"({PHASE1_TRIALS + PHASE2_TRIALS} trials)" in proc.stdout
        else:
            assert proc.stdout.strip().endswith(f"{run.name}/report.html")


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGKILL, -9)], ids=["sigterm", "sigkill"]
)
def test_stop_in_phase2_keeps_phase1_and_resume_finishes_phase2(tmp_path: Path, sig: int, code: int) -> None:
    results = tmp_path / "results"
    existing = _pids()
    proc = start(results, 2.5)

    def in_phase2() -> bool:
        runs = run_dirs(results)
        return bool(runs) and any((runs[0] / PHASE2_DIR).glob("trial_*/params.json"))

    wait_for(proc, in_phase2, timeout=180)
    time.sleep(1.0)  # into the first split of the first phase-2 trials
    rc, _ = stop(proc, sig, group=False)  # SIGKILL of the job alone, as the OOM killer does
    assert rc == code
    (run,) = run_dirs(results)
    assert (run / PHASE1_DIR / PHASE1_WINNER_FILE).is_file()
    assert not (run / PHASE2_DIR / PHASE2_COMPARISON_FILE).exists()
    if sig != signal.SIGKILL:
        report = json.loads((run / TRAINING_REPORT_FILE).read_text())
        assert (report["status"], report["stopped_in"]) == ("interrupted", "phase 2")
    # Ray's processes end with the job, SIGKILL included (its agents alone would linger a minute).
    deadline = time.monotonic() + 10
    while (left := _ray_processes(existing)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"Ray processes outlived the job by 10 s: {left}"
    before1, before2 = reports(run / PHASE1_DIR), reports(run / PHASE2_DIR)
    done_before = finished(run / PHASE1_DIR) | finished(run / PHASE2_DIR)
    assert len(finished(run / PHASE2_DIR)) < PHASE2_TRIALS

    done = resume(results)
    assert done.returncode == 0, done.stderr[-2000:]
    assert reports(run / PHASE1_DIR) == before1, "phase 1 ran again on resume"
    check_complete(run, before1, before2, done_before)


def test_two_simultaneous_runs_get_two_folders_and_resume_refuses_a_folder_in_use(tmp_path: Path) -> None:
    results = tmp_path / "results"
    a = start(results, 0.5)
    b = start(results, 0.5)
    wait_for(
        a, lambda: len(run_dirs(results)) == 2 and all((r / "run.lock").is_file() for r in run_dirs(results))
    )
    busy = resume(results)  # same config: it picks the newest folder, which a job holds
    assert busy.returncode == 2
    assert busy.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "in use by pid" in busy.stderr and "Traceback" not in busy.stderr
    for proc in (a, b):
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-2000:]
    runs = run_dirs(results)
    assert len(runs) == 2
    for run in runs:
        rows = rows_from_experiment(run / PHASE1_DIR)
        assert len(rows) == PHASE1_TRIALS and all(r.status == "TERMINATED" for r in rows)
        assert len(list((run / PHASE1_DIR).glob("experiment_state-*.json"))) == 1
