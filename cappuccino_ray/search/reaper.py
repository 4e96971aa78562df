"""A watchdog that ends an embedded Ray's processes when the job dies without shutting it down.

After SIGKILL of the job, Ray's GCS, raylet and workers end within a second, but
its dashboard agent and runtime-env agent first report the raylet's death to
the GCS, which is gone, and Ray waits 60 s for that call (a fixed timeout in
``ray._private.utils.publish_error_to_driver``): they linger a minute, holding
ports and memory. So a job that starts its own local Ray also starts this
watchdog, in a session of its own (a SIGKILL of the job's process group leaves
it running). It records the job's Ray processes (descendants whose command line
names Ray) every half second. Once the job is gone it gives them a second to
end by themselves, then kills those still alive and still named like Ray; a
process is identified by PID *and* start time, so a PID the system has given
to another program since is never hit, and its command line is read again
before the kill, so a child listed between its fork and its exec (when it
still shows the job's command line) is spared. A job that ends normally has
shut its Ray down, so there is nothing left to kill, and the watchdog exits
with it.

It reads ``/proc``, so it runs on Linux only; elsewhere it is not started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["kill_left", "ray_descendants", "start_time", "start_watchdog", "watch"]

_PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, int] | None:
    """``(parent PID, start time)`` of a running process; None if it is gone or a zombie."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces and parentheses
    if fields[0] in ("Z", "X"):  # dead, not yet reaped by its parent
        return None
    return int(fields[1]), int(fields[19])


def start_time(pid: int) -> int | None:
    """The start time of a running process (``/proc/PID/stat`` field 22), or None if it has ended."""
    stat = _stat(pid)
    return None if stat is None else stat[1]


def _names_ray(pid: int) -> bool:
    try:
        return b"ray" in (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return False


def ray_descendants(root: int) -> dict[int, int]:
    """The live descendants of ``root`` whose command line names Ray: PID -> start time."""
    children: dict[int, list[tuple[int, int]]] = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                children.setdefault(stat[0], []).append((int(entry.name), stat[1]))
    out: dict[int, int] = {}
    stack = [root]
    me = os.getpid()
    while stack:
        for pid, start in children.get(stack.pop(), []):
            if pid not in out and pid != me:  # the watchdog is the job's child too
                stack.append(pid)
                if _names_ray(pid):
                    out[pid] = start
    return out


def watch(job: int, job_start: int, *, period_s: float = 0.5, grace_s: float = 1.0) -> int:
    """Follow ``job`` until it ends, then kill the Ray processes it left behind.

    Args:
        job: The job's PID.
        job_start: Its start time (``/proc/PID/stat`` field 22), so a reused PID is not followed.
        period_s: How often the job's Ray processes are listed.
        grace_s: How long they may take to end by themselves once the job is gone.

    Returns:
        How many processes were killed.
    """
    known: dict[int, int] = {}
    while start_time(job) == job_start:
        known.update(ray_descendants(job))
        time.sleep(period_s)
    deadline = time.monotonic() + grace_s
    left = known
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = {pid: start for pid, start in left.items() if start_time(pid) == start}
    return kill_left(left)


def kill_left(left: dict[int, int]) -> int:
    """SIGKILL each ``PID -> start time`` that is still that process and still names Ray.

    A child listed between its fork and its exec shows its parent's command
    line, and the job's names Ray (``cappuccino-ray run``), so a child the
    job started for something else can be listed by mistake; its own command
    line, read again here, spares it.

    Returns:
        How many processes were killed.
    """
    killed = 0
    for pid, start in left.items():
        if start_time(pid) == start and _names_ray(pid):
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed


def start_watchdog() -> subprocess.Popen[bytes] | None:
    """Start the watchdog of this process in a session of its own (Linux; None elsewhere)."""
    me = os.getpid()
    start = start_time(me)
    if not sys.platform.startswith("linux") or start is None:
        return None
    return subprocess.Popen(  # run as a file: the standard library only, no package imports
        [sys.executable, __file__, str(me), str(start)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


if __name__ == "__main__":
    watch(int(sys.argv[1]), int(sys.argv[2]))
