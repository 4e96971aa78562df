"""The detached daemon through the CLI: start, status, run-now, stop, and a kill -9 mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from cappuccino_ray.ops.state import pid_alive

FAKE_JOB = str(Path(__file__).parent / "ops_fake_job.py")
REPO = Path(__file__).resolve().parents[2]


def cli(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    base = ["--schedule-config", str(tmp / "schedule.yaml"), "--deploy-config", str(tmp / "deploy.yaml")]
    return subprocess.run(
        [sys.executable, "-m", "cappuccino_ray", *args, *base, "--env-file", str(tmp / ".env.training")],
        cwd=tmp, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def state(tmp: Path) -> dict[str, Any]:
    p = tmp / "logs" / "scheduler_state.json"
    return json.loads(p.read_text()) if p.is_file() else {}


def wait_for(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.fixture
def ops_dir(tmp_path: Path) -> Iterator[Path]:
    cmd = ["{python}", FAKE_JOB, "--run-dir", "{run_dir}", "--run-id", "{run_id}", "--sleep", "0.0"]
    sched = {"schedule": "weekly", "command": cmd, "max_data_age_hours": 0, "poll_seconds": 0.2}
    (tmp_path / "schedule.yaml").write_text(yaml.safe_dump(sched))
    (tmp_path / "deploy.yaml").write_text(yaml.safe_dump({"notify": {"webhook": False}}))
    yield tmp_path
    pid_file = tmp_path / "logs" / "scheduler.pid"
    if pid_file.is_file():  # never leave a daemon behind
        pid = int(pid_file.read_text())
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_daemon_start_status_run_now_stop(ops_dir: Path) -> None:
    out = cli(ops_dir, "scheduler", "start")
    assert out.returncode == 0, out.stderr
    pid = int((ops_dir / "logs" / "scheduler.pid").read_text())
    again = cli(ops_dir, "scheduler", "start")
    assert again.returncode == 2 and "already running" in again.stderr
    st = json.loads(cli(ops_dir, "scheduler", "status", "--json").stdout)
    assert st["running"] and st["pid"] == pid and st["next_run"]
    assert "asked the running scheduler" in cli(ops_dir, "scheduler", "run-now").stdout
    wait_for(lambda: len(state(ops_dir).get("history", [])) == 1 and state(ops_dir)["status"] == "idle")
    text = cli(ops_dir, "scheduler", "status").stdout
    assert (
        "running (PID" in text
        and "succeeded" in text
        and "100% of 1 runs" in text
        and "deployed:    2" in text
    )
    assert cli(ops_dir, "deploy", "list").stdout.startswith("* ")
    stop = cli(ops_dir, "scheduler", "stop")
    assert stop.returncode == 0 and f"PID {pid}" in stop.stdout
    assert not pid_alive(pid)
    assert state(ops_dir)["status"] == "stopped" and not (ops_dir / "logs" / "scheduler.pid").exists()
    assert "not running" in cli(ops_dir, "scheduler", "status").stdout
    assert "scheduler started" in (ops_dir / "logs" / "scheduler.log").read_text()


def test_daemon_killed_mid_run_is_recovered_on_next_start(ops_dir: Path) -> None:
    sched = yaml.safe_load((ops_dir / "schedule.yaml").read_text())
    sched["command"] = [c if c != "0.0" else "60" for c in sched["command"]]
    (ops_dir / "schedule.yaml").write_text(yaml.safe_dump(sched))
    assert cli(ops_dir, "scheduler", "start").returncode == 0
    pid = int((ops_dir / "logs" / "scheduler.pid").read_text())
    cli(ops_dir, "scheduler", "run-now")
    wait_for(lambda: bool((state(ops_dir).get("current_run") or {}).get("job_pid")))
    job_pid = state(ops_dir)["current_run"]["job_pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid))
    assert pid_alive(job_pid)  # the orphaned job still runs
    assert state(ops_dir)["status"] == "running"  # what the dead daemon left behind
    out = cli(ops_dir, "scheduler", "start")
    assert out.returncode == 0, out.stderr
    wait_for(lambda: state(ops_dir).get("status") == "idle")
    last = state(ops_dir)["last_run"]
    assert last["outcome"] == "failed" and "died during the run" in last["reason"]
    assert "orphaned job was stopped" in last["reason"]
    wait_for(lambda: not pid_alive(job_pid))
    assert cli(ops_dir, "scheduler", "stop").returncode == 0


def test_stop_during_a_run_records_it_as_cancelled(ops_dir: Path) -> None:
    sched = yaml.safe_load((ops_dir / "schedule.yaml").read_text())
    sched["command"] = [c if c != "0.0" else "60" for c in sched["command"]]
    (ops_dir / "schedule.yaml").write_text(yaml.safe_dump(sched))
    assert cli(ops_dir, "scheduler", "start").returncode == 0
    cli(ops_dir, "scheduler", "run-now")
    wait_for(lambda: bool((state(ops_dir).get("current_run") or {}).get("job_pid")))
    job_pid = state(ops_dir)["current_run"]["job_pid"]
    assert cli(ops_dir, "scheduler", "stop").returncode == 0
    assert not pid_alive(job_pid)
    s = state(ops_dir)
    assert s["status"] == "stopped" and s["last_run"]["outcome"] == "failed"
    assert "scheduler was stopped" in s["last_run"]["reason"]
