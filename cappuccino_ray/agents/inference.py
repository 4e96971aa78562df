"""A trained agent as a small object: load a checkpoint folder, act on observations. No Ray.

``load_agent(path)`` rebuilds the network from ``agent.json`` and
``weights.pt`` with plain torch. :meth:`Agent.act` is deterministic: PPO
returns the Gaussian's mean clipped to [-1, 1], DDQN the greedy action.
:meth:`Agent.target_weights` turns an action into the portfolio weights the
env would aim for; :meth:`Agent.target_network_state` gives DDQN's
target-network weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from cappuccino_ray.agents.checkpoint import AgentSpec, read_agent_spec, read_weights
from cappuccino_ray.agents.networks import PolicyNet, QNet
from cappuccino_ray.errors import DeployError

__all__ = ["Agent", "load_agent"]


class Agent:
    """A deterministic policy rebuilt from a checkpoint.

    Args:
        spec: The checkpoint's description.
        state: Its weights.

    Raises:
        DeployError: If the weights do not fit the described network.
    """

    def __init__(self, spec: AgentSpec, state: dict[str, torch.Tensor]) -> None:
        """Build the network and load the weights."""
        self.spec = spec
        self._state = state
        net: torch.nn.Module
        if spec.algo == "ppo":
            net = PolicyNet(spec.obs_dim, spec.n_actions, spec.hidden_size, spec.n_layers)
            prefix = "pi."
        else:
            net = QNet(spec.obs_dim, spec.n_actions, spec.hidden_size, spec.n_layers, spec.dueling)
            prefix = "q."
        sub = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        try:
            net.load_state_dict(sub)
        except RuntimeError as exc:
            raise DeployError(f"the checkpoint's weights do not fit its {spec.algo} network: {exc}") from exc
        net.eval()
        self.net = net

    @property
    def algo(self) -> str:
        """``ppo`` or ``ddqn``."""
        return self.spec.algo

    @torch.no_grad()
    def act(self, obs: np.ndarray) -> Any:
        """Deterministic action(s) for one observation ``(obs_dim,)`` or a batch ``(B, obs_dim)``.

        Returns:
            PPO: float32 array ``(n_assets,)`` (or ``(B, n_assets)``) in [-1, 1].
            DDQN: an ``int`` (or an int64 array ``(B,)``).
        """
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32))
        single = x.dim() == 1
        if single:
            x = x.unsqueeze(0)
        if x.shape[-1] != self.spec.obs_dim:
            raise DeployError(
                f"observation has {x.shape[-1]} numbers; this agent expects {self.spec.obs_dim} "
                "(check lookback and phase: the env settings are in agent.json)"
            )
        if self.spec.algo == "ppo":
            mean = self.net(x)[:, : self.spec.n_actions]
            out = torch.clamp(mean, -1.0, 1.0).numpy()
            return out[0] if single else out
        actions = self.net(x).argmax(dim=-1).numpy()
        return int(actions[0]) if single else actions

    __call__ = act

    def target_weights(self, obs: np.ndarray) -> np.ndarray:
        """The portfolio weights the agent aims for from one observation.

        Returns:
            ``(n_assets,)`` weights; DDQN's ``NaN`` entries mean "keep this asset as it is".
        """
        from cappuccino_ray.env.spaces import continuous_to_weights, discrete_to_weights

        action = self.act(obs)
        if self.spec.algo == "ppo":
            return continuous_to_weights(np.asarray(action)[None, :])[0]
        levels = self.spec.env_settings.discrete_levels
        return discrete_to_weights(np.asarray([action]), self.spec.n_assets, levels)[0]

    def target_network_state(self) -> dict[str, torch.Tensor]:
        """DDQN's target-network weights (``target_q.*`` without the prefix); empty for PPO."""
        prefix = "target_q."
        return {k[len(prefix) :]: v for k, v in self._state.items() if k.startswith(prefix)}


def load_agent(path: str | Path) -> Agent:
    """Load a checkpoint folder into an :class:`Agent`.

    Args:
        path: A folder with ``agent.json`` and ``weights.pt``.

    Raises:
        DeployError: If the folder is not a readable agent checkpoint.
    """
    return Agent(read_agent_spec(path), read_weights(path))
