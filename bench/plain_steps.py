"""One learner minibatch step written in plain torch, for ``bench_iteration.py``'s floor rows.

Each function takes a built algorithm of the project (PPO or double-DQN),
copies its learner's networks, and returns a function that runs the same
minibatch step as RLlib's learner on a given minibatch (RLlib's column names):
the same forward passes, the loss terms that reach the gradient, global-norm
clipping and a fused Adam step, with none of the learner's bookkeeping (no
distribution objects, no logged statistics). It is the floor of what any
learner of these networks and losses costs in this process.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

_LOG_SQRT_2PI = math.log(math.sqrt(2 * math.pi))


def ppo_step(algo: Any, module: Any) -> Callable[[dict[str, torch.Tensor]], None]:
    """RLlib's PPO minibatch step (clipped surrogate, clipped squared value error; no KL, no entropy)."""
    from cappuccino_ray.agents import rllib_names as rl

    cfg = algo.config
    if cfg.use_kl_loss or cfg.entropy_coeff:
        raise ValueError("the plain PPO step leaves out the KL and entropy terms; the bench sets neither")
    pi, vf = copy.deepcopy(module.pi), copy.deepcopy(module.vf)
    params = [*pi.parameters(), *vf.parameters()]
    opt = torch.optim.Adam(params, lr=float(cfg.lr), fused=True)
    clip, vf_clip, vf_coeff = float(cfg.clip_param), float(cfg.vf_clip_param), float(cfg.vf_loss_coeff)
    grad_clip = float(cfg.grad_clip)

    def step(mb: dict[str, torch.Tensor]) -> None:
        for p in params:
            p.grad = None
        loc, log_std = pi(mb[rl.OBS]).chunk(2, dim=-1)
        scale = log_std.exp()
        logp = (-((mb[rl.ACTIONS] - loc) ** 2) / (2 * scale**2) - scale.log() - _LOG_SQRT_2PI).sum(-1)
        ratio = torch.exp(logp - mb[rl.ACTION_LOGP])
        adv = mb[rl.ADVANTAGES]
        surrogate = torch.min(adv * ratio, adv * torch.clamp(ratio, 1 - clip, 1 + clip))
        vf_loss = torch.clamp((vf(mb[rl.OBS]) - mb[rl.VALUE_TARGETS]) ** 2, 0, vf_clip)
        torch.mean(-surrogate + vf_coeff * vf_loss).backward()
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
        opt.step()

    return step


def ddqn_step(algo: Any, module: Any) -> Callable[[dict[str, torch.Tensor]], None]:
    """RLlib's double-DQN minibatch step (Huber TD error, the online net picks a', the target values it)."""
    from cappuccino_ray.agents import rllib_names as rl

    cfg = algo.config
    q, target = copy.deepcopy(module.q), copy.deepcopy(module._target_q)
    params = list(q.parameters())
    opt = torch.optim.Adam(params, lr=float(cfg.lr), fused=True)
    gamma, grad_clip = float(cfg.gamma), float(cfg.grad_clip)

    def step(mb: dict[str, torch.Tensor]) -> None:
        for p in params:
            p.grad = None
        q_now, q_next = q(torch.cat([mb[rl.OBS], mb[rl.NEXT_OBS]])).chunk(2)
        with torch.no_grad():
            best = target(mb[rl.NEXT_OBS]).gather(1, q_next.argmax(1, keepdim=True)).squeeze(1)
            y = mb[rl.REWARDS] + gamma ** mb["n_step"] * (1.0 - mb[rl.TERMINATEDS].float()) * best
        chosen = q_now.gather(1, mb[rl.ACTIONS].long().unsqueeze(1)).squeeze(1)
        F.huber_loss(chosen, y).backward()
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
        opt.step()

    return step
