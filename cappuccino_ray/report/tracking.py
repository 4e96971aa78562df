"""Tune callbacks for experiment tracking, switched on by :class:`TrackingConfig`.

TensorBoard needs no callback: Tune writes event files into every trial folder
when ``tensorboardX`` is installed (``tensorboard --logdir results/<run>``).
"""

from __future__ import annotations

import importlib.util
from typing import Any

from cappuccino_ray.config.tracking import TrackingConfig
from cappuccino_ray.errors import ConfigError

__all__ = ["tracking_callbacks"]


def tracking_callbacks(cfg: TrackingConfig) -> list[Any]:
    """The Tune callbacks to pass to ``tune.RunConfig(callbacks=...)``.

    Args:
        cfg: The tracking settings.

    Returns:
        An empty list when MLflow is off, else one ``MLflowLoggerCallback``.

    Raises:
        ConfigError: If MLflow is switched on but the ``mlflow`` package is missing.
    """
    if not cfg.mlflow:
        return []
    if importlib.util.find_spec("mlflow") is None:
        raise ConfigError(
            "tracking.mlflow is true but the mlflow package is not installed; "
            "run `pip install mlflow` or set tracking.mlflow: false"
        )
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    return [
        MLflowLoggerCallback(
            tracking_uri=cfg.tracking_uri or None,
            experiment_name=cfg.experiment_name,
            save_artifact=cfg.save_artifact,
        )
    ]
