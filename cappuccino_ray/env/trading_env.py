"""``CryptoTradingEnv``: the Gymnasium env, one account of the vectorised core.

Build it from an ``env_config`` dict (keys in :mod:`cappuccino_ray.env.setup`),
either positionally (RLlib) or as keyword arguments (``gymnasium.make``).
Episodes always end by truncation (a time limit): the portfolio itself
never reaches a terminal state. With ``env_config["info"] = False`` every
step and reset returns ``{}`` as its info.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from cappuccino_ray.env.core import MarketCore, StepBuffers, StepResult
from cappuccino_ray.env.setup import EnvSetup, Observer, build_setup
from cappuccino_ray.env.spaces import (
    action_space,
    continuous_to_weights,
    discrete_to_weights,
    observation_bounds,
)
from cappuccino_ray.errors import TrainingError

__all__ = ["CryptoTradingEnv", "info_columns", "merge_config", "reset_result", "row_info", "step_info"]


def merge_config(env_config: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """One dict from a positional ``env_config`` and keyword arguments (keywords win)."""
    merged = dict(env_config or {})
    merged.update(kwargs)
    return merged


def info_columns(res: StepResult) -> dict[str, np.ndarray]:
    """Every info key (the README's "Info keys") as an array over accounts.

    The one table of info keys: the single env reports one account's entries,
    the vector env all of them. Arrays are ``(B,)``, per-asset ones ``(n, B)``;
    they may be the core's own state, so copy what is kept.

    Args:
        res: A step's outcome, or :func:`reset_result` right after a reset.
    """
    return {
        "portfolio_value": res.value,
        "benchmark_value": res.benchmark,
        "cash": res.cash,
        "weights": res.weights,
        "fees": res.fees,
        "traded_value": res.traded,
        "n_trades": res.n_trades,
        "forced_sales": res.n_forced,
        "forced_assets": res.forced,
        "fee_tier": res.tier,
        "fee_rate": res.rate,
        "volume_30d": res.volume_30d,
        "bar": res.bar,
    }


def reset_result(core: MarketCore, rows: np.ndarray) -> StepResult:
    """What accounts ``rows`` report right after a reset: all cash, nothing traded, the entry rate.

    The benchmark has not been marked yet: it reports the portfolio's value.
    ``rows`` is an index array, so every array is new and none shares memory
    with another or with the core.
    """
    n, k = core.n_assets, len(rows)
    vol = core.volume_30d()[rows]
    rates = core.fee_model.rates(vol)
    return StepResult(
        reward=np.zeros(k),
        value=core.value[rows],
        cash=core.cash[rows],
        weights=np.zeros((n, k)),
        fees=np.zeros(k),
        traded=np.zeros(k),
        n_trades=np.zeros(k, dtype=np.int64),
        forced=np.zeros((n, k), dtype=bool),
        tier=rates.tier,
        rate=rates.rate,
        volume_30d=vol,
        bar=core.bar[rows],
        done=np.zeros(k, dtype=bool),
        benchmark=core.value[rows],
        n_forced=np.zeros(k, dtype=np.int64),
    )


def step_info(core: MarketCore, buffers: StepBuffers) -> dict[str, Any]:
    """A one-account core's info dict straight from its step's buffers.

    The same entries as ``row_info(info_columns(core.result(buffers)), 0)``
    (a test keeps them equal to the vector env's), read with two ``tolist``
    calls instead of one array access per key and without the result's
    copies: the single env's step with the info on, which evaluation takes.
    """
    value, cash, fees, traded, rate, volume, bench = buffers.out[1:, 0].tolist()
    n_trades, tier, n_forced = buffers.out_int[:, 0].tolist()
    return {
        "portfolio_value": value,
        "benchmark_value": bench,
        "cash": cash,
        "weights": core.weights[:, 0].copy(),
        "fees": fees,
        "traded_value": traded,
        "n_trades": n_trades,
        "forced_sales": n_forced,
        "forced_assets": buffers.forced[:, 0].copy(),
        "fee_tier": tier,
        "fee_rate": rate,
        "volume_30d": volume,
        "bar": int(core.bar[0]),
    }


def row_info(columns: Mapping[str, np.ndarray], row: int) -> dict[str, Any]:
    """Account ``row``'s info dict from :func:`info_columns`: numbers, and length-``n`` arrays."""
    return {key: a[:, row].copy() if a.ndim == 2 else a.item(row) for key, a in columns.items()}


class CryptoTradingEnv(gym.Env[np.ndarray, Any]):
    """Long-only trading of ``n`` assets plus cash on one market (``CryptoTrading-v1``).

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
            md.open,
            md.close,
            md.tradable,
            self.setup.fee_model,
            self.setup.params,
            n_copies=1,
            benchmark=self.setup.info,
        )
        self._observer = Observer(self.setup.features, s.lookback)
        self._rows = np.zeros(1, dtype=np.int64)
        self._active = False
        self._buffers = StepBuffers(md.n_assets, 1)
        self._target = np.empty((1, md.n_assets))

    def targets(self, action: Any) -> np.ndarray:
        """Target weights ``(1, n)`` of one action (``NaN`` = hold), in a buffer the next call reuses."""
        s = self.setup.settings
        if s.action_mode == "discrete":
            action = np.asarray(action).reshape(1)
            self._target[:] = discrete_to_weights(action, self.n_assets, s.discrete_levels)
            return self._target
        a = action if isinstance(action, np.ndarray) else np.asarray(action)
        return continuous_to_weights(a.reshape(1, self.n_assets), out=self._target)

    def _obs(self) -> np.ndarray:
        return self._observer.observe(self._core)[0]

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode (a random start in training mode, the segment's start in eval)."""
        super().reset(seed=seed)
        start, end = self.setup.sample_episode(self.np_random)
        volume = self.setup.sample_start_volume(self.np_random)
        self._core.reset_copies(self._rows, np.array([start]), np.array([end]), np.array([volume]))
        self._active = True
        if not self.setup.info:
            return self._obs(), {}
        res = reset_result(self._core, self._rows)
        return self._obs(), row_info(info_columns(res), 0)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Fill the action's orders at the next bar's open and mark at its close."""
        if not self._active:
            raise TrainingError("step() called before reset() or after the episode ended; call reset()")
        core, buf = self._core, self._buffers
        core.advance(self.targets(action), buf)
        truncated = bool(buf.done[0])
        self._active = not truncated
        info = {}
        if self.setup.info:
            info = step_info(core, buf)
        return self._obs(), float(buf.out[0, 0]), False, truncated, info
