"""Experiment tracking configuration: learning curves and optional MLflow logging.

Tune always writes ``progress.csv``, ``result.json`` and TensorBoard event files
into each trial's folder: one row per CPCV split, and while a split trains a
learning-curve row at most every ``curve_every_s`` seconds. MLflow is an extra,
off by default, because it needs the ``mlflow`` package and a tracking server
or folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cappuccino_ray.config._loader import bounds
from cappuccino_ray.errors import ConfigError

__all__ = ["TrackingConfig"]


@dataclass(frozen=True)
class TrackingConfig:
    """Where trial metrics are logged besides the run folder."""

    curve_every_s: float = field(default=2.0, metadata=bounds(ge=0.0))
    """Seconds between learning-curve rows (episode return, losses, env steps/s) a trial reports to
    Tune while a split trains; 0 reports only the per-split rows. A row costs the trial a round
    trip to the driver (about 2 ms on one machine), so every 2 s costs 0.1 % of training."""
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
