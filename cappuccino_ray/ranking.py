"""How trials are named by combination and ranked: one rule for the search, the report and the CLI.

A trial's score is the mean objective over the CPCV splits it finished. A trial
scored on every split beats one ASHA stopped early, whatever their objectives:
the full trial's objective averages more test periods and is less likely a
lucky draw. Among trials scored on the same number of splits, the higher
objective wins. The search (``phase1_winner.json``), ``cappuccino-ray results``
and the HTML report all pick with :func:`best_of` and order with :func:`ranked`.

It sits at the package's top level, below both ``search`` and ``report``, so
that both import it downwards. No Ray import: the report and the CLI use it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, TypeVar

__all__ = ["Scored", "best_of", "combo_label", "finite_or_none", "holding_days", "rank_key", "ranked"]


class Scored(Protocol):
    """Anything with a trial's objective and the CPCV splits it was scored on."""

    @property
    def objective(self) -> float | None:
        """The mean objective over the splits done; ``None`` or not finite when unscored."""

    @property
    def splits_done(self) -> int:
        """CPCV splits the objective was taken over."""


T = TypeVar("T", bound=Scored)


def holding_days(config: Mapping[str, Any]) -> float | None:
    """The holding limit (days) of a trial config or combination: its ``env``'s ``max_hold_days``."""
    env = config.get("env")
    return finite_or_none(env.get("max_hold_days")) if isinstance(env, Mapping) else None


def combo_label(combo: Mapping[str, Any]) -> str:
    """A short readable name of a combination or trial config, e.g. ``"7d/1h"`` or ``"ppo"``.

    Phase-2 trials (``phase: 2``) compete by algorithm, so they are named by it.
    """
    if combo.get("phase") == 2 and "algo" in combo:
        return str(combo["algo"])
    parts = []
    days = holding_days(combo)
    if days is not None:
        parts.append(f"{days:g}d")
    if "interval" in combo:
        parts.append(str(combo["interval"]))
    if "algo" in combo and not parts:
        parts.append(str(combo["algo"]))
    return "/".join(parts) or "all"


def finite_or_none(value: Any) -> float | None:
    """``value`` as a float if it is a finite number (not a bool), else ``None``."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def rank_key(objective: float | None, splits_done: int, full_splits: int) -> tuple[bool, float]:
    """Sort key of a trial, higher is better: scored on ``full_splits`` first, then the objective.

    Args:
        objective: The trial's objective; ``None`` or not finite ranks last.
        splits_done: CPCV splits the trial was scored on.
        full_splits: The most splits any compared trial was scored on.
    """
    value = objective if objective is not None and math.isfinite(objective) else -math.inf
    return (splits_done >= full_splits, value)


def ranked(trials: Iterable[T]) -> list[T]:
    """The trials with a finite objective, best first (see the module docstring)."""
    scored = [t for t in trials if finite_or_none(t.objective) is not None]
    full = max((t.splits_done for t in scored), default=0)
    return sorted(scored, key=lambda t: rank_key(t.objective, t.splits_done, full), reverse=True)


def best_of(trials: Iterable[T]) -> T | None:
    """The highest objective among the trials scored on the most splits; ``None`` if none is scored."""
    order = ranked(trials)
    return order[0] if order else None
