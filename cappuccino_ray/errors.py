"""The project's exception hierarchy: one root, one subclass per concern.

The CLI turns any :class:`CappuccinoError` into one readable line and a
non-zero exit code; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "CappuccinoError",
    "ConfigError",
    "DataError",
    "DeployError",
    "TrainingError",
    "brief",
]


class CappuccinoError(Exception):
    """Root of every error the project raises on purpose."""


class ConfigError(CappuccinoError, ValueError):
    """A configuration file, key or value is wrong; the message says how to fix it."""


class DataError(CappuccinoError, ValueError):
    """Market data is missing, malformed or inconsistent."""


class TrainingError(CappuccinoError, RuntimeError):
    """Training diverged, crashed or could not start."""


class DeployError(CappuccinoError, RuntimeError):
    """A deployment could not be made, loaded or rolled back."""


def brief(exc: BaseException) -> str:
    """An exception's first line for a one-line message (a library's own may run to many lines)."""
    text = str(exc)
    return text.splitlines()[0] if text.strip() else type(exc).__name__
