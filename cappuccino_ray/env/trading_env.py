"""``CryptoTradingEnv``: the Gymnasium env, one account of the vectorised core.

Build it from an ``env_config`` dict (keys in :mod:`cappuccino_ray.env.setup`),
either positionally (RLlib) or as keyword arguments (``gymnasium.make``).
Episodes always end by truncation (a time limit): the portfolio itself
never reaches a terminal state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from cappuccino_ray.env.core import MarketCore, StepResult
from cappuccino_ray.env.setup import EnvSetup, Observer, build_setup, sample_episode
from cappuccino_ray.env.spaces import (
    action_space,
    continuous_to_weights,
    discrete_to_weights,
    observation_bounds,
)
from cappuccino_ray.errors import TrainingError

__all__ = ["CryptoTradingEnv", "merge_config", "reset_info", "step_info"]


def merge_config(env_config: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """One dict from a positional ``env_config`` and keyword arguments (keywords win)."""
    merged = dict(env_config or {})
    merged.update(kwargs)
    return merged


def step_info(res: StepResult, row: int) -> dict[str, Any]:
    """The info dict of account ``row`` after a step (keys documented in the README)."""
    return {
        "portfolio_value": float(res.value[row]),
        "benchmark_value": float(res.benchmark_value[row]),
        "cash": float(res.cash[row]),
        "weights": res.weights[:, row].copy(),
        "fees": float(res.fees[row]),
        "traded_value": float(res.traded[row]),
        "n_trades": int(res.n_trades[row]),
        "forced_sales": int(res.n_forced[row]),
        "forced_assets": res.forced[:, row].copy(),
        "fee_tier": int(res.tier[row]),
        "fee_rate": float(res.rate[row]),
        "volume_30d": float(res.volume_30d[row]),
        "bar": int(res.bar[row]),
    }


def reset_info(core: MarketCore, row: int) -> dict[str, Any]:
    """The info dict of account ``row`` right after a reset (nothing traded yet)."""
    n = core.n_assets
    vol = core.volume_30d()[row : row + 1]
    rates = core.fee_model.rates(vol)
    return {
        "portfolio_value": float(core.value[row]),
        "benchmark_value": float(core.value[row]),
        "cash": float(core.cash[row]),
        "weights": np.zeros(n),
        "fees": 0.0,
        "traded_value": 0.0,
        "n_trades": 0,
        "forced_sales": 0,
        "forced_assets": np.zeros(n, dtype=bool),
        "fee_tier": int(rates.tier[0]),
        "fee_rate": float(rates.rate[0]),
        "volume_30d": float(vol[0]),
        "bar": int(core.bar[row]),
    }


class CryptoTradingEnv(gym.Env[np.ndarray, Any]):
    """Long-only trading of ``n`` assets plus cash on one market (``CryptoTrading-v0``).

    Args:
        env_config: The ``env_config`` dict; ``None`` = a phase-1 env on generated data.
        **kwargs: The same keys as keyword arguments (``gymnasium.make`` passes them so).
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012

    def __init__(self, env_config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        """Validate the config and build the one-account core."""
        super().__init__()
        self.setup: EnvSetup = build_setup(merge_config(env_config, kwargs))
        s = self.setup.settings
        md = self.setup.market
        self.n_assets = md.n_assets
        self.observation_space = observation_bounds(
            md.n_assets, self.setup.n_features, s.lookback, s.obs_clip
        )
        self.action_space = action_space(md.n_assets, s.action_mode, s.discrete_levels)
        self._core = MarketCore(
            md.open, md.close, md.tradable, self.setup.fee_model, self.setup.params, n_copies=1
        )
        self._observer = Observer(self.setup.features, s.lookback)
        self._rows = np.zeros(1, dtype=np.int64)
        self._active = False

    def targets(self, action: Any) -> np.ndarray:
        """Target weights ``(1, n)`` of one action (``NaN`` = hold)."""
        s = self.setup.settings
        if s.action_mode == "discrete":
            return discrete_to_weights(np.asarray(action).reshape(1), self.n_assets, s.discrete_levels)
        return continuous_to_weights(np.asarray(action, dtype=np.float64).reshape(1, self.n_assets))

    def _obs(self) -> np.ndarray:
        c = self._core
        return self._observer.build(c.bar, c.weights, c.age_fraction())[0]

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode (a random start in training mode, the segment's start in eval)."""
        super().reset(seed=seed)
        s = self.setup
        start, end = sample_episode(self.np_random, s.segments, s.settings.episode_bars, s.mode)
        self._core.reset_copies(self._rows, np.array([start]), np.array([end]))
        self._active = True
        return self._obs(), reset_info(self._core, 0)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Fill the action's orders at the next bar's open and mark at its close."""
        if not self._active:
            raise TrainingError("step() called before reset() or after the episode ended; call reset()")
        res = self._core.step(self.targets(action).T)
        truncated = bool(res.done[0])
        self._active = not truncated
        return self._obs(), float(res.reward[0]), False, truncated, step_info(res, 0)
