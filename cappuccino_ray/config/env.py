"""Environment configuration: capital, costs, holding limit, observation and actions.

:class:`EnvSettings` is the one object that says how ``CryptoTrading-v1``
trades. ``configs/env.yaml`` holds its values (a test keeps the defaults here
equal to that file); each phase file's ``env:`` section overrides keys of it
(phase 1 flat fees, phase 2 the tier table and the rolling features), and
:func:`load_env_settings` merges the two and validates the result once, when
the command starts. The fee tiers live inside the settings
(:class:`FeeSchedule`), not in a file the settings point to, so a checkpoint
that stores its settings evaluates the same way anywhere.

Days become bars in one place: :meth:`EnvSettings.max_hold_bars`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cappuccino_ray.config._loader import bounds, from_mapping, load_yaml
from cappuccino_ray.errors import ConfigError
from cappuccino_ray.intervals import days_to_bars

__all__ = [
    "COINBASE_ADVANCED",
    "EnvSettings",
    "FeeSchedule",
    "FeeTier",
    "deep_merge",
    "load_env_settings",
]


@dataclass(frozen=True)
class FeeTier:
    """One row of a tier table: from ``min_volume_usd`` of trailing 30-day volume."""

    min_volume_usd: float = field(metadata=bounds(ge=0.0))
    """Lowest trailing 30-day USD volume of the tier."""
    maker: float = field(metadata=bounds(ge=0.0, lt=0.5))
    """Maker rate as a fraction (0.006 = 0.60 %)."""
    taker: float = field(metadata=bounds(ge=0.0, lt=0.5))
    """Taker rate as a fraction."""


#: Coinbase Advanced Trade spot tiers (trailing 30-day USD volume -> maker / taker).
#: Exchanges change their schedules: check the exchange's current table before relying on results.
_COINBASE_TIERS = (
    FeeTier(0.0, 0.0060, 0.0120),
    FeeTier(10_000.0, 0.0040, 0.0080),
    FeeTier(25_000.0, 0.0025, 0.0050),
    FeeTier(75_000.0, 0.00125, 0.0025),
    FeeTier(250_000.0, 0.00075, 0.0015),
    FeeTier(500_000.0, 0.0006, 0.00125),
    FeeTier(1_000_000.0, 0.0005, 0.0010),
    FeeTier(5_000_000.0, 0.0004, 0.00085),
)


@dataclass(frozen=True)
class FeeSchedule:
    """A tiered fee table, lowest tier first."""

    name: str = "coinbase_advanced"
    """Name of the schedule, for reports."""
    window_days: float = field(default=30.0, metadata=bounds(gt=0.0))
    """Length of the trailing volume window in days."""
    tiers: tuple[FeeTier, ...] = _COINBASE_TIERS
    """Tiers in increasing ``min_volume_usd``; the first starts at 0."""

    def validate(self) -> None:
        """The tiers start at 0 and their thresholds strictly increase."""
        if not self.tiers:
            raise ConfigError(
                "fee_schedule.tiers is empty; list at least one tier starting at min_volume_usd: 0"
            )
        if self.tiers[0].min_volume_usd != 0.0:
            raise ConfigError("the first fee tier must have min_volume_usd: 0 so every volume has a tier")
        for a, b in zip(self.tiers, self.tiers[1:], strict=False):
            if b.min_volume_usd <= a.min_volume_usd:
                raise ConfigError(
                    f"fee tier thresholds must strictly increase; "
                    f"{b.min_volume_usd} follows {a.min_volume_usd}"
                )


#: The default schedule (Coinbase Advanced Trade spot).
COINBASE_ADVANCED = FeeSchedule()


@dataclass(frozen=True)
class EnvSettings:
    """Market mechanics, observation and action settings of ``CryptoTrading-v1``."""

    initial_cash: float = field(default=100_000.0, metadata=bounds(gt=0.0))
    """Starting capital in USD (all in cash)."""
    slippage_bps: float = field(default=5.0, metadata=bounds(ge=0.0, lt=10_000.0))
    """Fill price offset from the open, in basis points: buys pay up, sells receive less."""
    fee_model: Literal["flat", "tiered"] = "flat"
    """``flat``: one rate per side (phase 1); ``tiered``: the 30-day-volume table (phase 2)."""
    flat_fee: float = field(default=0.006, metadata=bounds(ge=0.0, lt=0.5))
    """Maker rate of the flat model (0.006 = 0.60 %, a new Coinbase account)."""
    flat_taker_fee: float = field(default=0.012, metadata=bounds(ge=0.0, lt=0.5))
    """Taker rate of the flat model (1.20 %, a new account): forced sales always pay it."""
    fee_schedule: FeeSchedule = COINBASE_ADVANCED
    """The tier table of the tiered model, inline (its window also sets the flat model's volume window)."""
    fee_liquidity: Literal["maker", "taker"] = "maker"
    """Which rate ordinary fills pay (maker: post-only limit orders). Forced sales always pay taker."""
    fee_mode: Literal["static", "progressive"] = "static"
    """``static``: the tier's rate; ``progressive``: interpolated towards the next tier's rate."""
    starting_volume_30d: float = field(default=0.0, metadata=bounds(ge=0.0))
    """Trailing 30-day USD volume the account has from elsewhere (0 = a new account)."""
    starting_volume_max: float | None = field(default=None, metadata=bounds(ge=0.0))
    """Training episodes draw their starting trailing volume uniformly from ``starting_volume_30d``
    to this, so training meets the higher fee tiers an active account reaches (``None``: always
    ``starting_volume_30d``; evaluation always starts from ``starting_volume_30d``)."""
    max_hold_days: float = field(default=7.0, metadata=bounds(gt=0.0))
    """Maximum holding time of a position; reaching it forces a sale at the next fill."""
    min_order_usd: float = field(default=10.0, metadata=bounds(ge=0.0))
    """Orders smaller than this many USD are skipped (forced sales excepted)."""
    no_trade_band: float = field(default=0.02, metadata=bounds(ge=0.0, lt=1.0))
    """Weight changes smaller than this are skipped (full closes and forced sales excepted)."""
    lookback: int = field(default=1, metadata=bounds(ge=1, le=256))
    """Bars of features per asset in the observation (searched as a hyperparameter)."""
    rolling_features: bool = False
    """Add the 4 rolling features per asset (phase 2 observation: 91 numbers for 7 assets)."""
    action_mode: Literal["continuous", "discrete"] = "continuous"
    """``continuous``: Box([-1, 1]^n) target weights (PPO); ``discrete``: n * levels actions (DQN)."""
    discrete_levels: int = field(default=10, metadata=bounds(ge=3, le=1000))
    """Levels per asset of the discrete action space; level 0 holds, the rest are weights."""
    episode_bars: int | None = field(default=None, metadata=bounds(ge=2))
    """Steps of a training episode; ``None``: twice the holding limit in bars, so that positions
    reach their limit and are force-sold inside training episodes (evaluation runs a whole segment)."""
    reward_scale: float = field(default=1.0, metadata=bounds(gt=0.0))
    """Reward = reward_scale * log(V_t+1 / V_t)."""
    obs_clip: float = field(default=10.0, metadata=bounds(gt=0.0))
    """Features are clipped to [-obs_clip, obs_clip], the observation space's bounds."""

    def validate(self) -> None:
        """A sampled starting volume needs a range."""
        if self.starting_volume_max is not None and self.starting_volume_max < self.starting_volume_30d:
            raise ConfigError(
                f"starting_volume_max ({self.starting_volume_max}) is below starting_volume_30d "
                f"({self.starting_volume_30d}); raise it or set it to null"
            )

    def max_hold_bars(self, interval: str) -> int:
        """The holding limit in bars of ``interval`` (the one place days become bars)."""
        return days_to_bars(self.max_hold_days, interval)

    def window_bars(self, interval: str) -> int:
        """The trailing fee-volume window in bars of ``interval``."""
        return days_to_bars(self.fee_schedule.window_days, interval)

    def episode_length(self, interval: str) -> int:
        """Steps of a training episode at ``interval`` (``episode_bars``, or twice the holding limit)."""
        return self.episode_bars if self.episode_bars is not None else 2 * self.max_hold_bars(interval)


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` on top, nested mappings merged key by key (inputs untouched)."""
    out = copy.deepcopy(dict(base))
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_env_settings(
    config_dir: str | Path,
    overrides: Mapping[str, Any] | None = None,
    *,
    source: str = "",
    base: Mapping[str, Any] | None = None,
) -> EnvSettings:
    """``<config_dir>/env.yaml`` with ``overrides`` (a phase file's ``env:`` section) on top, validated.

    Args:
        config_dir: Folder holding ``env.yaml``.
        overrides: Keys replacing the file's (nested ``fee_schedule`` keys merge).
        source: Where the overrides come from, for messages (e.g. ``configs/phase2.yaml``).
        base: ``env.yaml``'s content when the caller has read it already (read once per command).

    Returns:
        The validated settings.

    Raises:
        ConfigError: On a missing file, an unknown key, a wrong type or an out-of-range value;
            the message names the file and the key.
    """
    path = Path(config_dir) / "env.yaml"
    data = deep_merge(load_yaml(path) if base is None else base, overrides or {})
    where = f"{path} + {source} env:" if overrides else str(path)
    return from_mapping(EnvSettings, data, source=where)
