"""The trial objective reported to Tune: named, swappable functions.

The default, ``sharpe_excess``, is the mean over test groups of (bot Sharpe
minus buy-and-hold Sharpe) minus ``std_penalty`` times the *population*
standard deviation (``ddof=0``) of the bot's Sharpe over the same groups. The
population form is defined from the first test group on, so a trial can report
after its first split.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from cappuccino_ray.errors import ConfigError
from cappuccino_ray.validation._metrics import SegmentMetrics

__all__ = ["OBJECTIVES", "Objective", "get_objective", "objective", "sharpe_excess", "sharpe_stable"]


class Objective(Protocol):
    """A trial objective: higher is better."""

    def __call__(
        self,
        bot: Sequence[SegmentMetrics],
        benchmark: Sequence[SegmentMetrics],
        *,
        std_penalty: float = 0.1,
    ) -> float:
        """Score a trial from its per-test-group metrics and the benchmark's."""
        ...


def _sharpes(metrics: Sequence[SegmentMetrics]) -> np.ndarray:
    return np.array([m.sharpe for m in metrics], dtype=np.float64)


def sharpe_excess(
    bot: Sequence[SegmentMetrics],
    benchmark: Sequence[SegmentMetrics],
    *,
    std_penalty: float = 0.1,
) -> float:
    """Mean excess Sharpe over buy-and-hold, less a penalty on its dispersion.

    Args:
        bot: The bot's metrics, one per test group.
        benchmark: Buy-and-hold's metrics on the same groups, same order.
        std_penalty: Weight of the bot Sharpe's population std.

    Returns:
        ``mean(bot.sharpe - bh.sharpe) - std_penalty * std(bot.sharpe, ddof=0)``.

    Raises:
        ConfigError: If the lists are empty or of different lengths.

    Example:
        >>> from dataclasses import replace
        >>> m = SegmentMetrics(*([0.0] * 9), 0, 0, 10)
        >>> bot = [replace(m, sharpe=1.0), replace(m, sharpe=3.0)]
        >>> bh = [replace(m, sharpe=0.5), replace(m, sharpe=0.5)]
        >>> sharpe_excess(bot, bh, std_penalty=0.1)
        1.4
    """
    if not bot or len(bot) != len(benchmark):
        raise ConfigError(
            f"need the same non-zero number of bot and benchmark groups, got {len(bot)} and {len(benchmark)}"
        )
    s = _sharpes(bot)
    return float(np.mean(s - _sharpes(benchmark)) - std_penalty * np.std(s, ddof=0))


def sharpe_stable(
    bot: Sequence[SegmentMetrics],
    benchmark: Sequence[SegmentMetrics],
    *,
    std_penalty: float = 0.1,
) -> float:
    """Mean bot Sharpe less the dispersion penalty, ignoring the benchmark.

    Args:
        bot: The bot's metrics, one per test group.
        benchmark: Unused; kept for the common signature.
        std_penalty: Weight of the bot Sharpe's population std.

    Returns:
        ``mean(bot.sharpe) - std_penalty * std(bot.sharpe, ddof=0)``.
    """
    del benchmark
    if not bot:
        raise ConfigError("need at least one test group to score a trial")
    s = _sharpes(bot)
    return float(np.mean(s) - std_penalty * np.std(s, ddof=0))


#: Registered objectives by name; the config's ``objective`` key picks one.
OBJECTIVES: dict[str, Objective] = {
    "sharpe_excess": sharpe_excess,
    "sharpe_stable": sharpe_stable,
}


def get_objective(name: str) -> Objective:
    """Look up a registered objective by name.

    Raises:
        ConfigError: If no objective has that name.
    """
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise ConfigError(f"unknown objective {name!r}; use one of {', '.join(sorted(OBJECTIVES))}") from None


def objective(
    bot: Sequence[SegmentMetrics],
    benchmark: Sequence[SegmentMetrics],
    *,
    name: str = "sharpe_excess",
    std_penalty: float = 0.1,
) -> float:
    """Score a trial with the named objective.

    Args:
        bot: The bot's metrics, one per test group.
        benchmark: Buy-and-hold's metrics on the same groups.
        name: A key of :data:`OBJECTIVES`.
        std_penalty: Weight of the dispersion penalty.

    Returns:
        The objective value (higher is better).
    """
    return get_objective(name)(bot, benchmark, std_penalty=std_penalty)
