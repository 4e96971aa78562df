"""Segment metrics, the hold-out split and the objective: hand-computed scenarios."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cappuccino_ray.errors import ConfigError, DataError
from cappuccino_ray.validation import (
    OBJECTIVES,
    SegmentMetrics,
    annualised_sharpe,
    get_objective,
    holdout_split,
    objective,
    segment_metrics,
    sharpe_excess,
)


def test_hand_computed_segment() -> None:
    # Daily values 100 -> 110 -> 99 -> 108.9: returns +10 %, -10 %, +10 %.
    m = segment_metrics(
        [100.0, 110.0, 99.0, 108.9],
        interval="1d",
        fees=[1.0, 0.5, 0.0],
        traded_value=[50.0, 50.0, 4.5],
        n_trades=[1, 1, 0],
        forced_sales=[0, 1, 0],
    )
    mean, sd = 0.1 / 3, math.sqrt((2 * (0.2 / 3) ** 2 + (0.4 / 3) ** 2) / 2)
    assert m.n_bars == 3
    assert m.total_return == pytest.approx(0.089)
    assert m.annual_return == pytest.approx(1.089 ** (365 / 3) - 1)
    assert m.annual_volatility == pytest.approx(sd * math.sqrt(365))
    assert m.sharpe == pytest.approx(mean / sd * math.sqrt(365))
    assert m.sortino == pytest.approx(mean / math.sqrt(0.01 / 3) * math.sqrt(365))
    assert m.max_drawdown == pytest.approx(0.1)
    assert m.calmar == pytest.approx(m.annual_return / 0.1)
    assert m.turnover == pytest.approx(104.5 / np.mean([100.0, 110.0, 99.0, 108.9]))
    assert m.fees_paid == pytest.approx(1.5)
    assert (m.n_trades, m.n_forced_sales) == (2, 1)
    assert m.to_dict()["n_trades"] == 2


def test_hourly_sharpe_annualises_with_365_days_of_24_hours() -> None:
    r = np.array([0.01, -0.005, 0.002, 0.004, -0.001])
    assert annualised_sharpe(r, "1h") / annualised_sharpe(r, "1d") == pytest.approx(math.sqrt(24))
    assert annualised_sharpe(r, "1h") == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(8760))


@pytest.mark.parametrize("values", [[100.0] * 50, [100.0 * 1.001**t for t in range(50)], [100.0, 101.0]])
def test_zero_volatility_segments_have_zero_ratios(values: list[float]) -> None:
    m = segment_metrics(values, interval="1h")
    assert m.sharpe == 0.0
    assert m.sortino == 0.0
    assert m.max_drawdown == 0.0
    assert m.calmar == 0.0


def test_single_value_segment_is_flat() -> None:
    m = segment_metrics([100.0], interval="1h")
    assert (m.n_bars, m.total_return, m.annual_return, m.sharpe) == (0, 0.0, 0.0, 0.0)


@pytest.mark.parametrize("values", [[100.0, -1.0], [100.0, float("nan")], [[1.0, 2.0]], []])
def test_bad_values_raise(values: list[float]) -> None:
    with pytest.raises(DataError):
        segment_metrics(values, interval="1h")


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(-0.2, 0.2), min_size=2, max_size=200),
    st.floats(0.01, 1e6),
)
def test_metrics_are_scale_free_and_bounded(rets: list[float], scale: float) -> None:
    v = np.cumprod(np.concatenate([[1.0], 1.0 + np.asarray(rets)]))
    a = segment_metrics(v, interval="15m")
    b = segment_metrics(v * scale, interval="15m")
    # Returns are read back from scaled values: one rounding of a value moves a return by ~1e-16,
    # a relative 1e-9 of a 1e-7 return, and a Sortino ratio over one such loss moves as much.
    for name in ("total_return", "sharpe", "sortino", "max_drawdown", "annual_volatility"):
        assert getattr(a, name) == pytest.approx(getattr(b, name), rel=1e-6, abs=1e-9)
    assert 0.0 <= a.max_drawdown < 1.0
    if a.sharpe != 0.0:
        assert np.sign(a.sharpe) == np.sign(np.mean(rets))


def test_holdout_split() -> None:
    assert holdout_split(100) == (range(0, 85), range(85, 100))
    search, hold = holdout_split(17513, 0.15)  # the shared 1h data set
    assert (len(search), len(hold)) == (14886, 2627)
    assert holdout_split(100, 0.15, purge=2) == (range(0, 83), range(85, 100))
    assert holdout_split(10, 0.0) == (range(0, 10), range(10, 10))
    assert len(holdout_split(10, 0.01)[1]) == 1
    for bad in ({"fraction": 1.0}, {"fraction": -0.1}, {"purge": -1}):
        with pytest.raises(ConfigError):
            holdout_split(100, **bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="nothing"):
        holdout_split(2, 0.5, purge=1)


def _m(sharpe: float) -> SegmentMetrics:
    return replace(segment_metrics([1.0, 1.0], interval="1h"), sharpe=sharpe)


def test_sharpe_excess_objective_hand_computed() -> None:
    bot = [_m(1.0), _m(2.0), _m(3.0)]
    bh = [_m(0.5), _m(-0.5), _m(1.0)]
    # mean excess = (0.5 + 2.5 + 2.0) / 3; population std of (1, 2, 3) = sqrt(2/3).
    expected = 5.0 / 3 - 0.1 * math.sqrt(2.0 / 3.0)
    assert sharpe_excess(bot, bh) == pytest.approx(expected)
    assert objective(bot, bh) == pytest.approx(expected)
    assert objective(bot, bh, std_penalty=0.0) == pytest.approx(5.0 / 3)
    assert objective(bot, bh, name="sharpe_stable") == pytest.approx(2.0 - 0.1 * math.sqrt(2.0 / 3.0))
    assert sharpe_excess([_m(1.0)], [_m(0.2)]) == pytest.approx(0.8)  # one group: std 0


def test_objective_registry() -> None:
    assert get_objective("sharpe_excess") is OBJECTIVES["sharpe_excess"] is sharpe_excess
    with pytest.raises(ConfigError, match="unknown objective"):
        get_objective("nope")
    with pytest.raises(ConfigError, match="same non-zero number"):
        sharpe_excess([_m(1.0)], [])
