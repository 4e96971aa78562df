"""Data configuration: where candles come from and how bad data is handled."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from cappuccino_ray.config._loader import bounds, path_field
from cappuccino_ray.errors import ConfigError
from cappuccino_ray.intervals import INTERVALS

__all__ = ["DataConfig", "SyntheticConfig"]

#: A unified symbol: ``BASE/QUOTE``, optionally with a ccxt settle suffix (``BTC/USDT:USDT``).
_SYMBOL = re.compile(r"[A-Za-z0-9._-]+/[A-Za-z0-9._-]+(:[A-Za-z0-9._-]+)?")


@dataclass(frozen=True)
class SyntheticConfig:
    """Settings of the seeded synthetic market (used when ``source: synthetic``)."""

    n_bars: int = field(default=8760, metadata=bounds(ge=100))
    """Number of bars at ``base_interval``."""
    seed: int = field(default=7, metadata=bounds(ge=0))
    """Seed of the generator; the same seed gives the same candles."""
    start: str = "2023-01-01T00:00"
    """Open time of the first bar (UTC)."""
    planted_signal: float = field(default=0.0, metadata=bounds(ge=0.0))
    """Strength of a learnable pattern on the first asset (0 = none)."""

    def validate(self) -> None:
        """``start`` must be an ISO-8601 time.

        Raises:
            ConfigError: If it is not.
        """
        import datetime as dt

        try:
            dt.datetime.fromisoformat(self.start.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ConfigError(
                f"synthetic.start {self.start!r} is not a date; write it as ISO-8601, e.g. 2023-01-01T00:00"
            ) from exc


@dataclass(frozen=True)
class DataConfig:
    """Where market data comes from and how it is validated."""

    source: Literal["synthetic", "store"] = "synthetic"
    """``synthetic`` generates candles; ``store`` reads the local Parquet store."""
    store_dir: str = field(default="data/store", metadata=path_field())
    """Root of the local Parquet candle store (in a file: relative to the file's folder, ``~`` expanded)."""
    exchange: str = "coinbase"
    """Exchange name (a ccxt id) for downloads and store paths."""
    symbols: tuple[str, ...] = ("BTC/USD", "ETH/USD", "SOL/USD", "LTC/USD", "XRP/USD", "ADA/USD", "LINK/USD")
    """Symbols traded together."""
    base_interval: str = field(default="1h", metadata=bounds(choices=tuple(INTERVALS)))
    """Finest interval stored; coarser ones are resampled from it."""
    gap_policy: Literal["ffill", "refuse"] = "ffill"
    """``ffill`` fills gaps with flat, zero-volume, not-tradable bars; ``refuse`` raises."""
    max_gap_bars: int = field(default=48, metadata=bounds(ge=0))
    """Largest gap (in missing bars) that ``ffill`` repairs; a longer gap is an error."""
    align_policy: Literal["refuse", "trim"] = "refuse"
    """Symbols covering different periods: ``refuse`` raises; ``trim`` keeps the period all cover."""
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    """Synthetic market settings."""

    def validate(self) -> None:
        """Consistency rules across keys."""
        if not self.symbols:
            raise ConfigError("symbols is empty; list at least one symbol, e.g. [BTC/USD]")
        if len(set(self.symbols)) != len(self.symbols):
            raise ConfigError("symbols has duplicates; list each symbol once")
        bad = [s for s in self.symbols if not _SYMBOL.fullmatch(str(s))]
        if bad:
            raise ConfigError(f"symbols: {bad[0]!r} is not BASE/QUOTE; write it like BTC/USD")
