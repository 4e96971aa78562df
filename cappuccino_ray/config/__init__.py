"""Typed, frozen configuration objects, loaded from ``configs/*.yaml`` and validated at load.

One module per concern: ``data``, ``env`` (environment and fee schedules),
``agents`` (hyperparameters and trial settings, including the CPCV split and the
objective), ``search`` (phases 1 and 2, the whole run and its hold-out), ``ops``
(schedule, deploy gate, notifications) and ``tracking``.
"""

from cappuccino_ray.config._loader import bounds, from_mapping, load_config, load_yaml, override, to_dict
from cappuccino_ray.config.data import DataConfig, SyntheticConfig
from cappuccino_ray.config.env import EnvSettings, FeeSchedule, FeeTier
from cappuccino_ray.config.ops import DeployConfig, GateConfig, NotifyConfig, ScheduleConfig
from cappuccino_ray.config.tracking import TrackingConfig

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
    "bounds",
    "from_mapping",
    "load_config",
    "load_yaml",
    "override",
    "to_dict",
]
