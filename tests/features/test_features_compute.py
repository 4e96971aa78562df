"""compute_features: shapes, scaling, warm-up, windows per interval, robustness and determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cappuccino_ray.data.market import MarketData
from cappuccino_ray.data.synthetic import generate_market
from cappuccino_ray.errors import DataError
from cappuccino_ray.features import (
    BASE_FEATURES,
    CLIP,
    ROLLING_FEATURES,
    compute_features,
    feature_windows,
    warmup_bars,
)
from cappuccino_ray.intervals import SEARCH_INTERVALS

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def _flat_market(n: int, interval: str = "1h", volume: float = 0.0) -> MarketData:
    ones = np.ones((n, 2))
    return MarketData(
        timestamps=np.datetime64("2024-01-01", "ns") + np.arange(n) * np.timedelta64(1, "h"),
        symbols=("A", "B"),
        interval=interval,
        open=ones * 10,
        high=ones * 10,
        low=ones * 10,
        close=ones * 10,
        volume=ones * volume,
    )


def test_names_shape_dtype() -> None:
    md = generate_market(1500, n_assets=4, interval="1h", seed=0)
    base = compute_features(md)
    full = compute_features(md, rolling=True)
    assert base.names == BASE_FEATURES and len(BASE_FEATURES) == 7
    assert full.names == BASE_FEATURES + ROLLING_FEATURES and len(ROLLING_FEATURES) == 4
    assert base.values.shape == (1500, 4, 7) and full.values.shape == (1500, 4, 11)
    assert base.values.dtype == np.float32 and full.values.dtype == np.float32
    # The base features do not depend on whether the rolling ones are added (past the longer warm-up).
    np.testing.assert_array_equal(full.values[full.warmup :, :, :7], base.values[full.warmup :])
    np.testing.assert_array_equal(full.feature("rsi"), full.values[:, :, 2])
    with pytest.raises(DataError, match="unknown feature"):
        full.feature("sma")


@pytest.mark.parametrize(
    ("interval", "stat", "d7", "d30", "base_warmup"),
    [
        ("5m", 288, 2016, 8640, 288),
        ("15m", 96, 672, 2880, 96),
        ("30m", 48, 336, 1440, 48),
        ("1h", 24, 168, 720, 33),
        ("4h", 20, 42, 180, 33),
    ],
)
def test_windows_scale_with_the_interval(
    interval: str, stat: int, d7: int, d30: int, base_warmup: int
) -> None:
    w = feature_windows(interval)
    assert (w.stat, w.d7, w.d30) == (stat, d7, d30)
    assert warmup_bars(interval) == base_warmup
    assert warmup_bars(interval, rolling=True) == d30 - 1


@pytest.mark.parametrize("interval", ["1h", "4h"])
def test_warmup_rows_are_zero_and_the_next_is_live(interval: str) -> None:
    md = generate_market(warmup_bars(interval, rolling=True) + 50, n_assets=3, interval=interval, seed=4)
    for rolling in (False, True):
        fs = compute_features(md, rolling=rolling)
        assert fs.warmup == warmup_bars(interval, rolling=rolling)
        assert np.all(fs.values[: fs.warmup] == 0)
        assert np.all(fs.values[fs.warmup :].any(axis=0)), "a feature is still all zero after warm-up"
        assert np.count_nonzero(fs.values[fs.warmup]) > 0.8 * fs.values[fs.warmup].size


def test_rolling_features_by_hand() -> None:
    md = generate_market(1000, n_assets=2, interval="4h", seed=9)
    fs = compute_features(md, rolling=True)
    t, a = 900, 1
    c, v = md.close[:, a], md.volume[:, a]
    m7, m30 = c[t - 41 : t + 1].mean(), c[t - 179 : t + 1].mean()  # 7 d = 42 bars, 30 d = 180 bars at 4h
    assert fs.feature("close_vs_7d")[t, a] == pytest.approx(np.log(c[t] / m7) / (0.04 * np.sqrt(7)), rel=1e-5)
    assert fs.feature("close_vs_30d")[t, a] == pytest.approx(
        np.log(c[t] / m30) / (0.04 * np.sqrt(30)), rel=1e-5
    )
    mv = v[t - 179 : t + 1].mean()
    expect = np.log((v[t] + 0.01 * mv) / (1.01 * mv))
    assert fs.feature("volume_vs_30d")[t, a] == pytest.approx(expect, rel=1e-5)


def test_base_features_by_hand() -> None:
    md = generate_market(600, n_assets=2, interval="1h", seed=5)
    fs = compute_features(md)
    t, a = 400, 0
    c = pd.Series(md.close[:, a])
    r = np.log(c / c.shift(1)).to_numpy()
    # EMA (span 24) of squared returns, seeded with the mean of r[1:25]**2 at bar 24.
    var = np.mean(r[1:25] ** 2)
    for k in range(25, t + 1):
        var = var + 2 / 25 * (r[k] ** 2 - var)
    assert fs.feature("log_return")[t, a] == pytest.approx(r[t] / np.sqrt(var), rel=1e-5)
    v = pd.Series(md.volume[:, a]).iloc[t - 23 : t + 1]
    z = (v.iloc[-1] - v.mean()) / v.std(ddof=0)
    assert fs.feature("volume_z")[t, a] == pytest.approx(np.clip(z, -CLIP, CLIP), rel=1e-5)


@pytest.mark.parametrize("interval", SEARCH_INTERVALS)
def test_finite_and_bounded_with_halts(interval: str) -> None:
    md = generate_market(warmup_bars(interval, rolling=True) + 300, interval=interval, seed=2, halt_prob=0.01)
    fs = compute_features(md, rolling=True)
    assert np.all(np.isfinite(fs.values))
    assert np.abs(fs.values).max() <= CLIP
    live = fs.values[fs.warmup :]
    # Scaled to similar ranges: typical magnitudes of order 1, clipping rare.
    typical = np.percentile(np.abs(live), 90, axis=(0, 1))
    assert np.all(typical > 0.05) and np.all(typical < 4.0), dict(zip(fs.names, typical, strict=True))
    assert np.mean(np.abs(live) >= CLIP) < 0.01


@pytest.mark.parametrize("volume", [0.0, 5.0])
def test_constant_prices_give_neutral_finite_features(volume: float) -> None:
    fs = compute_features(_flat_market(1000, volume=volume), rolling=True)
    assert np.all(np.isfinite(fs.values))
    last = dict(zip(fs.names, fs.values[-1, 0], strict=True))
    for name in ("log_return", "macd_hist", "rsi", "cci", "volume_z", *ROLLING_FEATURES):
        assert last[name] == 0.0, name
    assert last["dx"] == -1.0  # DX 0: no direction
    assert last["atr_frac"] == -CLIP  # zero range: the floor of the log scale


def test_zero_volume_bar_is_bounded() -> None:
    md = generate_market(1500, n_assets=2, interval="1h", seed=3)
    volume = md.volume.copy()
    volume[1200:1230] = 0.0  # a 30-bar halt
    fs = compute_features(
        MarketData(md.timestamps, md.symbols, md.interval, md.open, md.high, md.low, md.close, volume),
        rolling=True,
    )
    assert np.all(np.isfinite(fs.values))
    assert fs.feature("volume_vs_7d")[1210, 0] == pytest.approx(np.log(0.01 / 1.01), abs=0.05)


def test_same_market_same_features() -> None:
    a = compute_features(generate_market(3000, interval="15m", seed=8), rolling=True)
    b = compute_features(generate_market(3000, interval="15m", seed=8), rolling=True)
    np.testing.assert_array_equal(a.values, b.values)
    assert a.warmup == b.warmup


def test_bad_markets_raise_data_errors() -> None:
    md = generate_market(800, n_assets=2, interval="1h", seed=0)
    close = md.close.copy()
    close[10, 1] = np.nan
    nan_md = MarketData(md.timestamps, md.symbols, md.interval, md.open, md.high, md.low, close, md.volume)
    with pytest.raises(DataError, match="NaN"):
        compute_features(nan_md)
    close[10, 1] = -1.0
    neg = MarketData(md.timestamps, md.symbols, md.interval, md.open, md.high, md.low, close, md.volume)
    with pytest.raises(DataError, match="non-positive"):
        compute_features(neg)
    with pytest.raises(DataError, match="too few"):
        compute_features(md.slice(0, 719), rolling=True)  # 30 d at 1h: warm-up 719, so no live bar
    with pytest.raises(DataError, match="too few"):
        compute_features(md.slice(0, 30))


def _load_real(folder: str, n_assets: int = 3) -> MarketData:
    files = sorted((DATA / folder).glob("*.csv.gz"))[:n_assets]
    frames = [pd.read_csv(f) for f in files]
    n = min(len(f) for f in frames)

    def col(name: str) -> np.ndarray:
        return np.stack([f[name].to_numpy(dtype=float)[:n] for f in frames], axis=1)

    ts = pd.to_datetime(frames[0]["timestamp"].iloc[:n]).dt.tz_localize(None).to_numpy()
    interval = folder.split("_")[1]
    symbols = tuple(f.name.split("_")[0] for f in files)
    return MarketData(
        ts, symbols, interval, col("open"), col("high"), col("low"), col("close"), col("volume")
    )


@pytest.mark.skipif(not DATA.is_dir(), reason=f"real market data not found at {DATA}")
@pytest.mark.parametrize("folder", ["crypto_1h", "crypto_5m"])
def test_real_candles_are_scaled_alike(folder: str) -> None:
    md = _load_real(folder)
    fs = compute_features(md, rolling=True)
    live = fs.values[fs.warmup :]
    assert np.all(np.isfinite(live)) and np.abs(live).max() <= CLIP
    spread = np.percentile(live, 99, axis=(0, 1)) - np.percentile(live, 1, axis=(0, 1))
    assert np.all(spread > 0.5) and np.all(spread < 8.0), dict(zip(fs.names, spread, strict=True))
    assert np.mean(np.abs(live) >= CLIP) < 0.005


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10_000),
    n_assets=st.integers(1, 3),
    interval=st.sampled_from(["5m", "1h", "4h"]),
    halt_prob=st.sampled_from([0.0, 0.01, 0.2]),
)
def test_property_finite_bounded_and_zero_before_warmup(
    seed: int, n_assets: int, interval: str, halt_prob: float
) -> None:
    n = warmup_bars(interval) + 200
    md = generate_market(n, n_assets=n_assets, interval=interval, seed=seed, halt_prob=halt_prob)
    fs = compute_features(md)
    assert np.all(np.isfinite(fs.values)) and np.abs(fs.values).max() <= CLIP
    assert np.all(fs.values[: fs.warmup] == 0)


@settings(max_examples=10, deadline=None, derandomize=True)
@given(price_unit=st.floats(1e-4, 1e4), volume_unit=st.floats(1e-4, 1e4), seed=st.integers(0, 100))
def test_property_features_do_not_depend_on_units(price_unit: float, volume_unit: float, seed: int) -> None:
    md = generate_market(1200, n_assets=2, interval="4h", seed=seed, halt_prob=0.01)
    scaled = MarketData(
        md.timestamps,
        md.symbols,
        md.interval,
        md.open * price_unit,
        md.high * price_unit,
        md.low * price_unit,
        md.close * price_unit,
        md.volume * volume_unit,
    )
    a = compute_features(md, rolling=True).values
    b = compute_features(scaled, rolling=True).values
    np.testing.assert_allclose(a, b, atol=2e-4)
