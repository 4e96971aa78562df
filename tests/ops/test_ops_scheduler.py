"""The scheduler's runs with a stand-in job: outcomes, gate, stale data/results, state, recovery."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cappuccino_ray.config import from_mapping
from cappuccino_ray.config.ops import DeployConfig, ScheduleConfig
from cappuccino_ray.errors import CappuccinoError
from cappuccino_ray.ops.scheduler import OpsSettings, Scheduler, run_now, status
from cappuccino_ray.ops.state import SchedulerLock, SchedulerState, recover_stale_run

FAKE_JOB = str(Path(__file__).parent / "ops_fake_job.py")


def settings(tmp: Path, behaviour: str = "good", **sched: Any) -> OpsSettings:
    command = [
        "{python}",
        FAKE_JOB,
        "--run-dir",
        "{run_dir}",
        "--run-id",
        "{run_id}",
        "--behaviour",
        behaviour,
    ]
    sched.setdefault("command", command)
    s = from_mapping(ScheduleConfig, {"max_data_age_hours": 0, **sched}, source="t")
    d = from_mapping(
        DeployConfig, {"required_files": ["rllib_checkpoint.json"], "notify": {"webhook": False}}, source="t"
    )
    return OpsSettings(s, d, tmp)


def run(tmp: Path, behaviour: str = "good", **kw: Any) -> dict[str, Any]:
    return run_now(settings(tmp, behaviour, **kw))


def events(tmp: Path) -> list[str]:
    return [json.loads(x)["event"] for x in (tmp / "logs" / "notifications.jsonl").read_text().splitlines()]


def test_successful_run_is_gated_deployed_recorded_and_notified(tmp_path: Path) -> None:
    rec = run(tmp_path)
    assert rec["outcome"] == "succeeded", rec.get("reason")
    assert rec["gate"]["passed"] and rec["deployed"]
    assert rec["winner"]["algorithm"] == "ppo" and rec["pipeline_run_id"] == rec["run_id"]
    assert Path(rec["report_path"]).is_file() and rec["duration_s"] >= 0
    assert os.readlink(tmp_path / "deployments" / "current") == rec["deployed"]
    assert events(tmp_path) == ["run_started", "gate_passed", "deployed", "run_finished"]
    st = status(settings(tmp_path))
    assert not st["running"] and st["success_rate"] == 1.0 and st["runs"] == 1
    assert st["last_run"]["outcome"] == "succeeded"
    assert st["current_deployment"]["id"] == rec["deployed"]
    # State survives a restart: a fresh object reads the same history.
    state = SchedulerState(tmp_path / "logs" / "scheduler_state.json")
    assert state.history[-1]["run_id"] == rec["run_id"] and state.data["status"] == "stopped"


def test_failing_gate_is_recorded_and_current_deployment_stays(tmp_path: Path) -> None:
    first = run(tmp_path)
    rec = run(tmp_path, "bad_gate")
    assert rec["outcome"] == "succeeded" and rec["deployed"] is None
    assert not rec["gate"]["passed"] and any("pbo" in r for r in rec["gate"]["reasons"])
    assert os.readlink(tmp_path / "deployments" / "current") == first["deployed"]
    assert events(tmp_path)[-2:] == ["gate_failed", "run_finished"]
    assert status(settings(tmp_path))["success_rate"] == 1.0


def test_auto_deploy_off_only_records_the_gate(tmp_path: Path) -> None:
    rec = run(tmp_path, auto_deploy=False)
    assert rec["gate"]["passed"] and rec["deployed"] is None
    assert not (tmp_path / "deployments" / "current").exists()


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ("fail", "exited with code 3"),
        ("no_report", "wrote no report"),
        ("stale", "not the run just made"),
    ],
)
def test_failed_or_stale_runs_never_deploy(tmp_path: Path, behaviour: str, reason: str) -> None:
    rec = run(tmp_path, behaviour)
    assert rec["outcome"] == "failed" and reason in rec["reason"]
    assert not (tmp_path / "deployments" / "current").exists()
    assert events(tmp_path) == ["run_started", "run_failed"]
    assert status(settings(tmp_path))["success_rate"] == 0.0


def test_report_search_ignores_reports_from_earlier_runs(tmp_path: Path) -> None:
    # Without {run_dir}: the newest fresh report under results/ is used, never an older one.
    old = tmp_path / "results" / "old"
    old.mkdir(parents=True)
    (old / "two_phase_training_report.json").write_text("{}")
    past = (datetime.now() - timedelta(days=3)).timestamp()
    os.utime(old / "two_phase_training_report.json", (past, past))
    cmd = ["{python}", "-c", "print('job that writes nothing')"]
    rec = run(tmp_path, command=cmd)
    assert rec["outcome"] == "failed" and "no new two_phase_training_report.json" in rec["reason"]
    cmd2 = ["{python}", FAKE_JOB, "--run-dir", str(tmp_path / "results" / "r2"), "--run-id", "r2"]
    rec2 = run(tmp_path, command=cmd2)
    assert rec2["outcome"] == "succeeded", rec2.get("reason")
    assert rec2["report_path"].endswith("r2/two_phase_training_report.json")
    # The same report is not picked up twice.
    rec3 = run(tmp_path, command=cmd)
    assert rec3["outcome"] == "failed"


def test_stale_data_is_refused_with_a_reason_and_the_job_never_runs(tmp_path: Path) -> None:
    s = settings(tmp_path, max_data_age_hours=24)
    last = datetime.now(UTC) - timedelta(hours=30)
    rec = run_now(s, data_clock=lambda: last)
    assert rec["outcome"] == "failed"
    assert "stale data" in rec["reason"] and "30.0 h old" in rec["reason"]
    assert "command" not in rec
    fresh = run_now(s, data_clock=lambda: datetime.now(UTC) - timedelta(hours=2))
    assert fresh["outcome"] == "succeeded", fresh.get("reason")


def test_data_refresh_runs_first_and_its_failure_stops_the_run(tmp_path: Path) -> None:
    marker = tmp_path / "refreshed"
    ok = settings(tmp_path, refresh_command=["{python}", "-c", f"open({str(marker)!r}, 'w').write('x')"])
    assert run_now(ok)["outcome"] == "succeeded"
    assert marker.exists()
    bad = settings(tmp_path, refresh_command=["{python}", "-c", "raise SystemExit(5)"])
    rec = run_now(bad)
    assert rec["outcome"] == "failed" and "data refresh exited with code 5" in rec["reason"]


def test_refresh_defaults_to_a_download_for_store_data(tmp_path: Path) -> None:
    from cappuccino_ray.ops.runner import JobRunner

    (tmp_path / "store.yaml").write_text("source: store\n")
    (tmp_path / "synthetic.yaml").write_text("source: synthetic\n")
    s = settings(tmp_path, data_config="store.yaml")
    cmd = JobRunner(s.schedule, s.deploy, root=tmp_path).refresh_command()
    assert cmd == [
        sys.executable,
        "-m",
        "cappuccino_ray",
        "data",
        "download",
        "--config",
        str(tmp_path / "store.yaml"),
    ]
    for kw in ({"data_config": "synthetic.yaml"}, {"data_config": "store.yaml", "refresh": False}):
        s = settings(tmp_path, **kw)
        assert JobRunner(s.schedule, s.deploy, root=tmp_path).refresh_command() == []


def test_unknown_placeholder_fails_the_run_with_a_reason(tmp_path: Path) -> None:
    rec = run(tmp_path, command=["{python}", "-c", "print({x})"])
    assert rec["outcome"] == "failed" and "unknown placeholder" in rec["reason"]


def leave_a_dead_run(s: OpsSettings) -> None:
    """Write a state whose current run belongs to a process that has exited."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    SchedulerState(s.paths.state).start_run(
        {"run_id": "r-dead", "started_at": datetime.now(UTC).isoformat(), "owner_pid": int(dead.stdout)}
    )


def test_a_run_left_running_by_a_dead_process_is_recorded_as_failed(tmp_path: Path) -> None:
    s = settings(tmp_path)
    leave_a_dead_run(s)
    st = status(s)  # status notices the stale run (nobody holds the lock) and records it
    assert st["status"] == "stopped" and st["last_run"]["outcome"] == "failed"
    assert "died during the run" in st["last_run"]["reason"]
    assert events(tmp_path) == ["run_failed"]  # and notifies it
    assert recover_stale_run(SchedulerState(s.paths.state)) is None  # only once
    status(s)
    assert events(tmp_path) == ["run_failed"]


def test_run_now_records_and_notifies_a_stale_run_before_its_own(tmp_path: Path) -> None:
    s = settings(tmp_path)
    leave_a_dead_run(s)
    rec = run_now(s)
    assert rec["outcome"] == "succeeded", rec.get("reason")
    history = SchedulerState(s.paths.state).history
    assert [h["run_id"] for h in history] == ["r-dead", rec["run_id"]]
    assert history[0]["outcome"] == "failed" and "died during the run" in history[0]["reason"]
    assert events(tmp_path) == ["run_failed", "run_started", "gate_passed", "deployed", "run_finished"]
    first = json.loads((tmp_path / "logs" / "notifications.jsonl").read_text().splitlines()[0])
    assert first["run_id"] == "r-dead" and "died during the run" in first["message"]


def test_two_runners_cannot_hold_the_lock(tmp_path: Path) -> None:
    s = settings(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl,os,sys,time; fd=os.open(sys.argv[1], os.O_RDWR|os.O_CREAT); "
         "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(30)",
         str(s.paths.lock)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        (tmp_path / "logs").mkdir(exist_ok=True)
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert SchedulerLock(s.paths.lock).is_locked_elsewhere()
        with pytest.raises(CappuccinoError, match="already running"):
            Scheduler(s).serve(max_runs=1)
    finally:
        holder.kill()
        holder.wait()
    assert not SchedulerLock(s.paths.lock).is_locked_elsewhere()


def test_serve_runs_on_request_then_stops(tmp_path: Path) -> None:
    sched = Scheduler(settings(tmp_path, enabled=False, poll_seconds=0.05))
    sched.request_run()
    assert sched.serve(max_runs=1) == 1
    state = SchedulerState(tmp_path / "logs" / "scheduler_state.json")
    assert state.data["status"] == "stopped" and state.history[-1]["trigger"] == "manual"
    assert not (tmp_path / "logs" / "scheduler.pid").exists()


class SoonSchedule:
    """A schedule whose next run is at ``when``, then a day after any later time."""

    def __init__(self, when: datetime) -> None:
        self.when = when

    def next_after(self, after: datetime) -> datetime:
        return self.when if after < self.when else after + timedelta(days=1)

    def describe(self) -> str:
        return f"once at {self.when.isoformat()} (test)"


def test_serve_fires_on_schedule(tmp_path: Path) -> None:
    sched = Scheduler(settings(tmp_path, poll_seconds=0.05))
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    sched.schedule = SoonSchedule(when)
    assert sched.serve(max_runs=1) == 1  # no run was requested: only the schedule can fire it
    state = SchedulerState(tmp_path / "logs" / "scheduler_state.json")
    last = state.history[-1]
    assert last["trigger"] == "schedule" and last["outcome"] == "succeeded", last.get("reason")
    assert datetime.fromisoformat(last["started_at"]) >= when  # not before its time
    assert state.data["next_run"] == when.isoformat() and state.data["status"] == "stopped"


def test_sleep_until_wakes_when_due_and_on_stop(tmp_path: Path) -> None:
    # A cron firing every minute: the next run is within a minute; a time already due wakes the
    # sleeper at once, and a stop ends the wait for a run that is not yet due.
    s = settings(tmp_path, schedule="cron", cron="* * * * *", poll_seconds=0.05)
    sched = Scheduler(s)
    nxt = sched.schedule.next_after(datetime.now(UTC))
    assert nxt - datetime.now(UTC) <= timedelta(minutes=1)
    assert sched._sleep_until(datetime.now(UTC) - timedelta(seconds=1)) is True
    sched.request_stop()
    assert sched._sleep_until(nxt) is False
