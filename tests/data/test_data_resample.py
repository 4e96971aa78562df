"""Resampling: hand-computed OHLCV aggregation, epoch-aligned labels, edge rules and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cappuccino_ray.data import MarketData, generate_market, resample
from cappuccino_ray.errors import ConfigError, DataError
from cappuccino_ray.intervals import interval_ns


def tiny() -> MarketData:
    """Eight 5m bars from 00:50: 00:50, 00:55 | 01:00..01:25 (a 15m pair and a half bucket)."""
    t0 = np.datetime64("2024-01-01T00:50", "ns")
    ts = t0 + np.arange(8) * np.timedelta64(5, "m")
    o = np.array([1, 2, 3, 4, 5, 6, 7, 8], float)[:, None]
    tradable = np.array([True, True, False, True, True, True, True, True])[:, None]
    return MarketData(
        timestamps=ts,
        symbols=("X",),
        interval="5m",
        open=o,
        high=o + 10,
        low=o - 0.5,
        close=o + 0.25,
        volume=o * 2,
        tradable=tradable,
    )


def test_hand_computed_15m() -> None:
    out = resample(tiny(), "15m")
    # Buckets: 00:45 has 00:50, 00:55 (partial, dropped); 01:00 = bars 3..5; 01:15 = bars 6..8;
    assert [str(t)[11:16] for t in out.timestamps.astype("datetime64[m]")] == ["01:00", "01:15"]
    np.testing.assert_array_equal(out.open[:, 0], [3, 6])
    np.testing.assert_array_equal(out.high[:, 0], [15, 18])
    np.testing.assert_array_equal(out.low[:, 0], [2.5, 5.5])
    np.testing.assert_array_equal(out.close[:, 0], [5.25, 8.25])
    np.testing.assert_array_equal(out.volume[:, 0], [24, 42])
    # The 01:00 bar's first constituent (01:00) is not tradable, so neither is the bar.
    np.testing.assert_array_equal(out.tradable[:, 0], [False, True])
    assert out.interval == "15m"


def test_partial_last_bucket_dropped_and_4h_on_epoch_grid() -> None:
    md = generate_market(12 * 9 + 3, interval="5m", start="2024-01-01T01:00", seed=1)
    h1 = resample(md, "1h")
    assert h1.n_bars == 9  # the trailing 3 bars do not make a full hour
    # 5m bars from 02:00 for 3 days, to 1h, then to 4h: the same as 5m straight to 4h.
    m5 = generate_market(12 * 24 * 3, interval="5m", start="2024-01-01T02:00", seed=2)
    h4 = resample(resample(m5, "1h"), "4h")
    direct = resample(m5, "4h")
    np.testing.assert_array_equal(h4.timestamps, direct.timestamps)
    for f in ("open", "high", "low", "close", "volume", "tradable"):
        np.testing.assert_allclose(getattr(h4, f), getattr(direct, f), rtol=1e-12, err_msg=f)
    hours = h4.timestamps.astype("datetime64[h]").astype(np.int64) % 24
    assert set(hours.tolist()) <= {0, 4, 8, 12, 16, 20}
    assert str(h4.timestamps[0])[:16] == "2024-01-01T04:00"  # 02:00-03:59 is partial
    assert h4.n_bars == 17


def test_finer_than_data_is_an_error_naming_the_data_to_get() -> None:
    md = generate_market(100, interval="1h")
    with pytest.raises(DataError, match=r"data is 1h; import or download 5m .*base_interval: 5m"):
        resample(md, "5m")
    with pytest.raises(DataError, match="no complete 1d bar"):
        resample(md.slice(0, 10), "1d")
    assert resample(md, "1h") is md


@settings(max_examples=40, deadline=None)
@given(
    offset=st.integers(0, 47),
    n=st.integers(48, 400),
    seed=st.integers(0, 10_000),
    halt=st.sampled_from([0.0, 0.1]),
)
def test_two_step_equals_direct_on_contiguous_data(offset: int, n: int, seed: int, halt: float) -> None:
    t0 = np.datetime64("2024-01-01T00:00") + np.timedelta64(5 * offset, "m")
    md = generate_market(n, n_assets=2, interval="5m", seed=seed, start=str(t0), halt_prob=halt)
    direct = resample(md, "1h")
    two = resample(resample(md, "15m"), "1h")
    np.testing.assert_array_equal(direct.timestamps, two.timestamps)
    for f in ("open", "high", "low", "close", "tradable"):
        np.testing.assert_array_equal(getattr(direct, f), getattr(two, f))
    np.testing.assert_allclose(direct.volume, two.volume, rtol=1e-12)
    # Every kept bar covers exactly 12 source bars, volume is conserved over them.
    first = np.searchsorted(md.timestamps, direct.timestamps[0])
    kept = md.volume[first : first + 12 * direct.n_bars]
    np.testing.assert_allclose(direct.volume.sum(0), kept.sum(0), rtol=1e-9)
    assert np.all(direct.high >= np.maximum(direct.open, direct.close))
    assert np.all(direct.low <= np.minimum(direct.open, direct.close))


def test_interval_ns_is_the_bar_length_in_nanoseconds() -> None:
    assert interval_ns("5m") == 5 * 60 * 10**9
    assert interval_ns("1d") == np.timedelta64(1, "D").astype("timedelta64[ns]").astype(np.int64)
    with pytest.raises(ConfigError, match="unknown interval"):
        interval_ns("7m")
