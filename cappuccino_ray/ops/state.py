"""The scheduler's persistent state, written atomically, and the single-daemon lock.

The state file (``logs/scheduler_state.json``) holds the status (``idle``,
``running`` or ``stopped``), the current run, the next run and a history of
runs (start, end, duration, outcome, winner, report path, gate decision,
deployment). It survives restarts. A run left ``running`` by a process that
died is turned into a ``failed`` history entry by :func:`recover_stale_run`,
called by whoever next takes the lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cappuccino_ray.atomic import write_json_atomic
from cappuccino_ray.errors import CappuccinoError

__all__ = [
    "OpsPaths",
    "SchedulerLock",
    "SchedulerState",
    "check_state",
    "now_utc",
    "pid_alive",
    "read_json",
    "recover_stale_run",
    "start_detached",
    "terminate",
]

STATE_VERSION = 1


def now_utc() -> datetime:
    """The current time, aware, in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def read_json(path: str | Path) -> Any:
    """Read a JSON file; raise :class:`CappuccinoError` naming the file if it is corrupt."""
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CappuccinoError(f"{p}: not valid JSON ({exc}); move it aside and retry") from exc
    except IsADirectoryError as exc:
        raise CappuccinoError(f"{p}: is a folder, expected a JSON file; move it aside and retry") from exc


def pid_alive(pid: int | None) -> bool:
    """True if a process with ``pid`` exists (zombies count as dead)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def start_detached(
    cmd: list[str],
    log: Path,
    what: str,
    is_up: Callable[[int], bool],
    *,
    wait_s: float,
    cwd: Path | None = None,
    may_finish: bool = False,
) -> int:
    """Start ``cmd`` detached (its output appended to ``log``) and wait until ``is_up(pid)``.

    Args:
        cmd: The command line.
        log: The log file its stdout and stderr go to.
        what: What it is, for messages ("the scheduler").
        is_up: Whether the process with this PID holds its lock (it is up).
        wait_s: How long to wait.
        cwd: Its working directory.
        may_finish: A clean exit before it is seen up counts as started (a short job).

    Returns:
        Its PID.

    Raises:
        CappuccinoError: If it exits at start (the log's last lines say why) or is not up in time.
    """
    import subprocess

    with log.open("a") as fh:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
        )
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            if may_finish and proc.returncode == 0:
                return proc.pid
            tail = log.read_text(errors="replace").splitlines()[-5:]
            raise CappuccinoError(f"{what} exited at start (code {proc.returncode}): " + " | ".join(tail))
        if is_up(proc.pid):
            return proc.pid
        time.sleep(0.1)
    raise CappuccinoError(f"{what} did not come up within {wait_s:g} s; see {log}")


def terminate(pid: int, what: str, *, wait_s: float) -> int:
    """SIGTERM ``pid`` and wait until it has exited; return the PID.

    Raises:
        CappuccinoError: If it is still alive after ``wait_s`` seconds (``what`` names it).
    """
    import signal
    import time

    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return pid
        time.sleep(0.1)
    raise CappuccinoError(f"{what} (PID {pid}) did not stop within {wait_s:g} s; kill it by hand")


@dataclass(frozen=True)
class OpsPaths:
    """Where the scheduler keeps its files, all under ``logs_dir``."""

    logs_dir: Path

    @property
    def state(self) -> Path:
        """The state JSON file."""
        return self.logs_dir / "scheduler_state.json"

    @property
    def pid(self) -> Path:
        """The daemon's PID file."""
        return self.logs_dir / "scheduler.pid"

    @property
    def lock(self) -> Path:
        """The lock file held (``flock``) by the process that runs jobs."""
        return self.logs_dir / "scheduler.lock"

    @property
    def daemon_log(self) -> Path:
        """The daemon's log."""
        return self.logs_dir / "scheduler.log"

    @property
    def notifications(self) -> Path:
        """Append-only JSON lines of run events."""
        return self.logs_dir / "notifications.jsonl"

    @property
    def runs(self) -> Path:
        """Per-run job logs."""
        return self.logs_dir / "runs"


class SchedulerLock:
    """An exclusive, non-blocking ``flock`` on the lock file: one job runner at a time.

    The kernel drops the lock when its holder dies, so a killed daemon never
    blocks the next one.
    """

    def __init__(self, path: Path) -> None:
        """Prepare (not take) the lock at ``path``."""
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock; False if another process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        """Drop the lock if held."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def is_locked_elsewhere(self) -> bool:
        """True if some other process holds the lock now (does not keep it)."""
        if self.held:
            return False
        if self.acquire():
            self.release()
            return False
        return True

    @contextlib.contextmanager
    def hold(self) -> Iterator[bool]:
        """Context manager yielding whether the lock was taken; released on exit."""
        ok = self.acquire()
        try:
            yield ok
        finally:
            if ok:
                self.release()


#: Keys of the state file and the JSON types each may hold (``None`` allowed for all but the history).
_STATE_TYPES: dict[str, tuple[type, ...]] = {
    "version": (int,),
    "status": (str,),
    "daemon_pid": (int, type(None)),
    "next_run": (str, type(None)),
    "current_run": (dict, type(None)),
    "last_run": (dict, type(None)),
    "history": (list,),
    "updated_at": (str, type(None)),
}


def check_state(loaded: Any, path: Path) -> None:
    """Refuse a state file whose top level or known keys have the wrong JSON type.

    Raises:
        CappuccinoError: Naming the file, the key and the fix.
    """
    fix = "fix it or move it aside (the scheduler then starts a fresh state)"
    if not isinstance(loaded, dict):
        raise CappuccinoError(f"{path}: holds a JSON {type(loaded).__name__}, not an object; {fix}")
    for key, types_ in _STATE_TYPES.items():
        if key in loaded and (not isinstance(loaded[key], types_) or isinstance(loaded[key], bool)):
            want = " or ".join("null" if t is type(None) else t.__name__ for t in types_)
            raise CappuccinoError(
                f"{path}: {key!r} is {type(loaded[key]).__name__} {loaded[key]!r:.40}, expected {want}; {fix}"
            )
    bad = [i for i, r in enumerate(loaded.get("history") or []) if not isinstance(r, dict)]
    if bad:
        raise CappuccinoError(f"{path}: history entry {bad[0]} is not an object; {fix}")


class SchedulerState:
    """The state file as a dict with typed helpers; every change is saved atomically."""

    def __init__(self, path: Path, history_limit: int = 200) -> None:
        """Load the state at ``path`` (a fresh state if there is none)."""
        self.path = path
        self.history_limit = history_limit
        self.data: dict[str, Any] = self._fresh()
        self.reload()

    @staticmethod
    def _fresh() -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "status": "stopped",
            "daemon_pid": None,
            "next_run": None,
            "current_run": None,
            "last_run": None,
            "history": [],
        }

    def save(self) -> None:
        """Write the state atomically."""
        self.data["updated_at"] = now_utc().isoformat()
        write_json_atomic(self.path, self.data)

    def reload(self) -> None:
        """Re-read the file (another process may have written it).

        Raises:
            CappuccinoError: If the file is not a JSON object of the expected shape (it is
                never silently replaced by a fresh state: that would lose the history).
        """
        if self.path.exists():
            loaded = read_json(self.path)
            check_state(loaded, self.path)
            self.data = self._fresh() | loaded

    def start_run(self, run: dict[str, Any]) -> None:
        """Mark ``run`` (with ``run_id``, ``started_at``, ``owner_pid``) as running and save."""
        self.data["status"] = "running"
        self.data["current_run"] = run
        self.save()

    def update_current(self, **fields: Any) -> None:
        """Add fields (e.g. the job's PID) to the current run and save."""
        if self.data.get("current_run") is not None:
            self.data["current_run"].update(fields)
            self.save()

    def finish_run(self, record: dict[str, Any]) -> None:
        """Append ``record`` to the history, clear the current run, go ``idle`` and save."""
        history: list[dict[str, Any]] = list(self.data.get("history") or [])
        history.append(record)
        self.data["history"] = history[-self.history_limit :]
        self.data["last_run"] = record
        self.data["current_run"] = None
        self.data["status"] = "idle"
        self.save()

    @property
    def history(self) -> list[dict[str, Any]]:
        """Finished runs, oldest first."""
        return list(self.data.get("history") or [])

    def success_rate(self) -> float | None:
        """Fraction of finished runs whose outcome is ``succeeded`` (None when there are none)."""
        h = self.history
        if not h:
            return None
        return sum(1 for r in h if r.get("outcome") == "succeeded") / len(h)


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [p.decode(errors="replace") for p in raw.split(b"\0") if p]


def recover_stale_run(state: SchedulerState) -> dict[str, Any] | None:
    """Record a run left ``running`` by a dead process as failed, and stop its orphaned job.

    Only call this while holding the scheduler lock (then no live process owns
    the run). The orphaned job, if its PID still runs the recorded command, is
    sent SIGTERM (its whole process group). The recorded reason names the dead owner.
    :meth:`cappuccino_ray.ops.runner.JobRunner.recover_stale` also sends the
    ``run_failed`` notification.

    Args:
        state: The loaded state.

    Returns:
        The failure record added to the history, or None if nothing was stale.
    """
    run = state.data.get("current_run")
    if state.data.get("status") != "running" or not run:
        if state.data.get("status") == "running":
            state.data["status"] = "idle"
            state.save()
        return None
    job_pid = run.get("job_pid")
    killed = False
    if job_pid and pid_alive(job_pid) and _cmdline(job_pid) == run.get("command"):
        with contextlib.suppress(OSError):
            os.killpg(job_pid, signal.SIGTERM)
            killed = True
        for _ in range(50):
            if not pid_alive(job_pid):
                break
            time.sleep(0.1)
    finished = now_utc()
    started = _parse_time(run.get("started_at")) or finished
    owner = run.get("owner_pid")
    record = dict(run)
    record.update(
        {
            "finished_at": finished.isoformat(),
            "duration_s": (finished - started).total_seconds(),
            "outcome": "failed",
            "reason": f"interrupted: the scheduler process {owner} died during the run"
            + ("; its orphaned job was stopped" if killed else ""),
        }
    )
    state.finish_run(record)
    return record


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
