"""Environment configuration: capital, costs, holding limit, observation and actions.

:class:`EnvSettings` is what the ``settings`` key of an ``env_config`` holds
(``configs/env.yaml`` has the defaults). :class:`FeeSchedule` is a tiered
maker/taker fee table such as ``configs/fees/coinbase_advanced.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cappuccino_ray.config._loader import bounds, from_mapping, load_yaml
from cappuccino_ray.errors import ConfigError

__all__ = [
    "DEFAULT_FEE_SCHEDULE",
    "EnvSettings",
    "FeeSchedule",
    "FeeTier",
    "load_fee_schedule",
    "resolve_path",
]

#: The default tier table, relative to the project root (or the working directory).
DEFAULT_FEE_SCHEDULE = "configs/fees/coinbase_advanced.yaml"

_PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class EnvSettings:
    """Market mechanics, observation and action settings of ``CryptoTrading-v0``."""

    initial_cash: float = field(default=100_000.0, metadata=bounds(gt=0.0))
    """Starting capital in USD (all in cash)."""
    slippage_bps: float = field(default=5.0, metadata=bounds(ge=0.0, lt=10_000.0))
    """Fill price offset from the open, in basis points: buys pay up, sells receive less."""
    fee_model: Literal["flat", "tiered"] = "flat"
    """``flat``: one rate per side (phase 1); ``tiered``: the 30-day-volume table (phase 2)."""
    flat_fee: float = field(default=0.006, metadata=bounds(ge=0.0, lt=0.5))
    """Rate of the flat model for maker and taker fills (0.006 = 0.60 %, a new account)."""
    fee_schedule: str = DEFAULT_FEE_SCHEDULE
    """YAML tier table of the tiered model (relative paths: working directory, then project root)."""
    fee_liquidity: Literal["maker", "taker"] = "maker"
    """Which rate ordinary fills pay (maker: post-only limit orders). Forced sales always pay taker."""
    fee_mode: Literal["static", "progressive"] = "static"
    """``static``: the tier's rate; ``progressive``: interpolated towards the next tier's rate."""
    starting_volume_30d: float = field(default=0.0, metadata=bounds(ge=0.0))
    """Trailing 30-day USD volume the account has from elsewhere (0 = a new account)."""
    max_hold_days: float = field(default=7.0, metadata=bounds(gt=0.0))
    """Maximum holding time of a position; reaching it forces a sale at the next fill."""
    min_order_usd: float = field(default=10.0, metadata=bounds(ge=0.0))
    """Orders smaller than this many USD are skipped (forced sales excepted)."""
    no_trade_band: float = field(default=0.0, metadata=bounds(ge=0.0, lt=1.0))
    """Weight changes smaller than this are skipped (full closes and forced sales excepted)."""
    lookback: int = field(default=1, metadata=bounds(ge=1, le=256))
    """Bars of features per asset in the observation."""
    rolling_features: bool = False
    """Add the 4 rolling features per asset (phase 2 observation: 91 numbers for 7 assets)."""
    action_mode: Literal["continuous", "discrete"] = "continuous"
    """``continuous``: Box([-1, 1]^n) target weights (PPO); ``discrete``: n * levels actions (DQN)."""
    discrete_levels: int = field(default=10, metadata=bounds(ge=3, le=1000))
    """Levels per asset of the discrete action space; level 0 holds, the rest are weights."""
    episode_bars: int = field(default=1024, metadata=bounds(ge=1))
    """Steps of a training episode (evaluation runs a whole segment)."""
    reward_scale: float = field(default=1.0, metadata=bounds(gt=0.0))
    """Reward = reward_scale * log(V_t+1 / V_t)."""
    obs_clip: float = field(default=10.0, metadata=bounds(gt=0.0))
    """Features are clipped to [-obs_clip, obs_clip], the observation space's bounds."""

    def validate(self) -> None:
        """Consistency rules across keys."""
        if self.fee_model == "tiered" and not self.fee_schedule:
            raise ConfigError("fee_model is 'tiered' but fee_schedule is empty; name a tier table YAML")


@dataclass(frozen=True)
class FeeTier:
    """One row of a tier table: from ``min_volume_usd`` of trailing 30-day volume."""

    min_volume_usd: float = field(metadata=bounds(ge=0.0))
    """Lowest trailing 30-day USD volume of the tier."""
    maker: float = field(metadata=bounds(ge=0.0, lt=0.5))
    """Maker rate as a fraction (0.006 = 0.60 %)."""
    taker: float = field(metadata=bounds(ge=0.0, lt=0.5))
    """Taker rate as a fraction."""


@dataclass(frozen=True)
class FeeSchedule:
    """A tiered fee table, lowest tier first."""

    name: str = "custom"
    """Name of the schedule, for reports."""
    window_days: float = field(default=30.0, metadata=bounds(gt=0.0))
    """Length of the trailing volume window in days."""
    tiers: tuple[FeeTier, ...] = ()
    """Tiers in increasing ``min_volume_usd``; the first starts at 0."""

    def validate(self) -> None:
        """The tiers start at 0 and their thresholds strictly increase."""
        if not self.tiers:
            raise ConfigError("tiers is empty; list at least one tier starting at min_volume_usd: 0")
        if self.tiers[0].min_volume_usd != 0.0:
            raise ConfigError("the first tier must have min_volume_usd: 0 so every volume has a tier")
        for a, b in zip(self.tiers, self.tiers[1:], strict=False):
            if b.min_volume_usd <= a.min_volume_usd:
                raise ConfigError(
                    f"tier thresholds must strictly increase; {b.min_volume_usd} follows {a.min_volume_usd}"
                )


def resolve_path(path: str) -> Path:
    """Resolve a config path against the working directory, then the project root."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    alt = _PROJECT_ROOT / p
    return alt if alt.exists() else p


def load_fee_schedule(path: str | Path = DEFAULT_FEE_SCHEDULE) -> FeeSchedule:
    """Load and validate a tier table YAML.

    Args:
        path: The YAML file; a relative path is tried against the working
            directory, then the project root.

    Returns:
        The validated schedule.

    Raises:
        ConfigError: If the file is missing or a tier is malformed.
    """
    p = resolve_path(str(path))
    return from_mapping(FeeSchedule, load_yaml(p), source=str(p))
