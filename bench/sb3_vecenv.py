"""A Stable-Baselines3 ``VecEnv`` over the project's numpy vector env (for ``bench_train.py``).

SB3 resets a finished copy in the same step (the step returns the reset
observation; the final one goes in ``infos[i]["terminal_observation"]``,
with ``"TimeLimit.truncated"`` so SB3 bootstraps from it), whereas the
project's vector env resets it on the next step (Gymnasium's next-step
autoreset). The adapter resets finished copies itself right after the step,
through the vector env's own reset of those rows, so SB3 sees its usual
contract and every SB3 step is a real env step. SB3 is only needed for the
benchmark (the ``bench`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv

from cappuccino_ray.env import CryptoTradingVectorEnv


class ProjectVecEnv(VecEnv):
    """SB3 view of a :class:`~cappuccino_ray.env.CryptoTradingVectorEnv`.

    Args:
        num_envs: Env copies.
        env_config: The env's config dict (``info`` is turned off).
        seed: Seed of the first reset (copy ``i`` gets ``seed + i``).
    """

    def __init__(self, num_envs: int, env_config: dict[str, Any], seed: int = 0) -> None:
        """Build the vector env."""
        self.venv = CryptoTradingVectorEnv(num_envs=num_envs, env_config={**env_config, "info": False})
        super().__init__(num_envs, self.venv.single_observation_space, self.venv.single_action_space)
        self._seed = seed
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        """Reset every copy (seeded on the first call)."""
        obs, _ = self.venv.reset(seed=self._seed)
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        """Remember the actions for :meth:`step_wait`."""
        self._actions = actions

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """Step every copy; finished copies are reset in the same step (SB3's contract)."""
        venv = self.venv
        obs, reward, term, trunc, _ = venv.step(self._actions)
        done = term | trunc
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        rows = np.flatnonzero(done)
        if len(rows):
            for i in rows.tolist():
                infos[i] = {"terminal_observation": obs[i], "TimeLimit.truncated": bool(trunc[i])}
            # The vector env would reset these rows on its next step; do it now instead.
            venv._reset_rows(rows)
            venv._autoreset[rows] = False
            obs = venv._observe()
        return obs, reward.astype(np.float32), done, infos

    def close(self) -> None:
        """Nothing to release."""

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        """The vector env's attribute, once per copy."""
        return [getattr(self.venv, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        """Set an attribute on the vector env."""
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
        """Call a method of the vector env once."""
        return [getattr(self.venv, method_name)(*args, **kwargs)]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        """No copy is wrapped."""
        return [False] * len(self._indices(indices))

    def _indices(self, indices: Any) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else list(indices)
