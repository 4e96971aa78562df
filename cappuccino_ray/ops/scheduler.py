"""The scheduler daemon and its controls: start, stop, status, run-now, show-schedule.

One process at a time runs jobs: it holds an ``flock`` on
``logs/scheduler.lock`` (the kernel releases it if the process dies) and
writes its PID to ``logs/scheduler.pid``. ``start`` spawns a detached
``cappuccino-ray scheduler start --foreground`` in its own session, logging to
``logs/scheduler.log``. SIGTERM stops it cleanly (a running job is stopped
and recorded as failed); SIGUSR1 asks it to run now. On start, a run left
``running`` by a dead process is recorded as failed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

from cappuccino_ray.config._loader import load_config
from cappuccino_ray.config.ops import DeployConfig, ScheduleConfig
from cappuccino_ray.errors import CappuccinoError
from cappuccino_ray.ops.deploy import Deployer
from cappuccino_ray.ops.runner import DataClock, JobRunner
from cappuccino_ray.ops.schedule import apply_env_training, build_schedule, env_notification, upcoming
from cappuccino_ray.ops.state import (
    OpsPaths,
    SchedulerLock,
    SchedulerState,
    now_utc,
    pid_alive,
    start_detached,
    terminate,
)

__all__ = [
    "OpsSettings",
    "Scheduler",
    "load_settings",
    "run_now",
    "show_schedule",
    "spawn_daemon",
    "status",
    "stop_daemon",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpsSettings:
    """Everything the scheduler needs, resolved from the config files and ``.env.training``."""

    schedule: ScheduleConfig
    deploy: DeployConfig
    root: Path
    schedule_path: Path | None = None
    deploy_path: Path | None = None
    env_file: Path | None = None

    @property
    def paths(self) -> OpsPaths:
        """Scheduler file locations."""
        logs = Path(self.schedule.logs_dir)
        return OpsPaths(logs if logs.is_absolute() else self.root / logs)

    def deployer(self) -> Deployer:
        """The deployer for ``deploy.deployments_dir``."""
        d = Path(self.deploy.deployments_dir)
        return Deployer(d if d.is_absolute() else self.root / d, required_files=self.deploy.required_files)


def load_settings(
    schedule_path: str | Path | None = "configs/schedule.yaml",
    deploy_path: str | Path | None = "configs/deploy.yaml",
    env_file: str | Path | None = ".env.training",
    *,
    root: str | Path = ".",
    environ: Mapping[str, str] | None = None,
) -> OpsSettings:
    """Load both ops configs and apply ``.env.training`` / ``TWO_PHASE_*`` overrides.

    A missing file gives the defaults (``None`` skips a file). Relative paths
    are resolved from ``root``.
    """
    base = Path(root).resolve()

    def rel(p: str | Path | None) -> Path | None:
        return None if p is None else (Path(p) if Path(p).is_absolute() else base / p)

    sp, dp, ef = rel(schedule_path), rel(deploy_path), rel(env_file)
    # exists(), not is_file(): a folder in the file's place is an error, not the defaults
    sched = load_config(ScheduleConfig, sp) if sp and sp.exists() else ScheduleConfig()
    dep = load_config(DeployConfig, dp) if dp and dp.exists() else DeployConfig()
    sched = apply_env_training(sched, ef, environ)
    webhook = env_notification(dep.notify.webhook, ef, environ)
    dep = replace(dep, notify=replace(dep.notify, webhook=webhook))
    return OpsSettings(sched, dep, base, sp, dp, ef)


class Scheduler:
    """The daemon loop: sleeps until the next run (or a run-now signal), runs, repeats."""

    def __init__(
        self,
        settings: OpsSettings,
        *,
        data_clock: DataClock | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """Prepare the daemon (nothing starts until :meth:`serve`)."""
        self.settings = settings
        self.paths = settings.paths
        self.schedule = build_schedule(settings.schedule)
        self.runner = JobRunner(
            settings.schedule, settings.deploy, root=settings.root, data_clock=data_clock, environ=environ
        )
        self.state = SchedulerState(self.paths.state, settings.schedule.history_limit)
        self.lock = SchedulerLock(self.paths.lock)
        self._wake = threading.Event()
        self._run_requested = False

    def request_stop(self) -> None:
        """Ask the loop (and a running job) to stop."""
        self.runner.stop_event.set()
        self._wake.set()

    def request_run(self) -> None:
        """Ask the loop to run now."""
        self._run_requested = True
        self._wake.set()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGUSR1:
            self.request_run()
        else:
            log.info("signal %d: stopping", signum)
            self.request_stop()

    def serve(self, *, max_runs: int | None = None) -> int:
        """Run the daemon loop in this process until stopped.

        Args:
            max_runs: Stop after this many runs (for tests); None runs forever.

        Returns:
            The number of runs made.

        Raises:
            CappuccinoError: If another scheduler holds the lock.
        """
        if not self.lock.acquire():
            raise CappuccinoError(
                f"another scheduler is already running (PID file {self.paths.pid}); "
                "stop it with `cappuccino-ray scheduler stop`"
            )
        runs = 0
        try:
            self.paths.pid.write_text(f"{os.getpid()}\n")
            if threading.current_thread() is threading.main_thread():
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
                    signal.signal(sig, self._on_signal)
            self.state.reload()
            self.runner.recover_stale(self.state)
            self.state.data.update(status="idle", daemon_pid=os.getpid())
            log.info("scheduler started: %s", self.schedule.describe())
            while not self.runner.stop_event.is_set():
                nxt = self.schedule.next_after(now_utc()) if self.settings.schedule.enabled else None
                self.state.data.update(status="idle", next_run=nxt.isoformat() if nxt else None)
                self.state.save()
                if not self._sleep_until(nxt):
                    continue
                trigger = "manual" if self._run_requested else "schedule"
                self._run_requested = False
                record = self.runner.run_once(self.state, trigger=trigger)
                log.info("run %s %s %s", record["run_id"], record["outcome"], record.get("reason", ""))
                runs += 1
                if max_runs is not None and runs >= max_runs:
                    break
        finally:
            self.state.data.update(status="stopped", daemon_pid=None)
            self.state.save()
            with contextlib.suppress(FileNotFoundError):
                self.paths.pid.unlink()
            self.lock.release()
            log.info("scheduler stopped")
        return runs

    def _sleep_until(self, when: datetime | None) -> bool:
        """Sleep until ``when``, a run request or a stop; True when a run is due."""
        poll = self.settings.schedule.poll_seconds
        while not self.runner.stop_event.is_set():
            if self._run_requested:
                return True
            now = now_utc()
            if when is not None and now >= when:
                return True
            left = poll if when is None else min(poll, (when - now).total_seconds())
            self._wake.wait(timeout=max(0.01, left))
            self._wake.clear()
        return False


# -- controls used by the CLI ----------------------------------------------------------------------
def _daemon_pid(paths: OpsPaths) -> int | None:
    """The PID of a live daemon (lock held and PID file pointing at a live process), else None."""
    if not SchedulerLock(paths.lock).is_locked_elsewhere():
        return None
    try:
        pid = int(paths.pid.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def spawn_daemon(settings: OpsSettings, *, wait_s: float = 15.0) -> int:
    """Start the daemon as a detached process; return its PID once it holds the lock.

    Raises:
        CappuccinoError: If one is already running or the new one exits at start.
    """
    paths = settings.paths
    running = _daemon_pid(paths)
    if running:
        raise CappuccinoError(f"the scheduler is already running (PID {running}); stop it first")
    paths.logs_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "cappuccino_ray", "scheduler", "start", "--foreground"]
    for flag, p in (
        ("--schedule-config", settings.schedule_path),
        ("--deploy-config", settings.deploy_path),
        ("--env-file", settings.env_file),
    ):
        if p is not None:
            cmd += [flag, str(p)]
    return start_detached(
        cmd,
        paths.daemon_log,
        "the scheduler",
        lambda pid: _daemon_pid(paths) == pid,
        wait_s=wait_s,
        cwd=settings.root,
    )


def stop_daemon(settings: OpsSettings, *, wait_s: float = 60.0) -> int | None:
    """SIGTERM the daemon and wait for it to exit; return its PID, or None if none ran."""
    paths = settings.paths
    pid = _daemon_pid(paths)
    if pid is None:
        with contextlib.suppress(FileNotFoundError):
            paths.pid.unlink()
        return None
    return terminate(pid, "the scheduler", wait_s=wait_s)


def run_now(settings: OpsSettings, *, data_clock: DataClock | None = None) -> dict[str, Any]:
    """Signal a running daemon to run now, or (none running) run once in this process.

    Returns:
        ``{"signalled": pid}`` or the finished run's record.
    """
    paths = settings.paths
    pid = _daemon_pid(paths)
    if pid is not None:
        os.kill(pid, signal.SIGUSR1)
        return {"signalled": pid}
    sched = Scheduler(settings, data_clock=data_clock)
    if not sched.lock.acquire():
        raise CappuccinoError("another process is running a job right now; wait for it to finish")
    try:
        sched.state.reload()
        sched.runner.recover_stale(sched.state)
        return sched.runner.run_once(sched.state, trigger="manual")
    finally:
        sched.state.data["status"] = "stopped"
        sched.state.save()
        sched.lock.release()


def status(settings: OpsSettings, *, now: datetime | None = None) -> dict[str, Any]:
    """What ``scheduler status`` shows: daemon, next run, last run, success rate, deployment."""
    paths = settings.paths
    state = SchedulerState(paths.state, settings.schedule.history_limit)
    pid = _daemon_pid(paths)
    lock = SchedulerLock(paths.lock)
    if pid is None and state.data.get("status") == "running":
        with lock.hold() as ok:
            if ok:
                JobRunner(settings.schedule, settings.deploy, root=settings.root).recover_stale(state)
    last = state.data.get("last_run") or {}
    schedule = build_schedule(settings.schedule)
    nxt: str | None = state.data.get("next_run") if pid else None
    if nxt is None and settings.schedule.enabled:
        nxt = schedule.next_after(now or now_utc()).isoformat()
    dep = settings.deployer()
    cur = dep.current_id()
    current: dict[str, Any] | None = None
    if cur:
        m = dep.show(cur)
        current = {k: m.get(k) for k in ("id", "algorithm", "interval", "holding_days", "deployed_at")}
    rate = state.success_rate()
    return {
        "running": pid is not None,
        "pid": pid,
        "status": state.data.get("status") if pid else "stopped",
        "current_run": state.data.get("current_run") if pid else None,
        "schedule": schedule.describe(),
        "enabled": settings.schedule.enabled,
        "mode": settings.schedule.mode,
        "next_run": nxt,
        "last_run": {
            k: last.get(k) for k in ("run_id", "started_at", "duration_s", "outcome", "reason", "deployed")
        }
        if last
        else None,
        "runs": len(state.history),
        "success_rate": rate,
        "current_deployment": current,
    }


def show_schedule(settings: OpsSettings, n: int = 5) -> list[datetime]:
    """The next ``n`` run times from now (aware, in the schedule's time zone)."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(settings.schedule.timezone)
    return [t.astimezone(tz) for t in upcoming(build_schedule(settings.schedule), n, now_utc())]
