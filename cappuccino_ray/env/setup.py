"""Build everything an env needs from an ``env_config`` dict (the RLlib boundary).

Keys (unknown keys are a :class:`~cappuccino_ray.errors.ConfigError`):

- ``market``: a :class:`~cappuccino_ray.data.market.MarketData`; ``None`` or
  absent generates one year of hourly bars for 7 coins (seed 7).
- ``features``: a precomputed ``FeatureSet`` (``.values`` float32
  ``(T, n, F)``, ``.warmup``) of that market, so a trainer computes features
  once and shares them; absent computes them. An 11-feature set serves the
  7-feature observation too (its first 7 columns).
- ``segments``: list of ``(start, stop)`` row ranges (half-open); default the
  whole market. Each is trimmed to start at or after the feature warm-up
  plus ``lookback - 1``; ranges shorter than 2 bars after trimming are dropped.
- ``mode``: ``"train"`` (random starts, ``episode_bars`` steps) or ``"eval"``
  (one segment, start to end, deterministic).
- ``settings``: an :class:`~cappuccino_ray.config.env.EnvSettings` (what a
  trial passes: the one object loaded from ``configs/env.yaml``), or a dict of
  its fields (what RLlib's copies and old callers pass); absent: the defaults.
- ``info``: ``True`` (default) returns the info dict of every step and reset;
  ``False`` returns ``{}`` and skips what only feeds it (the benchmark), for
  training, where nothing reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cappuccino_ray.config._loader import from_mapping
from cappuccino_ray.config.env import EnvSettings
from cappuccino_ray.data.market import MarketData
from cappuccino_ray.env.core import CoreParams, MarketCore
from cappuccino_ray.env.fees import FeeModel, build_fee_model
from cappuccino_ray.env.kernel import observe
from cappuccino_ray.errors import ConfigError
from cappuccino_ray.features import BASE_FEATURES, ROLLING_FEATURES, compute_features

__all__ = ["ENV_CONFIG_KEYS", "EnvSetup", "Observer", "build_setup"]

#: The keys an ``env_config`` may hold.
ENV_CONFIG_KEYS = ("market", "features", "segments", "mode", "settings", "info")

N_BASE_FEATURES = len(BASE_FEATURES)
N_ALL_FEATURES = len(BASE_FEATURES) + len(ROLLING_FEATURES)
DEFAULT_MARKET_BARS = 8760


@dataclass(frozen=True, eq=False)
class EnvSetup:
    """Validated inputs of an env: data, features, segments, settings and derived numbers."""

    market: MarketData
    features: np.ndarray
    warmup: int
    segments: tuple[tuple[int, int], ...]
    mode: Literal["train", "eval"]
    settings: EnvSettings
    fee_model: FeeModel
    params: CoreParams
    info: bool = True
    segment_cdf: np.ndarray = field(init=False, repr=False)
    episode_bars: int = field(init=False)
    """Steps of a training episode (the settings' ``episode_length`` at the market's interval)."""

    def __post_init__(self) -> None:
        """Precompute the segments' sampling probabilities (proportional to length) and the episode length."""
        lengths = np.array([b - a for a, b in self.segments], dtype=np.float64)
        object.__setattr__(self, "segment_cdf", np.cumsum(lengths) / lengths.sum())
        object.__setattr__(self, "episode_bars", self.settings.episode_length(self.market.interval))

    @property
    def n_features(self) -> int:
        """Features per asset per bar (7 or 11)."""
        return int(self.features.shape[2])

    def sample_start_volume(self, rng: np.random.Generator) -> float:
        """The trailing volume an episode starts with: drawn in training when the settings give a range.

        No random number is drawn otherwise, so settings without a range replay as before.
        """
        s = self.settings
        if (
            self.mode == "eval"
            or s.starting_volume_max is None
            or s.starting_volume_max <= s.starting_volume_30d
        ):
            return s.starting_volume_30d
        return float(rng.uniform(s.starting_volume_30d, s.starting_volume_max))

    def sample_episode(self, rng: np.random.Generator) -> tuple[int, int]:
        """The decision bar an episode starts on and the last bar it marks.

        Training: a segment chosen with probability proportional to its length,
        a start uniform over the bars that leave ``episode_bars`` steps before
        its end (the whole segment if shorter). Eval: the segment's first bar
        to its last.
        """
        segments = self.segments
        if self.mode == "eval":
            a, b = segments[0]
            return a, b - 1
        k = min(int(np.searchsorted(self.segment_cdf, rng.random(), side="right")), len(segments) - 1)
        a, b = segments[k]
        steps = min(self.episode_bars, b - a - 1)
        start = int(rng.integers(a, b - steps))
        return start, start + steps


def build_setup(env_config: Mapping[str, Any] | None) -> EnvSetup:
    """Validate an ``env_config`` and derive what the env needs.

    Args:
        env_config: The dict (see the module docstring); ``None`` = all defaults.

    Returns:
        The validated setup.

    Raises:
        ConfigError: On unknown keys or inconsistent values.
    """
    cfg = dict(env_config or {})
    for key in cfg:
        if key not in ENV_CONFIG_KEYS:
            raise ConfigError(f"env_config: unknown key {key!r}; known keys: {', '.join(ENV_CONFIG_KEYS)}")
    info = cfg.get("info", True)
    if not isinstance(info, bool):
        raise ConfigError(f"env_config['info'] must be true or false, got {info!r}")
    settings = _settings(cfg.get("settings"))
    market = cfg.get("market")
    if market is None:
        from cappuccino_ray.data.synthetic import generate_market

        market = generate_market(DEFAULT_MARKET_BARS, seed=7)
    if not isinstance(market, MarketData):
        raise ConfigError(f"env_config['market'] must be a MarketData, got {type(market).__name__}")
    values, warmup = _features(market, cfg.get("features"), settings)
    segments = _segments(cfg.get("segments"), market.n_bars, warmup + settings.lookback - 1)
    mode = cfg.get("mode", "train")
    if mode not in ("train", "eval"):
        raise ConfigError(f"env_config['mode'] is {mode!r}; use 'train' or 'eval'")
    if mode == "eval" and len(segments) != 1:
        raise ConfigError(f"eval mode runs one segment; got {len(segments)}: build one env per segment")
    fee_model = build_fee_model(settings)
    params = CoreParams(
        initial_cash=settings.initial_cash,
        slippage=settings.slippage_bps / 10_000.0,
        min_order_usd=settings.min_order_usd,
        no_trade_band=settings.no_trade_band,
        max_hold_bars=settings.max_hold_bars(market.interval),
        window_bars=settings.window_bars(market.interval),
        starting_volume=settings.starting_volume_30d,
        reward_scale=settings.reward_scale,
    )
    return EnvSetup(
        market=market,
        features=values,
        warmup=warmup,
        segments=segments,
        mode=mode,
        settings=settings,
        fee_model=fee_model,
        params=params,
        info=info,
    )


def _settings(raw: Any) -> EnvSettings:
    if raw is None:
        return EnvSettings()
    if isinstance(raw, EnvSettings):
        return raw
    if not isinstance(raw, Mapping):
        raise ConfigError(f"env_config['settings'] must be a dict of EnvSettings fields, got {raw!r}")
    return from_mapping(EnvSettings, raw, source="env_config['settings']")


def _features(market: MarketData, raw: Any, settings: EnvSettings) -> tuple[np.ndarray, int]:
    want = N_ALL_FEATURES if settings.rolling_features else N_BASE_FEATURES
    if raw is None:
        raw = compute_features(market, rolling=settings.rolling_features)
    values = raw.values if hasattr(raw, "values") else raw
    warmup = int(getattr(raw, "warmup", 0))
    values = np.asarray(values)
    shape = (market.n_bars, market.n_assets)
    if values.ndim != 3 or values.shape[:2] != shape:
        raise ConfigError(
            f"env_config['features'] has shape {values.shape}; expected {shape} + (F,):"
            " compute them from the same market"
        )
    if values.shape[2] < want:
        raise ConfigError(
            f"env_config['features'] has {values.shape[2]} features per asset but the settings need {want}"
            " (rolling_features); compute them with compute_features(market, rolling=True)"
        )
    values = values[:, :, :want]
    clip = np.float32(settings.obs_clip)
    if values.dtype != np.float32 or not np.all(np.abs(values) <= clip):
        values = np.clip(np.nan_to_num(values.astype(np.float32), nan=0.0), -clip, clip)
    return np.ascontiguousarray(values), warmup


def _segments(raw: Any, n_bars: int, min_start: int) -> tuple[tuple[int, int], ...]:
    pairs = [(0, n_bars)] if raw is None else raw
    out: list[tuple[int, int]] = []
    for pair in pairs:
        try:
            a, b = (int(x) for x in pair)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"env_config['segments'] item {pair!r} is not a (start, stop) pair") from exc
        if not 0 <= a < b <= n_bars:
            raise ConfigError(f"segment ({a}, {b}) is outside the market's rows 0..{n_bars}")
        a = max(a, min_start)
        if b - a >= 2:
            out.append((a, b))
    if not out:
        raise ConfigError(
            f"no segment has 2 or more bars at or after bar {min_start} (feature warm-up + lookback - 1);"
            " give longer segments"
        )
    return tuple(out)


class Observer:
    """Writes observations of a batch of accounts (layout in :mod:`cappuccino_ray.env.spaces`).

    The feature part of every bar's observation is precomputed once (a
    ``(T, obs_size)`` float32 table with the weight and age slots empty) when
    it fits in ``max_table_bytes``; a step then gathers one row per account
    and writes the weights and ages. Larger tables are gathered on the fly.
    """

    def __init__(self, features: np.ndarray, lookback: int, max_table_bytes: int = 512 * 2**20) -> None:
        """Precompute the table (or keep a sliding window view) of the features."""
        n_bars, self.n_assets, self.n_features = features.shape
        self.lookback = lookback
        self.per_asset = per = 2 + self.n_features * lookback
        self.features = features
        self._windows = sliding_window_view(features, lookback, axis=0) if lookback > 1 else None
        self.table: np.ndarray | None = None
        if n_bars * self.n_assets * per * 4 <= max_table_bytes:
            table = np.zeros((n_bars, self.n_assets, per), dtype=np.float32)
            table[lookback - 1 :, :, 2:] = self._feature_block(np.arange(lookback - 1, n_bars))
            self.table = table.reshape(n_bars, -1)

    def _feature_block(self, bar: np.ndarray) -> np.ndarray:
        if self._windows is None:
            return self.features[bar]
        win = self._windows[bar - (self.lookback - 1)]  # (B, n, F, k)
        return win.transpose(0, 1, 3, 2).reshape(len(bar), self.n_assets, -1)

    def build(self, bar: np.ndarray, weights: np.ndarray, age_fraction: np.ndarray) -> np.ndarray:
        """Observations ``(B, obs_size)`` float32 for accounts at ``bar``.

        Args:
            bar: Each account's last marked bar, ``(B,)``.
            weights: Holding weights, ``(n, B)``.
            age_fraction: Position ages as fractions of the limit, ``(n, B)``.
        """
        per = self.per_asset
        if self.table is not None:
            out = np.take(self.table, bar, axis=0)
        else:
            block = np.empty((len(bar), self.n_assets, per), dtype=np.float32)
            block[:, :, 2:] = self._feature_block(bar)
            out = block.reshape(len(bar), -1)
        out[:, 0::per] = weights.T
        out[:, 1::per] = age_fraction.T
        return out

    def observe(self, core: MarketCore) -> np.ndarray:
        """:meth:`build` of every account of ``core`` at its last marked bar.

        With the table this is one compiled pass over the accounts (the
        environments' step); without it, :meth:`build` of the core's weights
        and ``age_fraction()``.
        """
        if self.table is None:
            return self.build(core.bar, core.weights, core.age_fraction())
        out = np.empty((core.n_copies, self.table.shape[1]), dtype=np.float32)
        # The kernel reads account-major arrays: the core's asset-major views transpose back to its own.
        max_hold = float(core.params.max_hold_bars)
        observe(self.table, core.bar, core.weights.T, core.age.T, max_hold, self.per_asset, out)
        return out
