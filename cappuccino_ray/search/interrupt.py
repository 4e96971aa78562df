"""Stop signals: Ctrl-C (SIGINT) and SIGTERM stop the whole job, not just the running Tune phase.

Tune's own SIGINT handler ends the running ``Tuner.fit`` gracefully and then
returns as if the phase were done, so the job would go on to the next phase
and report success. Inside :class:`StopSignals` both signals are caught here
instead: during a Tune phase the first one is handed to Tune's graceful stop
(through the SIGUSR1 handler Tune always installs; ``TUNE_DISABLE_SIGINT_HANDLER``
keeps Tune off SIGINT), and once ``fit`` returns :func:`raise_if_stopped` raises
:class:`JobInterrupted`, so no later phase starts. Outside a Tune phase, or on a
second signal, :class:`JobInterrupted` is raised at once. The pipeline records
``status: interrupted`` and the CLI exits ``128 + signal`` (130, 143).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = ["JobInterrupted", "StopSignals", "raise_if_stopped", "tune_phase"]

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class JobInterrupted(KeyboardInterrupt):
    """The job was stopped by a signal; ``exit_code`` is ``128 + signum`` (130 for SIGINT, 143 for SIGTERM).

    A ``KeyboardInterrupt`` subclass, so ``except Exception`` blocks do not swallow it.
    """

    def __init__(self, signum: int) -> None:
        """Record the signal number."""
        self.signum = int(signum)
        super().__init__(signal.Signals(self.signum).name)

    @property
    def exit_code(self) -> int:
        """The shell convention for a process ended by the signal."""
        return 128 + self.signum

    @property
    def signal_name(self) -> str:
        """``SIGINT`` or ``SIGTERM``."""
        return signal.Signals(self.signum).name


class StopSignals:
    """Catch SIGINT and SIGTERM for the life of a job (main thread only; elsewhere a no-op)."""

    _current: StopSignals | None = None

    def __init__(self) -> None:
        """A catcher that has seen no signal yet."""
        self.signum: int | None = None
        self._in_tune = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        """Install the handlers."""
        if threading.current_thread() is threading.main_thread():
            for sig in _STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
            StopSignals._current = self
        return self

    def __exit__(self, *exc: object) -> None:
        """Put the previous handlers back."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
        if StopSignals._current is self:
            StopSignals._current = None

    @classmethod
    def reclaim(cls) -> None:
        """Put the active catcher's handlers back after a library replaced them.

        ``ray.init`` installs its own SIGTERM handler (``sys.exit``), which would turn
        SIGTERM into a plain exit with no report; call this right after it.
        """
        cur = cls._current
        if cur is not None and threading.current_thread() is threading.main_thread():
            for sig in _STOP_SIGNALS:
                signal.signal(sig, cur._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
        if first and self._in_tune:
            tune_stop = signal.getsignal(signal.SIGUSR1) if hasattr(signal, "SIGUSR1") else None
            if callable(tune_stop):
                print(
                    f"\n{signal.Signals(signum).name}: stopping the job after Tune saves its state "
                    "(send it again to stop at once)",
                    flush=True,
                )
                tune_stop(signal.SIGUSR1, frame)
                return
        raise JobInterrupted(signum)


def raise_if_stopped() -> None:
    """Raise :class:`JobInterrupted` if the active :class:`StopSignals` caught a signal."""
    cur = StopSignals._current
    if cur is not None and cur.signum is not None:
        raise JobInterrupted(cur.signum)


@contextmanager
def tune_phase() -> Iterator[None]:
    """Mark a ``Tuner.fit`` call: a first stop signal then ends the phase gracefully.

    Without an active :class:`StopSignals` this changes nothing (Tune keeps its own SIGINT handler).
    """
    cur = StopSignals._current
    if cur is None:
        yield
        return
    raise_if_stopped()
    old = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    cur._in_tune = True
    try:
        yield
    finally:
        cur._in_tune = False
        if old is None:
            os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER", None)
        else:
            os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = old
    raise_if_stopped()
