"""cappuccino_ray: a two-phase Ray Tune search for crypto trading agents."""

from cappuccino_ray.errors import (
    CappuccinoError,
    ConfigError,
    DataError,
    DeployError,
    TrainingError,
)

__version__ = "0.1.0"

__all__ = [
    "CappuccinoError",
    "ConfigError",
    "DataError",
    "DeployError",
    "TrainingError",
    "__version__",
]
