"""Candle intervals and the conversions between days, bars and years.

Crypto markets trade 24 hours a day, 365 days a year, so a year has
``365 * bars_per_day`` bars of any interval.
"""

from __future__ import annotations

import math

from cappuccino_ray.errors import ConfigError

__all__ = [
    "INTERVALS",
    "SEARCH_INTERVALS",
    "bars_per_day",
    "days_to_bars",
    "interval_minutes",
    "interval_ns",
    "periods_per_year",
    "validate_interval",
]

#: Supported candle intervals and their length in minutes.
INTERVALS: dict[str, int] = {
    "1m": 1,
    "5m": 5,
    "15m": 15,
    "30m": 30,
    "1h": 60,
    "2h": 120,
    "4h": 240,
    "1d": 1440,
}

#: The intervals of the phase-1 time-frame search.
SEARCH_INTERVALS: tuple[str, ...] = ("5m", "15m", "30m", "1h", "4h")

MINUTES_PER_DAY = 1440
NS_PER_MINUTE = 60 * 10**9
DAYS_PER_YEAR = 365


def validate_interval(interval: str) -> str:
    """Return ``interval`` if it is supported, else raise a :class:`ConfigError`.

    Args:
        interval: An interval name such as ``"5m"`` or ``"4h"``.

    Returns:
        The same name.

    Raises:
        ConfigError: If the interval is unknown.
    """
    if interval not in INTERVALS:
        known = ", ".join(INTERVALS)
        raise ConfigError(f"unknown interval {interval!r}: use one of {known}")
    return interval


def interval_minutes(interval: str) -> int:
    """Length of one bar of ``interval`` in minutes."""
    return INTERVALS[validate_interval(interval)]


def interval_ns(interval: str) -> int:
    """Length of one bar of ``interval`` in nanoseconds (the unit of ``datetime64[ns]`` stamps)."""
    return interval_minutes(interval) * NS_PER_MINUTE


def bars_per_day(interval: str) -> float:
    """Number of bars of ``interval`` in one 24-hour day."""
    return MINUTES_PER_DAY / interval_minutes(interval)


def periods_per_year(interval: str) -> float:
    """Bars per year for annualising: 365 days of 24-hour trading."""
    return DAYS_PER_YEAR * bars_per_day(interval)


def days_to_bars(days: float, interval: str) -> int:
    """Convert a span in days to a whole number of bars (rounded up, at least 1).

    Args:
        days: Span in days (may be fractional).
        interval: Candle interval.

    Returns:
        The number of bars covering ``days``.
    """
    if days <= 0:
        raise ConfigError(f"a span in days must be positive, got {days}")
    return max(1, math.ceil(days * bars_per_day(interval) - 1e-9))
