"""Run folders: created exclusively, locked while a job uses them, and checked for failed trials.

Two jobs started in the same second get two folders: the folder is made with an
exclusive ``mkdir`` and, if the name is taken, ``-2``, ``-3``, ... is added to
the time stamp. A job holds an exclusive ``flock`` on ``run.lock`` in its folder
for as long as it runs (the kernel drops it when the process ends, even on
SIGKILL), so ``--resume`` refuses a folder another job is still using.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from cappuccino_ray import storage
from cappuccino_ray.errors import ConfigError, TrainingError
from cappuccino_ray.storage import Location

__all__ = [
    "RUN_LOCK_FILE",
    "RunFailedError",
    "RunLock",
    "check_trial_failures",
    "find_run_dir",
    "first_trial_error",
    "make_run_dir",
]

#: The lock file a running job holds in its run folder.
RUN_LOCK_FILE = "run.lock"
#: A phase whose share of errored trials is above this is a failed run.
MAX_FAILED_SHARE = 0.5
_NAME = re.compile(r"^(\d{8}-\d{6})(?:-(\d+))?_")


class RunFailedError(TrainingError):
    """Most trials of a phase failed; the run is not completed (exit code 3)."""


def _order(path: Path) -> tuple[str, int, str]:
    m = _NAME.match(path.name)
    if m is None:
        return ("", 0, path.name)
    return (m.group(1), int(m.group(2) or 1), path.name)


def find_run_dir(results_dir: Location, mode: str, digest: str) -> Location | None:
    """The newest run folder of ``mode`` and config hash ``digest``, if any (local or a storage URI)."""
    names = sorted(storage.list_dirs(results_dir, f"*_{mode}_{digest}"), key=lambda n: _order(Path(n)))
    return storage.child(results_dir, names[-1]) if names else None


def make_run_dir(results_dir: Location, mode: str, digest: str, now: dt.datetime) -> Location:
    """Create a new, unique run folder ``<YYYYmmdd-HHMMSS>[-N]_<mode>_<digest>`` (exclusive ``mkdir``).

    On a storage URI (an object store has no folders to create exclusively) the name
    is the first one not listed yet.

    Raises:
        ConfigError: If ``results_dir`` cannot hold folders (e.g. it is a regular file).
    """
    stamp = f"{now:%Y%m%d-%H%M%S}"
    if not isinstance(results_dir, Path):
        taken = set(storage.list_dirs(results_dir, f"{stamp}*_{mode}_{digest}"))
        n = next(k for k in range(1, 10_000) if _run_name(stamp, k, mode, digest) not in taken)
        return storage.child(results_dir, _run_name(stamp, n, mode, digest))
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise ConfigError(f"--results {results_dir}: not a folder; pass a folder for the runs") from exc
    for n in range(1, 1000):
        name = _run_name(stamp, n, mode, digest)
        try:
            (results_dir / name).mkdir()
        except FileExistsError:
            continue
        return results_dir / name
    raise ConfigError(f"{results_dir}: 999 runs started in the same second; wait a second and retry")


def _run_name(stamp: str, n: int, mode: str, digest: str) -> str:
    return f"{stamp}_{mode}_{digest}" if n == 1 else f"{stamp}-{n}_{mode}_{digest}"


class RunLock:
    """An exclusive, non-blocking ``flock`` on ``<run_dir>/run.lock`` held while the job runs."""

    def __init__(self, run_dir: Path) -> None:
        """Lock ``run_dir`` (see :meth:`acquire`)."""
        self.path = Path(run_dir) / RUN_LOCK_FILE
        self._fh: IO[str] | None = None

    def acquire(self) -> RunLock:
        """Take the lock.

        Raises:
            ConfigError: If another process holds it.
        """
        fh = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise ConfigError(
                f"{self.path.parent}: in use by {holder}; wait for that job to end "
                "(or stop it) before --resume"
            ) from exc
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}\n")
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        """Drop the lock (the file stays; it is empty of meaning without a holder)."""
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> RunLock:
        """Acquire."""
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        """Release."""
        self.release()


def first_trial_error(experiment_path: str | Path) -> str | None:
    """The last line of the first failed trial's ``error.txt`` in an experiment folder (or URI), if any."""
    for trial in storage.list_dirs(experiment_path):
        raw = storage.read_bytes(storage.join(experiment_path, trial, "error.txt"))
        lines = [ln.strip() for ln in (raw or b"").decode("utf-8", errors="replace").splitlines()]
        lines = [ln for ln in lines if ln]
        if lines:
            return f"{trial}: {lines[-1]}"
    return None


def check_trial_failures(
    trial_counts: Mapping[str, Mapping[str, Any]], phase: str, experiment_path: str | Path
) -> None:
    """Refuse a phase whose trials mostly errored (more than half), naming the first reason.

    Args:
        trial_counts: The phase document's ``trial_counts`` (combination -> status counts).
        phase: ``phase 1`` or ``phase 2``, for the message.
        experiment_path: The phase's Tune experiment folder (its trials' ``error.txt``).

    Raises:
        RunFailedError: If more than half of the phase's trials ended in ``ERROR``.
    """
    counts = trial_counts
    total = sum(int(c.get("total", 0)) for c in counts.values())
    errors = sum(int(c.get("error", 0)) for c in counts.values())
    if total and errors / total > MAX_FAILED_SHARE:
        reason = first_trial_error(experiment_path) or "see the trials' error.txt"
        raise RunFailedError(
            f"{phase}: {errors} of {total} trials failed, the run is not completed; first error: {reason}"
        )
