"""The watchdog of an embedded Ray: a job killed with SIGKILL leaves no Ray process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cappuccino_ray.search.reaper import kill_left, ray_descendants, start_time
from tests.python_run import child_env

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the watchdog reads /proc")

# A stand-in job: starts its watchdog, then two long-lived children in sessions of their own
# (so a SIGKILL of the job's group does not reach them): one named like Ray's, one not.
JOB = """
import subprocess, sys, time
from cappuccino_ray.search.reaper import start_watchdog
start_watchdog()
sleep = [sys.executable, "-c", "import time; time.sleep(300)"]
ray_like = subprocess.Popen([*sleep, "ray::DashboardAgent"], start_new_session=True)
other = subprocess.Popen([*sleep, "a user's own program"], start_new_session=True)
print(ray_like.pid, other.pid, flush=True)
time.sleep(300)
"""


def _alive(pid: int) -> bool:
    return start_time(pid) is not None


def _wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("group", [False, True], ids=["job-pid", "job-group"])
def test_a_killed_job_leaves_no_ray_process_and_nothing_else_is_touched(group: bool) -> None:
    cmd = [sys.executable, "-c", JOB]
    job = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=child_env(), start_new_session=True)
    assert job.stdout is not None
    ray_like, other = map(int, job.stdout.readline().split())
    try:
        time.sleep(1.0)  # the watchdog lists the job's Ray processes every 0.5 s
        assert set(ray_descendants(job.pid)) >= {ray_like}
        assert other not in ray_descendants(job.pid)  # not named like Ray
        (os.killpg if group else os.kill)(job.pid, signal.SIGKILL)
        job.wait()
        assert _wait_gone(ray_like, 5.0), "the Ray-named child outlived the job by 5 s"
        assert _alive(other), "the watchdog killed a process that is not Ray's"
    finally:
        for pid in (ray_like, other):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if job.poll() is None:
            job.kill()


def test_a_job_that_ends_normally_takes_its_watchdog_with_it() -> None:
    code = "from cappuccino_ray.search.reaper import start_watchdog; print(start_watchdog().pid)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env())
    assert _wait_gone(int(out.stdout), 5.0)


def test_only_processes_still_named_like_ray_are_killed() -> None:
    """A process listed while it showed a Ray-named command line, but not named so now, is spared."""
    sleep = [sys.executable, "-c", "import time; time.sleep(300)"]
    ray_like = subprocess.Popen([*sleep, "ray::IDLE"])
    other = subprocess.Popen([*sleep, "a user's own program"])
    try:
        for proc in (ray_like, other):  # wait for the exec: until then the command line is this test's
            deadline = time.monotonic() + 5.0
            while (
                time.monotonic() < deadline
                and b"time.sleep" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes()
            ):
                time.sleep(0.01)
        listed = {p.pid: start_time(p.pid) for p in (ray_like, other)}  # as if both had been listed
        assert kill_left({ray_like.pid: listed[ray_like.pid] + 1}) == 0  # another start time: another process
        assert _alive(ray_like.pid)
        assert kill_left(listed) == 1
        assert _wait_gone(ray_like.pid, 5.0) and _alive(other.pid)
    finally:
        for proc in (ray_like, other):
            proc.kill()
            proc.wait()
