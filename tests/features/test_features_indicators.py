"""Each indicator against a plain-Python reference and against textbook values.

The references below follow the textbook definitions step by step (Wilder's
``100 - 100 / (1 + RS)``, the DIs with their true-range denominators, pandas
rolling windows), so they share no code with the vectorised versions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cappuccino_ray.features import _indicators as ind
from cappuccino_ray.features._filters import rolling_mad, rolling_mean, rolling_std, seeded_ema


def _candles(n: int, seed: int, n_assets: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random but valid (high >= close, open >= low) candles, shape (n_assets, n)."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (n_assets, n)), axis=1))
    prev = np.concatenate([close[:, :1], close[:, :-1]], axis=1)
    high = np.maximum(prev, close) * np.exp(rng.uniform(0, 0.01, (n_assets, n)))
    low = np.minimum(prev, close) * np.exp(-rng.uniform(0, 0.01, (n_assets, n)))
    volume = rng.lognormal(3, 1, (n_assets, n))
    return high, low, close, volume


def _ema_ref(x: list[float], n: int, alpha: float, start: int = 0) -> list[float]:
    y = [0.0] * len(x)
    first = start + n - 1
    y[first] = sum(x[start : first + 1]) / n
    for t in range(first + 1, len(x)):
        y[t] = alpha * x[t] + (1 - alpha) * y[t - 1]
    return y


def _rsi_ref(c: list[float], n: int = 14) -> list[float]:
    gains = [0.0] + [max(c[t] - c[t - 1], 0.0) for t in range(1, len(c))]
    losses = [0.0] + [max(c[t - 1] - c[t], 0.0) for t in range(1, len(c))]
    ag = sum(gains[1 : n + 1]) / n
    al = sum(losses[1 : n + 1]) / n
    out = [0.0] * len(c)
    for t in range(n, len(c)):
        if t > n:
            ag = (ag * (n - 1) + gains[t]) / n
            al = (al * (n - 1) + losses[t]) / n
        out[t] = 100.0 if al == 0 else 100 - 100 / (1 + ag / al)
    return out


def _tr_ref(h: list[float], lo: list[float], c: list[float]) -> list[float]:
    return [h[0] - lo[0]] + [
        max(h[t] - lo[t], abs(h[t] - c[t - 1]), abs(lo[t] - c[t - 1])) for t in range(1, len(c))
    ]


def _atr_ref(h: list[float], lo: list[float], c: list[float], n: int = 14) -> list[float]:
    tr = _tr_ref(h, lo, c)
    out = [0.0] * len(c)
    out[n] = sum(tr[1 : n + 1]) / n
    for t in range(n + 1, len(c)):
        out[t] = (out[t - 1] * (n - 1) + tr[t]) / n
    return out


def _dx_ref(h: list[float], lo: list[float], c: list[float], n: int = 14) -> list[float]:
    tr = _tr_ref(h, lo, c)
    pdm, mdm = [0.0], [0.0]
    for t in range(1, len(c)):
        up, down = h[t] - h[t - 1], lo[t - 1] - lo[t]
        pdm.append(up if up > down and up > 0 else 0.0)
        mdm.append(down if down > up and down > 0 else 0.0)
    s_tr, s_p, s_m = (_ema_ref(x, n, 1 / n, start=1) for x in (tr, pdm, mdm))
    out = [0.0] * len(c)
    for t in range(n, len(c)):
        pdi, mdi = 100 * s_p[t] / s_tr[t], 100 * s_m[t] / s_tr[t]
        out[t] = 0.0 if pdi + mdi == 0 else 100 * abs(pdi - mdi) / (pdi + mdi)
    return out


def _macd_hist_ref(c: list[float]) -> list[float]:
    fast, slow = _ema_ref(c, 12, 2 / 13), _ema_ref(c, 26, 2 / 27)
    macd = [0.0] * 25 + [fast[t] - slow[t] for t in range(25, len(c))]
    sig = _ema_ref(macd, 9, 2 / 10, start=25)
    return [0.0] * 33 + [macd[t] - sig[t] for t in range(33, len(c))]


def _row(a: np.ndarray, i: int = 0) -> list[float]:
    return [float(v) for v in a[i]]


def test_seeded_ema_matches_loop_and_is_wilder_for_alpha_one_over_n() -> None:
    x = np.random.default_rng(0).normal(size=(2, 60))
    for start in (0, 3):
        got = seeded_ema(x, 14, 1 / 14, start=start)
        np.testing.assert_allclose(got[1], _ema_ref(_row(x, 1), 14, 1 / 14, start), rtol=1e-12, atol=1e-12)
        assert np.all(got[:, : start + 13] == 0)


def test_rsi_matches_wilder_reference() -> None:
    _, _, close, _ = _candles(120, seed=1)
    got, first = ind.rsi(close)
    assert first == 14
    for a in range(3):
        np.testing.assert_allclose(got[a, 14:], _rsi_ref(_row(close, a))[14:], rtol=1e-10)
    assert np.all(got[:, :14] == 0)


def test_rsi_textbook_values() -> None:
    up = np.arange(1.0, 41.0)[None, :]
    assert np.allclose(ind.rsi(up)[0][0, 14:], 100.0)
    assert np.allclose(ind.rsi(up[:, ::-1].copy())[0][0, 14:], 0.0)
    # Alternating +1/-1: Wilder's averages settle at 14/27 and 13/27 of the move,
    # so RSI alternates between 1400/27 and 1300/27 around 50.
    zigzag = np.array([[10.0, 11.0] * 200])
    np.testing.assert_allclose(ind.rsi(zigzag)[0][0, -2:], [1300 / 27, 1400 / 27], rtol=1e-9)
    assert np.allclose(ind.rsi(np.full((1, 40), 5.0))[0][0, 14:], 50.0)  # flat: neutral


def test_macd_hist_matches_reference_and_vanishes_on_a_ramp() -> None:
    _, _, close, _ = _candles(150, seed=2)
    got, first = ind.macd_hist(close)
    assert first == 33
    np.testing.assert_allclose(got[0], _macd_hist_ref(_row(close)), rtol=1e-9, atol=1e-12)
    # On c = a + b t an n-EMA lags by b (n - 1) / 2: MACD -> 7 b and the histogram -> 0.
    ramp = (50 + 0.5 * np.arange(600.0))[None, :]
    hist, _ = ind.macd_hist(ramp)
    assert abs(hist[0, -1]) < 1e-9


def test_cci_matches_pandas_and_textbook_ramp() -> None:
    high, low, close, _ = _candles(100, seed=3)
    got, first = ind.cci(high, low, close)
    assert first == 19
    tp = pd.Series((high[1] + low[1] + close[1]) / 3)
    sma = tp.rolling(20).mean()
    mad = tp.rolling(20).apply(lambda w: np.mean(np.abs(w - w.mean())), raw=True)
    np.testing.assert_allclose(got[1, 19:], ((tp - sma) / (0.015 * mad)).to_numpy()[19:], rtol=1e-8)
    # Typical price t: SMA lags 9.5, MAD is mean |k - 9.5| = 5, so CCI = 9.5 / 0.075.
    ramp = np.arange(40.0)[None, :] + 1
    np.testing.assert_allclose(ind.cci(ramp, ramp, ramp)[0][0, 19:], 9.5 / 0.075, rtol=1e-9)


def test_cci_is_zero_on_a_flat_stretch_after_a_trend() -> None:
    # Rounding in the rolling mean must not turn 0 / 0 into noise once prices stop moving.
    c = np.concatenate(
        [100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.02, 5000))), [123.4567] * 60]
    )
    got, _ = ind.cci(c[None, :], c[None, :], c[None, :])
    assert np.all(got[0, -40:] == 0.0)


def test_atr_matches_wilder_reference_and_constant_range() -> None:
    high, low, close, _ = _candles(80, seed=4)
    got, first = ind.atr(high, low, close)
    assert first == 14
    np.testing.assert_allclose(got[2, 14:], _atr_ref(_row(high, 2), _row(low, 2), _row(close, 2))[14:])
    c = np.full((1, 30), 10.0)
    np.testing.assert_allclose(ind.atr(c + 0.5, c - 0.5, c)[0][0, 14:], 1.0)


def test_dx_matches_di_reference_and_pure_trend() -> None:
    high, low, close, _ = _candles(90, seed=5)
    got, first = ind.dx(high, low, close)
    assert first == 14
    for a in range(3):
        ref = _dx_ref(_row(high, a), _row(low, a), _row(close, a))
        np.testing.assert_allclose(got[a, 14:], ref[14:], rtol=1e-9, atol=1e-9)
    up = np.arange(10.0, 40.0)[None, :]
    np.testing.assert_allclose(ind.dx(up + 1, up - 1, up)[0][0, 14:], 100.0)
    flat = np.full((1, 30), 3.0)
    assert np.all(ind.dx(flat, flat, flat)[0] == 0.0)


def test_volume_zscore_matches_pandas_and_is_zero_when_constant() -> None:
    _, _, _, volume = _candles(200, seed=6)
    got, first = ind.volume_zscore(volume, 24)
    assert first == 23
    s = pd.Series(volume[0])
    ref = (s - s.rolling(24).mean()) / s.rolling(24).std(ddof=0)
    np.testing.assert_allclose(got[0, 23:], ref.to_numpy()[23:], rtol=1e-8)
    const = np.full((1, 100), 123.456)
    const[0, 50:] = 7.1  # a level shift, then constant again
    z, _ = ind.volume_zscore(const, 24)
    assert np.all(np.isfinite(z)) and np.all(z[0, 74:] == 0.0) and np.all(z[0, :50] == 0.0)


def test_log_returns_and_volatility() -> None:
    close = np.array([[100.0, 110.0, 99.0, 99.0]])
    r, first = ind.log_returns(close)
    assert first == 1
    np.testing.assert_allclose(r[0], [0.0, np.log(1.1), np.log(0.9), 0.0])
    sig, first = ind.ewm_volatility(r, 2)
    assert first == 2
    seed = (np.log(1.1) ** 2 + np.log(0.9) ** 2) / 2
    np.testing.assert_allclose(sig[0], [0, 0, np.sqrt(seed), np.sqrt(seed / 3)])


@pytest.mark.parametrize("w", [3, 168, 8640])
def test_rolling_windows_match_pandas_on_long_series(w: int) -> None:
    # Long, trending, large-valued input: the cumulative sums must not lose precision.
    rng = np.random.default_rng(7)
    x = 3e4 * np.exp(np.cumsum(rng.normal(0, 0.01, (2, 60_000)), axis=1)) + 1e4
    s = pd.Series(x[1])
    np.testing.assert_allclose(rolling_mean(x, w)[1, w - 1 :], s.rolling(w).mean()[w - 1 :], rtol=1e-10)
    mean, std = rolling_std(x, w)
    np.testing.assert_allclose(mean[1, w - 1 :], s.rolling(w).mean()[w - 1 :], rtol=1e-10)
    step = 1 if w < 10 else 997
    exact = np.lib.stride_tricks.sliding_window_view(x[1], w)[::step].std(axis=-1)
    np.testing.assert_allclose(std[1, w - 1 :: step], exact, rtol=1e-6)
    assert np.all(rolling_mean(x, w)[:, : w - 1] == 0)
    if w == 3:
        mad = rolling_mad(x, rolling_mean(x, w), w)
        win = np.lib.stride_tricks.sliding_window_view(x[1], w)
        ref = np.abs(win - win.mean(axis=-1, keepdims=True)).mean(axis=-1)
        # A 3-bar deviation of a few units on a level near 1e5: limited by the mean's 1e-12 precision.
        np.testing.assert_allclose(mad[1, w - 1 :], ref, rtol=1e-6)
