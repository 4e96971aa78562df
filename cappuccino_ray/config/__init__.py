"""Typed, frozen configuration objects, loaded from ``configs/*.yaml`` and validated at load.

One module per concern: ``data``, ``env`` (environment and fee schedules),
``validation`` (hold-out, CPCV, objective), ``agents`` (hyperparameters and
trial settings), ``search`` (phases 1 and 2, the whole run), ``ops``
(schedule, deploy gate, notifications) and ``tracking``.
"""

from cappuccino_ray.config._loader import bounds, from_mapping, load_config, load_yaml, override, to_dict
from cappuccino_ray.config.data import DataConfig, SyntheticConfig
from cappuccino_ray.config.env import EnvSettings, FeeSchedule, FeeTier
from cappuccino_ray.config.ops import DeployConfig, GateConfig, NotifyConfig, ScheduleConfig
from cappuccino_ray.config.tracking import TrackingConfig
from cappuccino_ray.config.validation import ValidationConfig

__all__ = [
    "DataConfig",
    "DeployConfig",
    "EnvSettings",
    "FeeSchedule",
    "FeeTier",
    "GateConfig",
    "NotifyConfig",
    "ScheduleConfig",
    "SyntheticConfig",
    "TrackingConfig",
    "ValidationConfig",
    "bounds",
    "from_mapping",
    "load_config",
    "load_yaml",
    "override",
    "to_dict",
]
