"""Observation layout and the action mappings of ``CryptoTrading-v1``.

Observation (float32, flat): for each asset ``i`` in order, a block of
``2 + F * lookback`` numbers::

    [weight_i, age_fraction_i, x[t-k+1, i, 0..F-1], ..., x[t, i, 0..F-1]]

``weight_i`` = value of asset i / portfolio value at bar t's close (in
[0, 1]); ``age_fraction_i`` = min(age_i / max_hold_bars, 1); the features of
the ``k = lookback`` bars ending at t, oldest first, each in the feature
set's order (7 base, then 4 rolling), clipped to ``[-obs_clip, obs_clip]``.
Size: ``n_assets * (2 + F * lookback)`` (63 for 7 assets, F = 7, lookback 1;
91 with the rolling features).

Continuous actions: ``a`` in ``[-1, 1]^n`` -> ``w = clip(a, 0, 1)``, then
``w /= max(1, sum(w))``: long-only weights summing to at most 1, the rest
in cash; ``a <= 0`` closes the asset.

Discrete actions: ``Discrete(n * levels)``; action ``a`` is asset
``a // levels`` at level ``a % levels``. Level 0 holds (no order at all,
for any asset: the do-nothing action); level ``j >= 1`` sets that asset's
target weight to ``(j - 1) / (levels - 2)`` (10 levels: 0, 1/8, ..., 1),
keeping the other assets' weights; buys are limited by the cash available.
"""

from __future__ import annotations

import functools

import numpy as np
from gymnasium import spaces

from cappuccino_ray.env.kernel import continuous_weights
from cappuccino_ray.errors import ConfigError

__all__ = [
    "action_space",
    "continuous_to_weights",
    "discrete_to_weights",
    "observation_bounds",
    "observation_size",
]


def observation_size(n_assets: int, n_features: int, lookback: int) -> int:
    """Length of the flat observation: ``n_assets * (2 + n_features * lookback)``."""
    return n_assets * (2 + n_features * lookback)


def observation_bounds(n_assets: int, n_features: int, lookback: int, clip: float) -> spaces.Box:
    """The observation Box: weights and ages in [0, 1], features in [-clip, clip]."""
    per = 2 + n_features * lookback
    low = np.full((n_assets, per), -clip, dtype=np.float32)
    high = np.full((n_assets, per), clip, dtype=np.float32)
    low[:, :2] = 0.0
    high[:, :2] = 1.0
    return spaces.Box(low=low.ravel(), high=high.ravel(), dtype=np.float32)


def action_space(n_assets: int, mode: str, levels: int) -> spaces.Space:
    """``Box([-1, 1]^n)`` (continuous) or ``Discrete(n * levels)`` (discrete)."""
    if mode == "continuous":
        return spaces.Box(low=-1.0, high=1.0, shape=(n_assets,), dtype=np.float32)
    if mode == "discrete":
        return spaces.Discrete(n_assets * levels)
    raise ConfigError(f"action_mode {mode!r} is unknown; use 'continuous' or 'discrete'")


def continuous_to_weights(actions: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Map a batch of Box actions ``(B, n)`` to target weights ``(B, n)``.

    ``w = clip(a, 0, 1) / max(1, sum(clip(a, 0, 1)))``; ``NaN`` actions count as 0.
    ``out``: a C-contiguous float64 ``(B, n)`` array to write them to (default: a new one).
    """
    a = actions if isinstance(actions, np.ndarray) else np.asarray(actions)
    if a.dtype != np.float32 and a.dtype != np.float64:  # the two the compiled mapping takes
        a = a.astype(np.float64)
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    w = np.empty(a.shape) if out is None else out
    continuous_weights(a, w)
    return w


@functools.lru_cache(maxsize=16)
def _discrete_table(n_assets: int, levels: int) -> np.ndarray:
    """Targets of every discrete action, ``(n_assets * levels, n)`` (read-only)."""
    a = np.arange(n_assets * levels)
    asset, level = np.divmod(a, levels)
    out = np.full((len(a), n_assets), np.nan)
    act = level > 0
    rows = np.nonzero(act)[0]
    out[rows, asset[act]] = (level[act] - 1) / (levels - 2)
    out.flags.writeable = False
    return out


def discrete_to_weights(actions: np.ndarray, n_assets: int, levels: int) -> np.ndarray:
    """Map a batch of discrete actions ``(B,)`` to targets ``(B, n)`` (``NaN`` = hold).

    The mapping is the module docstring's; rows come from a table of all
    actions built once per ``(n_assets, levels)``.

    Raises:
        ConfigError: If an action is outside ``0 .. n_assets * levels - 1``.
    """
    a = np.asarray(actions, dtype=np.int64).reshape(-1)
    if a.size and (a.min() < 0 or a.max() >= n_assets * levels):
        raise ConfigError(f"discrete action outside 0..{n_assets * levels - 1}: {a}")
    return _discrete_table(n_assets, levels)[a]
