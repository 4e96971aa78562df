"""Agents: RLlib PPO and the project's double-DQN, their checkpoints and a Ray-free inference object.

Importing this package does not import Ray: :func:`load_agent` and
:class:`Agent` need torch only. The training side lives in
:mod:`~cappuccino_ray.agents.ppo`, :mod:`~cappuccino_ray.agents.ddqn` and
:mod:`~cappuccino_ray.agents.training`; every RLlib name is in
:mod:`~cappuccino_ray.agents.rllib_names`.
"""

from cappuccino_ray.agents.checkpoint import AgentSpec, read_agent_spec, save_agent
from cappuccino_ray.agents.inference import Agent, load_agent

__all__ = ["Agent", "AgentSpec", "load_agent", "read_agent_spec", "save_agent"]
