"""The trading environment ``CryptoTrading-v1``: fees, holding limits, the vectorised core.

``gymnasium.make("CryptoTrading-v1")`` (after :func:`register_envs`) builds a
phase-1 env on generated data; ``gymnasium.make_vec(..., vectorization_mode=
"vector_entry_point")`` builds :class:`CryptoTradingVectorEnv`. RLlib finds
the same id through ``ray.tune.registry`` once :func:`register_envs` ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym

from cappuccino_ray.env.core import CoreParams, MarketCore, StepResult, execute_orders
from cappuccino_ray.env.fees import FeeModel, FeeRates, FlatFees, TieredFees, build_fee_model
from cappuccino_ray.env.setup import ENV_CONFIG_KEYS, EnvSetup, build_setup
from cappuccino_ray.env.spaces import (
    continuous_to_weights,
    discrete_to_weights,
    observation_size,
)
from cappuccino_ray.env.trading_env import CryptoTradingEnv
from cappuccino_ray.env.vector_env import CryptoTradingVectorEnv

__all__ = [
    "ENV_CONFIG_KEYS",
    "ENV_ID",
    "CoreParams",
    "CryptoTradingEnv",
    "CryptoTradingVectorEnv",
    "EnvSetup",
    "FeeModel",
    "FeeRates",
    "FlatFees",
    "MarketCore",
    "StepResult",
    "TieredFees",
    "build_fee_model",
    "build_setup",
    "continuous_to_weights",
    "discrete_to_weights",
    "env_creator",
    "execute_orders",
    "observation_size",
    "register_envs",
]

#: The versioned id; bump it when reward, fees or observations change.
ENV_ID = "CryptoTrading-v1"


def env_creator(env_config: Mapping[str, Any] | None = None) -> CryptoTradingEnv | CryptoTradingVectorEnv:
    """Build the env RLlib asks for: the vector env when ``num_envs`` is in the config.

    RLlib calls a ``register_env`` creator with the ``env_config`` (plus
    ``num_envs`` when it wants a vector env).
    """
    cfg = dict(env_config or {})
    if "num_envs" in cfg:
        return CryptoTradingVectorEnv(env_config=cfg)
    return CryptoTradingEnv(cfg)


def register_envs() -> None:
    """Register ``CryptoTrading-v1`` with Gymnasium and with Ray Tune (idempotent)."""
    if ENV_ID not in gym.registry:
        gym.register(
            id=ENV_ID,
            entry_point="cappuccino_ray.env.trading_env:CryptoTradingEnv",
            vector_entry_point="cappuccino_ray.env.vector_env:CryptoTradingVectorEnv",
            disable_env_checker=True,
        )
    from ray.tune.registry import register_env

    register_env(ENV_ID, env_creator)
