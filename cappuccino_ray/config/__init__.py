"""Typed, frozen configuration objects, loaded from ``configs/*.yaml`` and validated at load."""

from cappuccino_ray.config._loader import bounds, from_mapping, load_config, load_yaml, override, to_dict
from cappuccino_ray.config.data import DataConfig, SyntheticConfig

__all__ = [
    "DataConfig",
    "SyntheticConfig",
    "bounds",
    "from_mapping",
    "load_config",
    "load_yaml",
    "override",
    "to_dict",
]
