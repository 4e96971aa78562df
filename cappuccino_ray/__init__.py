"""cappuccino_ray: a two-phase Ray Tune search for crypto trading agents.

Importing the package registers ``CryptoTrading-v1`` with Gymnasium (its
convention: importing a package registers its envs), by entry-point strings,
so neither the env modules nor Ray nor torch are imported here.
"""

from cappuccino_ray.errors import (
    CappuccinoError,
    ConfigError,
    DataError,
    DeployError,
    TrainingError,
)

__version__ = "0.1.0"


def _register_gym_env() -> None:
    """Register ``CryptoTrading-v1`` (and its vector entry point) with Gymnasium, once."""
    from gymnasium.envs.registration import register, registry

    if "CryptoTrading-v1" not in registry:
        register(
            id="CryptoTrading-v1",
            entry_point="cappuccino_ray.env.trading_env:CryptoTradingEnv",
            vector_entry_point="cappuccino_ray.env.vector_env:CryptoTradingVectorEnv",
            disable_env_checker=True,
        )


_register_gym_env()

__all__ = [
    "CappuccinoError",
    "ConfigError",
    "DataError",
    "DeployError",
    "TrainingError",
    "__version__",
]
