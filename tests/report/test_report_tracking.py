"""Tracking switch: MLflow is off by default and needs its package when switched on."""

from __future__ import annotations

import importlib.util

import pytest

from cappuccino_ray.config import from_mapping
from cappuccino_ray.config.tracking import TrackingConfig
from cappuccino_ray.errors import ConfigError
from cappuccino_ray.report.tracking import tracking_callbacks


def test_default_is_off_and_adds_no_callback() -> None:
    cfg = from_mapping(TrackingConfig, {}, source="tracking.yaml")
    assert cfg.mlflow is False
    assert tracking_callbacks(cfg) == []


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is not None, reason="mlflow is installed here")
def test_switched_on_without_mlflow_says_how_to_fix() -> None:
    cfg = from_mapping(TrackingConfig, {"mlflow": True, "tracking_uri": "file:./mlruns"}, source="t.yaml")
    with pytest.raises(ConfigError, match="pip install mlflow"):
        tracking_callbacks(cfg)


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is None, reason="mlflow is not installed")
def test_switched_on_with_mlflow_gives_the_tune_callback() -> None:
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    cfg = TrackingConfig(mlflow=True, tracking_uri="file:./mlruns")
    (cb,) = tracking_callbacks(cfg)
    assert isinstance(cb, MLflowLoggerCallback)


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="did you mean 'mlflow'"):
        from_mapping(TrackingConfig, {"mlflw": True}, source="t.yaml")
    with pytest.raises(ConfigError, match="mlflow must be true or false"):
        from_mapping(TrackingConfig, {"mlflow": "yes"}, source="t.yaml")
    with pytest.raises(ConfigError, match="experiment_name is empty"):
        from_mapping(TrackingConfig, {"mlflow": True, "experiment_name": " "}, source="t.yaml")
