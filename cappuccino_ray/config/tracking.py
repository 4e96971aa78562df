"""Experiment tracking configuration: optional MLflow logging next to Tune's own output.

Tune always writes ``progress.csv``, ``result.json`` and TensorBoard event files
into each trial's folder; MLflow is an extra, off by default, because it needs
the ``mlflow`` package and a tracking server or folder.
"""

from __future__ import annotations

from dataclasses import dataclass

from cappuccino_ray.errors import ConfigError

__all__ = ["TrackingConfig"]


@dataclass(frozen=True)
class TrackingConfig:
    """Where trial metrics are logged besides the run folder."""

    mlflow: bool = False
    """Log every trial to MLflow through Tune's ``MLflowLoggerCallback`` (needs ``pip install mlflow``)."""
    tracking_uri: str = ""
    """MLflow tracking URI (``http://host:5000`` or ``file:./mlruns``); empty = MLflow's default."""
    experiment_name: str = "cappuccino_ray"
    """MLflow experiment the trials are logged under."""
    save_artifact: bool = False
    """Also upload each trial's folder (checkpoints included) as MLflow artifacts."""

    def validate(self) -> None:
        """An experiment name is needed when MLflow is on."""
        if self.mlflow and not self.experiment_name.strip():
            raise ConfigError("experiment_name is empty; name the MLflow experiment, e.g. cappuccino_ray")
