"""``CryptoTradingVectorEnv``: ``num_envs`` accounts of the core stepped in one numpy call.

Copy ``i`` draws its episode starts from its own generator, seeded
``seed + i`` by ``reset(seed=seed)``, so it behaves exactly like a
:class:`~cappuccino_ray.env.trading_env.CryptoTradingEnv` reset with
``seed + i``. Autoreset is Gymnasium's default next-step mode: the step after
a copy's episode ends ignores its action and returns its reset observation,
reward 0 and the reset's info. The info holds one array per key over the
copies, with ``_key`` masks; with ``env_config["info"] = False`` it is ``{}``
(what RLlib trains with: it splits every info into per-copy dicts, in Python).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from cappuccino_ray.env.core import MarketCore, StepBuffers
from cappuccino_ray.env.setup import EnvSetup, Observer, build_setup
from cappuccino_ray.env.spaces import (
    action_space,
    continuous_to_weights,
    discrete_to_weights,
    observation_bounds,
)
from cappuccino_ray.env.trading_env import info_columns, merge_config, reset_result
from cappuccino_ray.errors import ConfigError

__all__ = ["CryptoTradingVectorEnv"]


class CryptoTradingVectorEnv(VectorEnv):
    """A batch of ``CryptoTrading-v1`` copies over one market.

    Args:
        num_envs: Number of copies.
        env_config: The ``env_config`` dict (RLlib may add ``num_envs`` to it).
        **kwargs: The same keys as keyword arguments.
    """

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}  # noqa: RUF012

    def __init__(self, num_envs: int = 1, env_config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        """Validate the config and build the ``num_envs``-account core."""
        cfg = merge_config(env_config, kwargs)
        num_envs = int(cfg.pop("num_envs", num_envs))
        cfg.pop("max_episode_steps", None)
        if num_envs < 1:
            raise ConfigError(f"num_envs must be >= 1, got {num_envs}")
        self.setup: EnvSetup = build_setup(cfg)
        s = self.setup.settings
        md = self.setup.market
        self.num_envs = num_envs
        self.n_assets = md.n_assets
        self.single_observation_space = observation_bounds(
            md.n_assets, self.setup.n_features, s.lookback, s.obs_clip
        )
        self.single_action_space = action_space(md.n_assets, s.action_mode, s.discrete_levels)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._core = MarketCore(
            md.open,
            md.close,
            md.tradable,
            self.setup.fee_model,
            self.setup.params,
            n_copies=num_envs,
            benchmark=self.setup.info,
        )
        self._observer = Observer(self.setup.features, s.lookback)
        self._rngs: list[np.random.Generator] | None = None
        self._autoreset = np.zeros(num_envs, dtype=bool)
        self._forced_total = 0
        self._all = np.arange(num_envs)

    @property
    def forced_sales_total(self) -> int:
        """Forced sales of every copy's real steps so far (training reports it)."""
        return self._forced_total

    def targets(self, actions: Any) -> np.ndarray:
        """Target weights ``(num_envs, n)`` of a batch of actions (``NaN`` = hold), C-contiguous."""
        s = self.setup.settings
        if s.action_mode == "discrete":
            return discrete_to_weights(np.asarray(actions), self.n_assets, s.discrete_levels)
        return continuous_to_weights(np.asarray(actions).reshape(self.num_envs, self.n_assets))

    def _reset_rows(self, rows: np.ndarray) -> None:
        assert self._rngs is not None
        bounds = [self.setup.sample_episode(self._rngs[i]) for i in rows]
        starts = np.array([a for a, _ in bounds], dtype=np.int64)
        ends = np.array([b for _, b in bounds], dtype=np.int64)
        volume = np.array([self.setup.sample_start_volume(self._rngs[i]) for i in rows])
        self._core.reset_copies(rows, starts, ends, volume)

    def _observe(self) -> np.ndarray:
        return self._observer.observe(self._core)

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every copy; ``seed`` (an int) seeds copy ``i`` with ``seed + i``."""
        if isinstance(seed, list):
            if len(seed) != self.num_envs:
                raise ConfigError(f"reset got {len(seed)} seeds for {self.num_envs} copies")
            self._rngs = [seeding.np_random(sd)[0] for sd in seed]
        elif seed is not None:
            self._rngs = [seeding.np_random(seed + i)[0] for i in range(self.num_envs)]
        elif self._rngs is None:
            self._rngs = [seeding.np_random()[0] for _ in range(self.num_envs)]
        self._reset_rows(self._all)
        self._autoreset = np.zeros(self.num_envs, dtype=bool)  # rebound: the last step returned the old one
        if not self.setup.info:
            return self._observe(), {}
        res = reset_result(self._core, self._all)
        return self._observe(), _batch_info(info_columns(res))

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every copy; copies whose episode ended last step are reset instead."""
        core = self._core
        buf = StepBuffers(self.n_assets, self.num_envs)
        core.advance(self.targets(actions), buf)
        reward = buf.out[0]
        truncated = buf.done
        info = _batch_info(info_columns(core.result(buf))) if self.setup.info else {}
        rows = np.nonzero(self._autoreset)[0]
        # Copies reset this step stepped a finished episode: their results, forced sales too, are void.
        n_forced = buf.out_int[2]  # forced sales per copy, counted by the kernel
        self._forced_total += int(n_forced.sum()) - int(n_forced[rows].sum())
        if len(rows):
            self._reset_rows(rows)
            reward[rows] = 0.0
            truncated[rows] = False
            if info:
                fresh = reset_result(core, rows)
                for key, a in info_columns(fresh).items():
                    info[key][rows] = a.T if a.ndim == 2 else a
        self._autoreset = truncated
        terminated = np.zeros(self.num_envs, dtype=bool)
        return self._observe(), reward, terminated, truncated, info


def _batch_info(columns: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The vector info of :func:`info_columns`, ``(num_envs, ...)``, with all-true ``_key`` masks.

    The arrays are taken as they are (per-asset ones transposed): both sources
    give arrays of their own, none shared with the core or another key (a
    step's fresh buffers and the result's copies; :func:`reset_result`'s new
    arrays).
    """
    info: dict[str, Any] = {key: a.T if a.ndim == 2 else a for key, a in columns.items()}
    mask = np.ones(len(info["bar"]), dtype=bool)
    info.update({f"_{k}": mask for k in list(info)})
    return info
