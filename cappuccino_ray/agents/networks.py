"""The project's torch networks, shared by training (inside RLlib) and inference (plain torch).

No Ray import here: a deployed model is rebuilt from these classes and a
state dict. PPO uses :class:`PolicyNet` (a Gaussian actor: mean MLP and a
state-independent log-std) and :class:`ValueNet`; the double-DQN uses
:class:`QNet` (a plain or dueling Q-network).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MLP", "PolicyNet", "QNet", "ValueNet", "expand_first_layer", "mlp"]

#: Initial log standard deviation of PPO's Gaussian (std ~ 0.61 on actions in [-1, 1]).
INITIAL_LOG_STD = -0.5


class MLP(nn.Sequential):
    """``nn.Sequential`` of linear layers and activations, run as plain torch calls.

    Calling each layer as a module runs torch's hook machinery per layer: on
    the env runner's batch of 64 observations that took 40 % of a 2 x 64
    policy's forward pass (``bench/bench_train.py``). The layers stay
    registered as in ``nn.Sequential`` (same state-dict keys, same
    parameters), and :meth:`forward` calls ``F.linear`` and the activation on
    them directly, the same operations in the same order. The layers are
    fixed once built: ``append``, ``insert``, ``extend``, ``pop`` and item
    assignment or deletion raise (the forward plan would not see them).
    """

    def __init__(self, *layers: Any) -> None:
        """Register ``layers`` in order (``nn.Linear``, ``nn.Tanh``, ``nn.ReLU``; or one ``OrderedDict``)."""
        super().__init__(*layers)
        self._plan: list[tuple[nn.Linear, Any]] = []
        for layer in self._modules.values():
            if isinstance(layer, nn.Linear):
                self._plan.append((layer, None))
            elif isinstance(layer, nn.Tanh | nn.ReLU) and self._plan and self._plan[-1][1] is None:
                self._plan[-1] = (self._plan[-1][0], torch.tanh if isinstance(layer, nn.Tanh) else torch.relu)
            else:
                raise TypeError(f"MLP takes linear layers, each followed by at most one activation: {layer}")

    def _fixed(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("an MLP's layers are fixed once built; build a new one with mlp()")

    append = extend = insert = pop = __setitem__ = __delitem__ = __iadd__ = _fixed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The layers in order."""
        for lin, act in self._plan:
            x = F.linear(x, lin.weight, lin.bias)
            if act is not None:
                x = act(x)
        return x


def mlp(
    in_dim: int, hidden_size: int, n_layers: int, out_dim: int, *, activation: str, out_gain: float
) -> MLP:
    """A fully connected network with orthogonal initialisation.

    Args:
        in_dim: Input width.
        hidden_size: Width of every hidden layer.
        n_layers: Number of hidden layers (0 gives a linear map).
        out_dim: Output width.
        activation: ``"tanh"`` or ``"relu"``.
        out_gain: Gain of the output layer's orthogonal init (small for policy heads).

    Returns:
        The network; its first module is the input layer (see :func:`expand_first_layer`).
    """
    act: type[nn.Module] = nn.Tanh if activation == "tanh" else nn.ReLU
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(n_layers):
        lin = nn.Linear(width, hidden_size)
        nn.init.orthogonal_(lin.weight, gain=float(np.sqrt(2.0)))
        nn.init.zeros_(lin.bias)
        layers += [lin, act()]
        width = hidden_size
    out = nn.Linear(width, out_dim)
    nn.init.orthogonal_(out.weight, gain=out_gain)
    nn.init.zeros_(out.bias)
    layers.append(out)
    return MLP(*layers)


class PolicyNet(nn.Module):
    """Gaussian actor: ``mean = mlp(obs)``, ``log_std`` a learned vector."""

    def __init__(self, obs_dim: int, act_dim: int, hidden_size: int, n_layers: int) -> None:
        """Build the mean network and the log-std parameter."""
        super().__init__()
        self.mean = mlp(obs_dim, hidden_size, n_layers, act_dim, activation="tanh", out_gain=0.01)
        self.log_std = nn.Parameter(torch.full((act_dim,), INITIAL_LOG_STD))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Distribution inputs ``[mean, log_std]`` (RLlib's diagonal-Gaussian layout)."""
        mean = self.mean(obs)
        return torch.cat([mean, self.log_std.expand_as(mean)], dim=-1)


class ValueNet(nn.Module):
    """State-value critic ``V(obs)``."""

    def __init__(self, obs_dim: int, hidden_size: int, n_layers: int) -> None:
        """Build the value MLP."""
        super().__init__()
        self.net = mlp(obs_dim, hidden_size, n_layers, 1, activation="tanh", out_gain=1.0)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Values, shape ``(B,)``."""
        return self.net(obs).squeeze(-1)


class QNet(nn.Module):
    """Q-network over discrete actions; dueling splits it into value and advantage streams."""

    def __init__(self, obs_dim: int, n_actions: int, hidden_size: int, n_layers: int, dueling: bool) -> None:
        """Build the torso and heads.

        Args:
            obs_dim: Observation width.
            n_actions: Number of discrete actions.
            hidden_size: Hidden width.
            n_layers: Hidden layers (at least 1).
            dueling: ``Q = V + A - mean(A)`` instead of a single head.
        """
        super().__init__()
        self.dueling = dueling
        torso_layers = max(0, n_layers - 1)
        self.torso = mlp(obs_dim, hidden_size, torso_layers, hidden_size, activation="relu", out_gain=1.0)
        self.advantage = mlp(hidden_size, hidden_size, 0, n_actions, activation="relu", out_gain=0.01)
        self.value = mlp(hidden_size, hidden_size, 0, 1, activation="relu", out_gain=1.0) if dueling else None

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Q-values, shape ``(B, n_actions)``."""
        h = torch.relu(self.torso(obs))
        adv = self.advantage(h)
        if self.value is None:
            return adv
        return self.value(h) + adv - adv.mean(dim=-1, keepdim=True)


def expand_first_layer(
    old: torch.Tensor,
    *,
    n_assets: int,
    old_features: int,
    new_features: int,
    old_lookback: int,
    lookback: int,
) -> torch.Tensor:
    """Map a first-layer weight matrix to a wider observation (warm start, phase 1 -> 2).

    The observation is per asset ``[weight, age, x[t-k+1, :F], ..., x[t, :F]]``
    (see :mod:`cappuccino_ray.env.spaces`). Weight and age columns and the
    first ``old_features`` features of the most recent ``min(old_lookback,
    lookback)`` bars are copied; every new input (rolling features, older bars)
    starts at weight zero, so the warm-started network computes what the old
    one did until it learns to use them.

    Args:
        old: Weights, shape ``(hidden, n_assets * (2 + old_features * old_lookback))``.
        n_assets: Number of assets.
        old_features: Features per bar in the old observation.
        new_features: Features per bar in the new one (``>= old_features``).
        old_lookback: Bars per asset in the old observation.
        lookback: Bars per asset in the new observation.

    Returns:
        The new weight matrix, shape ``(hidden, n_assets * (2 + new_features * lookback))``.
    """
    old_per = 2 + old_features * old_lookback
    new_per = 2 + new_features * lookback
    new = torch.zeros((old.shape[0], n_assets * new_per), dtype=old.dtype)
    lags = min(old_lookback, lookback)
    for i in range(n_assets):
        new[:, i * new_per : i * new_per + 2] = old[:, i * old_per : i * old_per + 2]
        for back in range(1, lags + 1):
            src = i * old_per + 2 + (old_lookback - back) * old_features
            dst = i * new_per + 2 + (lookback - back) * new_features
            new[:, dst : dst + old_features] = old[:, src : src + old_features]
    return new
