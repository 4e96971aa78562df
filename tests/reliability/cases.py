"""The shape of a corpus case and the helpers that build candle files, command lines and phase documents."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "FULL",
    "MINI",
    "WINNER",
    "Case",
    "Files",
    "candles_csv",
    "data_import",
    "phase2_only",
    "row",
    "winner_doc",
]

Files = Mapping[str, bytes | str | None]


@dataclass(frozen=True)
class Case:
    """One bad input or fault."""

    id: str
    """Test id: ``<area>-<what>``."""
    argv: tuple[str, ...]
    """The command line (``{ws}`` is replaced by the workspace path)."""
    expect: tuple[str, ...]
    """Words the stderr line must contain (case-insensitive)."""
    files: Files = field(default_factory=dict)
    """Workspace files to write (``None`` deletes) before the command."""
    code: int = 2
    """Expected exit code."""
    warning: bool = False
    """The line is a warning (``warning: ...``) and the command still succeeds."""
    setup: Callable[[Path], None] | None = None
    """Extra workspace preparation."""
    max_s: float = 8.0
    """Time limit: refused at load, without starting Ray."""


# -- helpers ------------------------------------------------------------------------------------------

HEADER = "timestamp,open,high,low,close,volume"


def candles_csv(n: int = 48, *, rows: Mapping[int, str] | None = None, header: str = HEADER) -> str:
    """``n`` hourly candles from 2024-01-01 as CSV; ``rows`` replaces data row ``i`` (0-based) verbatim."""
    lines = [header] if header else []
    for i in range(n):
        day, hour = divmod(i, 24)
        ts = f"2024-01-{day + 1:02d}T{hour:02d}:00:00Z"
        price = 100.0 + (i % 7)
        line = f"{ts},{price},{price + 2},{price - 2},{price + 1},{10 + i}"
        lines.append((rows or {}).get(i, line))
    return "\n".join(lines) + "\n"


def row(i: int, o: str = "100", h: str = "102", lo: str = "98", c: str = "101", v: str = "10") -> str:
    day, hour = divmod(i, 24)
    return f"2024-01-{day + 1:02d}T{hour:02d}:00:00Z,{o},{h},{lo},{c},{v}"


def data_import(name: str, *extra: str) -> tuple[str, ...]:
    return ("data", "import", name, "--store", "store", *extra)


MINI = ("run", "--mini", "--quiet")
FULL = ("run", "--quiet")
WINNER = {
    "holding_days": 3,
    "interval": "1h",
    "algo": "ppo",
    "hyperparameters": {"lr": 3e-5},
    "checkpoint_path": None,
}


def winner_doc(**changes: object) -> str:
    return json.dumps({**WINNER, **changes})


def phase2_only(path: str) -> tuple[str, ...]:
    return (*MINI, "--phase2-only", "--phase1-results", path)
