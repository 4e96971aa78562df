"""Validation configuration: hold-out, CPCV splits, purge/embargo, objective, PBO."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cappuccino_ray.config._loader import bounds
from cappuccino_ray.errors import ConfigError
from cappuccino_ray.intervals import days_to_bars

if TYPE_CHECKING:
    from cappuccino_ray.validation import CombinatorialPurgedCV

__all__ = ["ValidationConfig"]


def _days_or_zero(days: float, interval: str) -> int:
    return days_to_bars(days, interval) if days > 0 else 0


@dataclass(frozen=True)
class ValidationConfig:
    """How trials are scored: hold-out, combinatorial purged CV and the objective.

    Purge and embargo are given in **days** so that one setting fits every
    interval of the time-frame search; :meth:`purge_bars` and
    :meth:`embargo_bars` convert them to bars (rounded up) and never go below
    the label horizon and the feature look-back the caller passes in.
    """

    holdout_fraction: float = field(default=0.15, metadata=bounds(ge=0.0, lt=0.9))
    """Share of the last bars held out for the deploy gate and final report."""
    n_groups: int = field(default=6, metadata=bounds(ge=2))
    """CPCV groups ``N`` the search range is cut into."""
    n_test_groups: int = field(default=2, metadata=bounds(ge=1))
    """Test groups per split ``k``: ``C(N, k)`` splits and ``C(N-1, k-1)`` paths."""
    purge_days: float = field(default=0.0, metadata=bounds(ge=0.0))
    """Least purge before each test group, in days (the label horizon is added by the caller)."""
    embargo_days: float = field(default=1.0, metadata=bounds(ge=0.0))
    """Least embargo after each test group, in days (raised to the feature look-back)."""
    objective: str = "sharpe_excess"
    """Name of the trial objective (a key of ``cappuccino_ray.validation.OBJECTIVES``)."""
    std_penalty: float = field(default=0.1, metadata=bounds(ge=0.0))
    """Weight of the bot Sharpe's std over test groups in the objective."""
    pbo_partitions: int = field(default=16, metadata=bounds(ge=2))
    """Row blocks ``S`` of the PBO's combinatorially symmetric CV (even)."""

    def validate(self) -> None:
        """Consistency rules across keys."""
        if self.n_test_groups >= self.n_groups:
            raise ConfigError(
                f"n_test_groups ({self.n_test_groups}) must be smaller than n_groups ({self.n_groups})"
            )
        if self.pbo_partitions % 2:
            raise ConfigError(f"pbo_partitions is {self.pbo_partitions}; use an even number, e.g. 16")
        from cappuccino_ray.validation._objective import OBJECTIVES  # late: avoids an import cycle

        if self.objective not in OBJECTIVES:
            raise ConfigError(f"objective is {self.objective!r}; use one of {', '.join(sorted(OBJECTIVES))}")

    def purge_bars(self, interval: str, horizon_bars: int = 1) -> int:
        """Purge in bars: the larger of ``purge_days`` and the label horizon.

        Args:
            interval: Candle interval.
            horizon_bars: Bars an observation's outcome depends on after it
                (1: an order decided on bar t fills at bar t+1).

        Returns:
            Bars dropped from training just before each test group.
        """
        return max(horizon_bars, _days_or_zero(self.purge_days, interval))

    def embargo_bars(self, interval: str, lookback_bars: int = 0) -> int:
        """Embargo in bars: the larger of ``embargo_days`` and the feature look-back.

        Args:
            interval: Candle interval.
            lookback_bars: Bars of history the features and observation window
                read (e.g. a FeatureSet's ``warmup`` plus the lookback).

        Returns:
            Bars dropped from training just after each test group.
        """
        return max(lookback_bars, _days_or_zero(self.embargo_days, interval))

    def make_cv(
        self, interval: str, *, horizon_bars: int = 1, lookback_bars: int = 0
    ) -> CombinatorialPurgedCV:
        """The :class:`~cappuccino_ray.validation.CombinatorialPurgedCV` for ``interval``.

        Args:
            interval: Candle interval.
            horizon_bars: Label horizon in bars (see :meth:`purge_bars`).
            lookback_bars: Feature look-back in bars (see :meth:`embargo_bars`).

        Returns:
            The splitter with purge and embargo in bars.
        """
        from cappuccino_ray.validation._cpcv import CombinatorialPurgedCV

        return CombinatorialPurgedCV(
            self.n_groups,
            self.n_test_groups,
            purge=self.purge_bars(interval, horizon_bars),
            embargo=self.embargo_bars(interval, lookback_bars),
        )
