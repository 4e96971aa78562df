"""Fee models: the rate a fill pays, from the account's trailing 30-day USD volume.

Every model is a tier table (a flat model is one tier). The compiled step
(:mod:`cappuccino_ray.env.kernel`) reads it one account at a time, and
``rates(volume_30d) -> FeeRates`` for a batch of ``B`` accounts (arrays of
shape ``(B,)``), both through the same function. The tier is the one in
force when the order is placed; the core passes the trailing volume of
fills over the previous window, plus the starting volume.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from cappuccino_ray.config.env import EnvSettings, FeeSchedule
from cappuccino_ray.env.kernel import fee_rates_batch
from cappuccino_ray.errors import ConfigError

__all__ = ["FeeModel", "FeeRates", "FlatFees", "TieredFees", "build_fee_model"]


@dataclass(frozen=True)
class FeeRates:
    """Rates in force for a batch of accounts.

    Attributes:
        rate: Rate ordinary fills pay (maker or taker, per the liquidity setting), ``(B,)``.
        taker: Taker rate (forced sales), ``(B,)``.
        tier: Index of the tier in force, ``(B,)`` int.
    """

    rate: np.ndarray
    taker: np.ndarray
    tier: np.ndarray


@runtime_checkable
class FeeModel(Protocol):
    """What the core asks of a fee model: a tier table the compiled step reads."""

    @property
    def table(self) -> np.ndarray:
        """``(3, K)`` float64: tier thresholds (ascending, the first 0), ordinary rates, taker rates."""
        ...

    @property
    def progressive(self) -> bool:
        """Whether rates interpolate between tiers (else each tier's rates hold up to the next)."""
        ...

    def rates(self, volume_30d: np.ndarray) -> FeeRates:
        """Rates for accounts with the given trailing 30-day USD volume, shape ``(B,)``."""
        ...


class _TableFees:
    """Rates read off a tier table by the same compiled function the core's step uses."""

    table: np.ndarray
    progressive: bool

    def rates(self, volume_30d: np.ndarray) -> FeeRates:
        """Rates for each account's volume."""
        volume = np.ascontiguousarray(volume_30d, dtype=np.float64)
        b = volume.shape[0]
        rate, taker, tier = np.empty(b), np.empty(b), np.empty(b, dtype=np.int64)
        fee_rates_batch(self.table, self.progressive, volume, rate, taker, tier)
        return FeeRates(rate=rate, taker=taker, tier=tier)


class FlatFees(_TableFees):
    """One maker and one taker rate whatever the volume (tier 0 always).

    Args:
        maker: Maker rate as a fraction (0.006 = 0.60 %).
        taker: Taker rate; defaults to ``maker``.
        liquidity: Which rate ordinary fills pay.
    """

    def __init__(
        self,
        maker: float = 0.006,
        taker: float | None = None,
        *,
        liquidity: Literal["maker", "taker"] = "maker",
    ) -> None:
        """Store the rates after checking they lie in [0, 0.5)."""
        taker = maker if taker is None else taker
        for name, v in (("maker", maker), ("taker", taker)):
            if not 0.0 <= v < 0.5:
                raise ConfigError(f"flat {name} fee {v} is outside [0, 0.5); give a fraction, 0.006 = 0.60 %")
        self.maker = float(maker)
        self.taker = float(taker)
        self.liquidity = liquidity
        rate = self.maker if liquidity == "maker" else self.taker
        self.table = np.array([[0.0], [rate], [self.taker]])
        self.progressive = False


class TieredFees(_TableFees):
    """Maker/taker rates from a tier table of trailing 30-day volume thresholds.

    ``static`` mode pays the rate of the tier the volume falls in.
    ``progressive`` mode interpolates linearly between the tier's rate (at
    its threshold) and the next tier's rate (at the next threshold); above
    the last threshold it pays the last tier's rate.

    Args:
        schedule: The tier table.
        liquidity: Which rate ordinary fills pay.
        mode: ``static`` or ``progressive``.
    """

    def __init__(
        self,
        schedule: FeeSchedule,
        *,
        liquidity: Literal["maker", "taker"] = "maker",
        mode: Literal["static", "progressive"] = "static",
    ) -> None:
        """Precompute the threshold and rate arrays."""
        if mode not in ("static", "progressive"):
            raise ConfigError(f"fee mode {mode!r} is unknown; use 'static' or 'progressive'")
        if liquidity not in ("maker", "taker"):
            raise ConfigError(f"fee liquidity {liquidity!r} is unknown; use 'maker' or 'taker'")
        self.schedule = schedule
        self.liquidity = liquidity
        self.mode = mode
        self.thresholds = np.array([t.min_volume_usd for t in schedule.tiers], dtype=np.float64)
        self.maker = np.array([t.maker for t in schedule.tiers], dtype=np.float64)
        self.taker = np.array([t.taker for t in schedule.tiers], dtype=np.float64)
        rate = self.maker if liquidity == "maker" else self.taker
        self.table = np.ascontiguousarray(np.stack([self.thresholds, rate, self.taker]))
        self.progressive = mode == "progressive"


def build_fee_model(settings: EnvSettings) -> FeeModel:
    """The fee model the settings describe (the tier table is the settings' own ``fee_schedule``)."""
    if settings.fee_model == "flat":
        return FlatFees(settings.flat_fee, settings.flat_taker_fee, liquidity=settings.fee_liquidity)
    return TieredFees(settings.fee_schedule, liquidity=settings.fee_liquidity, mode=settings.fee_mode)
