"""The one place that turns a checkpoint's recorded env settings into what the env needs.

Every paper-trading and backtest path reads the mechanics of a checkpoint
(fees and tiers, slippage, holding limit, minimum order, band, look-back,
features) through :func:`env_settings_of`, so a change of the checkpoint
format is adapted here and nowhere else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cappuccino_ray.config.env import EnvSettings

if TYPE_CHECKING:  # torch is imported only where an agent is loaded
    from cappuccino_ray.agents.inference import Agent

__all__ = ["env_settings_of"]


def env_settings_of(agent: Agent) -> EnvSettings:
    """The ``settings`` entry of an ``env_config`` that reproduces the agent's training mechanics.

    A checkpoint (format 2) carries its whole settings, fee tiers inline, validated
    when it is read: they are used as they are, whatever ``configs/`` says now.

    Args:
        agent: A loaded checkpoint.

    Returns:
        The agent's :class:`~cappuccino_ray.config.env.EnvSettings`.
    """
    return agent.spec.env_settings
