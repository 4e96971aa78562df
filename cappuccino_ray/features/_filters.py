"""Causal filters on ``(n_assets, T)`` float64 arrays: seeded EMAs and rolling windows.

Time runs along the last axis, so every filter reads contiguous memory.
Every function here is past-only: output column ``t`` depends on input
columns ``<= t``. Outputs are 0 before the first bar at which they are
defined; each function documents that bar so callers can compute warm-ups.
"""

from __future__ import annotations

import numpy as np

__all__ = ["rolling_mad", "rolling_mean", "rolling_std", "seeded_ema"]


def seeded_ema(x: np.ndarray, n: int, alpha: float, start: int = 0) -> np.ndarray:
    """Exponential smoothing seeded with a simple mean, as TA-Lib seeds EMA, RSI and ATR.

    ``y[start + n - 1] = mean(x[start : start + n])`` and, after it,
    ``y[t] = alpha * x[t] + (1 - alpha) * y[t - 1]``. ``alpha = 2 / (n + 1)``
    gives an EMA; ``alpha = 1 / n`` gives Wilder's smoothing.

    Args:
        x: Input, shape ``(n_assets, T)``.
        n: Length of the seeding mean.
        alpha: Smoothing factor in ``(0, 1]``.
        start: First bar of ``x`` that holds valid input.

    Returns:
        The smoothed series; bars before ``start + n - 1`` are 0.
    """
    # scipy.signal takes over a second to import: load it only when features are computed,
    # so importing this package (the env does, for the feature names) stays cheap.
    from scipy.signal import lfilter

    out = np.zeros(x.shape, dtype=np.float64)
    first = start + n - 1
    if first >= x.shape[-1]:
        return out
    seed = x[:, start : first + 1].mean(axis=-1)
    out[:, first] = seed
    if first + 1 < x.shape[-1]:
        zi = ((1.0 - alpha) * seed)[:, None]
        out[:, first + 1 :], _ = lfilter([alpha], [1.0, -(1.0 - alpha)], x[:, first + 1 :], axis=-1, zi=zi)
    return out


_BLOCK = 256


def _window_moments(x: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population variance of the ``w`` bars ending at each bar.

    Window sums are differences of cumulative sums. To keep them exact on long,
    trending series, time is cut into blocks of ``B >= w`` bars and a window
    ending in block ``b`` is summed within blocks ``b - 1`` and ``b`` only, as
    deviations from the first bar of block ``b - 1`` (an earlier bar than the
    window's own start, so still past-only). The cumulative sums thus never
    grow beyond two blocks, and a constant series gives exact zeros.

    Returns:
        ``(mean, var)``; both 0 before bar ``w - 1``.
    """
    mean = np.zeros(x.shape, dtype=np.float64)
    var = np.zeros(x.shape, dtype=np.float64)
    n = x.shape[-1]
    if w > n:
        return mean, var
    b = max(w, _BLOCK)
    n_blocks = -(-n // b)
    # One block of padding in front and up to one at the end; valid windows never read either.
    padded = np.concatenate(
        [np.repeat(x[:, :1], b, axis=1), x, np.repeat(x[:, -1:], n_blocks * b - n, axis=1)], axis=1
    ).reshape(len(x), n_blocks + 1, b)
    segments = np.concatenate([padded[:, :-1], padded[:, 1:]], axis=-1)  # (assets, blocks, 2b)
    centre = segments[:, :, :1]
    d = segments - centre
    for values, out in ((d, mean), (d * d, var)):
        cum = np.cumsum(values, axis=-1)
        sums = cum[:, :, b:] - cum[:, :, b - w : 2 * b - w]
        out[:] = (sums / w).reshape(len(x), n_blocks * b)[:, :n]
    np.maximum(var - mean**2, 0.0, out=var)
    mean += np.broadcast_to(centre, (len(x), n_blocks, b)).reshape(len(x), -1)[:, :n]
    mean[:, : w - 1] = 0.0
    var[:, : w - 1] = 0.0
    return mean, var


def rolling_mean(x: np.ndarray, w: int) -> np.ndarray:
    """Mean of the ``w`` bars ending at each bar; defined from bar ``w - 1``.

    Args:
        x: Input, shape ``(n_assets, T)``.
        w: Window length in bars.

    Returns:
        The rolling mean (0 before it is defined).
    """
    out = np.zeros(x.shape, dtype=np.float64)
    first = w - 1
    if first >= x.shape[-1]:
        return out
    # Deviations from the first bar keep the cumulative sum small; a mean, unlike a
    # variance, has no cancellation to amplify what rounding is left.
    ref = x[:, :1]
    cum = np.cumsum(x - ref, axis=-1)
    out[:, first] = cum[:, w - 1]
    np.subtract(cum[:, w:], cum[:, :-w], out=out[:, first + 1 :])
    out[:, first:] /= w
    out[:, first:] += ref
    return out


def rolling_std(x: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Population mean and standard deviation of the ``w`` bars ending at each bar.

    Args:
        x: Input, shape ``(n_assets, T)``.
        w: Window length in bars.

    Returns:
        ``(mean, std)``, both 0 before bar ``w - 1``.
    """
    mean, var = _window_moments(x, w)
    return mean, np.sqrt(var)


def rolling_mad(x: np.ndarray, mean: np.ndarray, w: int) -> np.ndarray:
    """Mean absolute deviation of the ``w`` bars ending at bar t from ``mean[t]``.

    Args:
        x: Input, shape ``(n_assets, T)``.
        mean: The window mean at each bar (e.g. :func:`rolling_mean` of ``x``).
        w: Window length in bars (small: one pass per lag).

    Returns:
        The mean absolute deviation, 0 before bar ``w - 1``.
    """
    out = np.zeros(x.shape, dtype=np.float64)
    t = x.shape[-1]
    if w - 1 >= t:
        return out
    m = mean[:, w - 1 :]
    acc = out[:, w - 1 :]
    tmp = np.empty_like(m)
    for lag in range(w):
        np.subtract(x[:, w - 1 - lag : t - lag], m, out=tmp)
        np.abs(tmp, out=tmp)
        acc += tmp
    acc /= w
    return out
