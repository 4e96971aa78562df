"""Interval conversions: bars per day, days to bars, annualisation."""

from __future__ import annotations

import pytest

from cappuccino_ray.errors import ConfigError
from cappuccino_ray.intervals import bars_per_day, days_to_bars, interval_minutes, periods_per_year


@pytest.mark.parametrize(
    ("interval", "per_day", "seven_days"),
    [("5m", 288, 2016), ("15m", 96, 672), ("30m", 48, 336), ("1h", 24, 168), ("4h", 6, 42)],
)
def test_bars_per_day_and_windows(interval: str, per_day: int, seven_days: int) -> None:
    assert bars_per_day(interval) == per_day
    assert days_to_bars(7, interval) == seven_days
    assert periods_per_year(interval) == 365 * per_day


def test_fractional_days_round_up() -> None:
    assert days_to_bars(0.1, "4h") == 1
    assert days_to_bars(1.5, "1h") == 36


def test_unknown_interval_says_what_to_use() -> None:
    with pytest.raises(ConfigError, match=r"unknown interval '7m'.*5m"):
        interval_minutes("7m")
    with pytest.raises(ConfigError):
        days_to_bars(0, "1h")
