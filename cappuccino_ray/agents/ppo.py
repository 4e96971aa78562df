"""PPO: RLlib's PPO learner with the project's lean actor-critic RLModule.

What is RLlib's: the PPO algorithm (GAE, clipped surrogate, value clipping,
minibatch SGD), the env runner and the connectors. What is the project's:
:class:`PPOModule` (separate tanh MLPs for actor and critic, a state-free
log-std), the config builder :func:`build_ppo_config` and the warm start that
maps a phase-1 first layer onto the wider phase-2 observation.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import torch

from cappuccino_ray.agents import rllib_names as rl
from cappuccino_ray.agents.checkpoint import read_weights
from cappuccino_ray.agents.networks import PolicyNet, ValueNet, expand_first_layer
from cappuccino_ray.agents.rllib_config import algorithm_config
from cappuccino_ray.config.agents import PPOParams, rllib_training
from cappuccino_ray.documents import WarmStart

__all__ = ["PPOModule", "build_ppo_config", "load_warm_start"]


class PPOModule(rl.TrainModeOnce, rl.ValueFunctionAPI):
    """Actor-critic module: ``pi`` gives Gaussian inputs ``[mean, log_std]``, ``vf`` the value.

    ``model_config`` keys: ``hidden_size``, ``n_layers`` and optionally
    ``warm_start`` (a :class:`~cappuccino_ray.documents.WarmStart` as JSON data).
    """

    def setup(self) -> None:
        """Build the networks (and load warm-start weights if configured)."""
        mc: dict[str, Any] = dict(cast(dict[str, Any], self.model_config))
        obs_space: Any = self.observation_space
        act_space: Any = self.action_space
        obs_dim = int(np.prod(obs_space.shape))
        act_dim = int(np.prod(act_space.shape))
        self.pi = PolicyNet(obs_dim, act_dim, int(mc["hidden_size"]), int(mc["n_layers"]))
        self.vf = ValueNet(obs_dim, int(mc["hidden_size"]), int(mc["n_layers"]))
        warm = mc.get("warm_start")
        if warm:
            state = load_warm_start(WarmStart.from_json(warm, source="model_config['warm_start']"))
            self.pi.load_state_dict(state["pi"])
            self.vf.load_state_dict(state["vf"])

    def _forward(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {rl.ACTION_DIST_INPUTS: self.pi(batch[rl.OBS])}

    def compute_values(self, batch: dict[str, Any], embeddings: Any = None) -> torch.Tensor:
        """Critic values for ``batch[obs]``, shape ``(B,)``."""
        return self.vf(batch[rl.OBS])


def load_warm_start(warm: WarmStart) -> dict[str, dict[str, torch.Tensor]]:
    """Read a PPO checkpoint's weights, widening the first layers to a new observation.

    Args:
        warm: The checkpoint and the old and new observation shapes.

    Returns:
        ``{"pi": state_dict, "vf": state_dict}`` for :class:`PolicyNet` / :class:`ValueNet`.
    """
    state = read_weights(warm.checkpoint)
    out: dict[str, dict[str, torch.Tensor]] = {}
    for net, first in (("pi", "mean.0.weight"), ("vf", "net.0.weight")):
        sd = {k[len(net) + 1 :]: v for k, v in state.items() if k.startswith(f"{net}.")}
        sd[first] = expand_first_layer(
            sd[first],
            n_assets=warm.n_assets,
            old_features=warm.old_features,
            new_features=warm.new_features,
            old_lookback=warm.old_lookback,
            lookback=warm.lookback,
        )
        out[net] = sd
    return out


def build_ppo_config(
    params: PPOParams,
    *,
    env: str | type,
    env_config: dict[str, Any],
    seed: int,
    num_gpus: float = 0.0,
    warm_start: WarmStart | None = None,
    fast_runner: bool = True,
) -> rl.AlgorithmConfig:
    """An RLlib PPO config for ``params`` on ``env``.

    Args:
        params: Validated PPO hyperparameters.
        env: Registered env id (``CryptoTrading-v1``) or an env class.
        env_config: The env's config dict.
        seed: Seed of RLlib, torch and the env copies.
        num_gpus: GPUs (fractions allowed) for the learner.
        warm_start: Where the first weights come from, or ``None`` for a fresh start.
        fast_runner: Sample with the project's vector env runner (see
            :func:`~cappuccino_ray.agents.rllib_config.algorithm_config`).

    Returns:
        The ``AlgorithmConfig`` (call ``.build_algo()`` to train).
    """
    model_config: dict[str, Any] = {"hidden_size": params.hidden_size, "n_layers": params.n_layers}
    if warm_start is not None:
        model_config["warm_start"] = warm_start.to_json()
    # The declared hyperparameters (config.agents), plus what follows from them.
    training = {**rllib_training(params), "use_kl_loss": params.kl_coeff > 0}
    # Each env copy fills an equal share of the batch per iteration.
    fragment = max(1, -(-params.train_batch_size // params.num_envs))
    return algorithm_config(
        "ppo",
        env=env,
        env_config=env_config,
        module_class=PPOModule,
        model_config=model_config,
        training=training,
        seed=seed,
        num_envs=params.num_envs,
        rollout_fragment_length=fragment,
        num_gpus=num_gpus,
        vector_entry_point=isinstance(env, str),
        fast_runner=fast_runner,
    )
