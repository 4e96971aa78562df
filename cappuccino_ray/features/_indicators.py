"""Technical indicators in their textbook units, vectorised over ``(n_assets, T)`` arrays.

Time runs along the last axis. Each function returns ``(values, first)``: the
indicator and the first bar at which it is defined (bars before are 0). All
are causal: bar ``t`` reads bars ``<= t`` only. Smoothing follows TA-Lib: EMAs and Wilder averages start from
the simple mean of their first ``n`` inputs (see :func:`seeded_ema`).
"""

from __future__ import annotations

import numpy as np

from cappuccino_ray.features._filters import rolling_mad, rolling_mean, rolling_std, seeded_ema

__all__ = [
    "atr",
    "cci",
    "dx",
    "ewm_volatility",
    "log_returns",
    "macd_hist",
    "rsi",
    "true_range",
    "volume_zscore",
]


def _ratio(num: np.ndarray, den: np.ndarray, default: float = 0.0) -> np.ndarray:
    """``num / den`` with ``default`` where ``den`` is 0 (no warnings, no NaN)."""
    out = np.full(np.broadcast(num, den).shape, default, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def log_returns(close: np.ndarray) -> tuple[np.ndarray, int]:
    """Log return of the close, ``log(c[t] / c[t-1])``; defined from bar 1."""
    r = np.zeros_like(close, dtype=np.float64)
    logc = np.log(close)
    r[:, 1:] = logc[:, 1:] - logc[:, :-1]
    return r, 1


def ewm_volatility(r: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    """Per-bar volatility: square root of an ``n``-bar EMA of squared log returns.

    Seeded with the mean of ``r[:, 1:n+1]**2``, so it is defined from bar ``n``.
    """
    var = seeded_ema(r * r, n, 2.0 / (n + 1.0), start=1)
    return np.sqrt(var), n


def macd_hist(close: np.ndarray, fast: int = 12, slow: int = 26, signal: int = 9) -> tuple[np.ndarray, int]:
    """MACD histogram in price units: ``macd - EMA_signal(macd)``, ``macd = EMA_fast - EMA_slow``.

    Defined from bar ``slow + signal - 2`` (33 for 12/26/9).
    """
    ema_fast = seeded_ema(close, fast, 2.0 / (fast + 1.0))
    ema_slow = seeded_ema(close, slow, 2.0 / (slow + 1.0))
    macd = np.zeros_like(close, dtype=np.float64)
    macd[:, slow - 1 :] = ema_fast[:, slow - 1 :] - ema_slow[:, slow - 1 :]
    sig = seeded_ema(macd, signal, 2.0 / (signal + 1.0), start=slow - 1)
    first = slow + signal - 2
    hist = np.zeros_like(close, dtype=np.float64)
    hist[:, first:] = macd[:, first:] - sig[:, first:]
    return hist, first


def rsi(close: np.ndarray, n: int = 14) -> tuple[np.ndarray, int]:
    """Wilder's RSI in ``[0, 100]``: ``100 * avg_gain / (avg_gain + avg_loss)``; 50 when flat.

    Defined from bar ``n``.
    """
    d = np.zeros_like(close, dtype=np.float64)
    d[:, 1:] = close[:, 1:] - close[:, :-1]
    gain = seeded_ema(np.maximum(d, 0.0), n, 1.0 / n, start=1)
    loss = seeded_ema(np.maximum(-d, 0.0), n, 1.0 / n, start=1)
    out = 100.0 * _ratio(gain, gain + loss, default=0.5)
    out[:, :n] = 0.0
    return out, n


def cci(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int = 20) -> tuple[np.ndarray, int]:
    """Commodity Channel Index: ``(tp - SMA_n(tp)) / (0.015 * MAD_n(tp))``, ``tp = (h + l + c) / 3``.

    0 where the window is flat: its mean absolute deviation is below a billionth
    of its mean (rounding in the rolling mean would otherwise make 0 / 0 noise).
    Defined from bar ``n - 1``.
    """
    tp = (high + low + close) / 3.0
    sma = rolling_mean(tp, n)
    mad = rolling_mad(tp, sma, n)
    mad[mad <= 1e-9 * np.abs(sma)] = 0.0
    out = _ratio(tp - sma, 0.015 * mad)
    out[:, : n - 1] = 0.0
    return out, n - 1


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Wilder's true range, ``max(h - l, |h - c[t-1]|, |l - c[t-1]|)``; bar 0 is ``h - l``."""
    tr = high - low
    prev = close[:, :-1]
    tr[:, 1:] = np.maximum(tr[:, 1:], np.maximum(np.abs(high[:, 1:] - prev), np.abs(low[:, 1:] - prev)))
    return tr


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int = 14) -> tuple[np.ndarray, int]:
    """Average true range: Wilder's smoothing of the true range of bars ``1..``; defined from bar ``n``."""
    return seeded_ema(true_range(high, low, close), n, 1.0 / n, start=1), n


def dx(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int = 14) -> tuple[np.ndarray, int]:
    """Directional movement index DX in ``[0, 100]``: ``100 * |+DI - -DI| / (+DI + -DI)``.

    ``+DM = h[t] - h[t-1]`` when it exceeds ``l[t-1] - l[t]`` and is positive
    (else 0), ``-DM`` mirrors it; both are Wilder-smoothed over ``n`` bars. The
    DIs share the smoothed true range as denominator, so it cancels in DX.
    0 when there is no directional movement. Defined from bar ``n``.
    """
    del close  # DX depends on highs and lows only once the true range cancels.
    up = np.zeros_like(high, dtype=np.float64)
    down = np.zeros_like(high, dtype=np.float64)
    up[:, 1:] = high[:, 1:] - high[:, :-1]
    down[:, 1:] = low[:, :-1] - low[:, 1:]
    plus = np.where((up > down) & (up > 0), up, 0.0)
    minus = np.where((down > up) & (down > 0), down, 0.0)
    sp = seeded_ema(plus, n, 1.0 / n, start=1)
    sm = seeded_ema(minus, n, 1.0 / n, start=1)
    out = 100.0 * _ratio(np.abs(sp - sm), sp + sm)
    out[:, :n] = 0.0
    return out, n


def volume_zscore(volume: np.ndarray, w: int) -> tuple[np.ndarray, int]:
    """Z-score of volume against the ``w`` bars ending at ``t`` (population std).

    0 where the window's volume is constant (its std is below a millionth of
    its mean, which absorbs rounding). Defined from bar ``w - 1``.
    """
    mean, std = rolling_std(volume, w)
    floor = 1e-6 * np.abs(mean) + 1e-12
    out = (volume - mean) / np.maximum(std, floor)
    out[std <= floor] = 0.0
    out[:, : w - 1] = 0.0
    return out, w - 1
