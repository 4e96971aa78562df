"""Read a finished (or interrupted) Tune experiment into plain rows and pick winners.

Rows come from ``tune.ExperimentAnalysis`` on the experiment folder, so the same
code serves a job that just ran and one queried later (phase 2 reading phase 1).
Winners are picked by the one ranking rule of :mod:`cappuccino_ray.ranking`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cappuccino_ray import storage
from cappuccino_ray.config.agents import RUN_KEYS
from cappuccino_ray.errors import TrainingError
from cappuccino_ray.ranking import best_of, combo_label, finite_or_none, holding_days, ranked
from cappuccino_ray.storage import to_uri

__all__ = [
    "TrialRow",
    "best_per_combo",
    "best_row",
    "rows_from_experiment",
    "trial_counts",
]


@dataclass(frozen=True)
class TrialRow:
    """One trial's outcome."""

    trial_id: str
    status: str
    config: dict[str, Any]
    objective: float
    splits_done: int
    metrics: dict[str, Any] = field(default_factory=dict)
    checkpoint_path: str | None = None

    @property
    def combination(self) -> str:
        """Readable combination label."""
        return combo_label(self.config)

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The config without run keys (interval, seed, budget, ...)."""
        return {k: v for k, v in self.config.items() if k not in RUN_KEYS}

    def summary(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        return {
            "combination": self.combination,
            "algo": self.config.get("algo"),
            "holding_days": holding_days(self.config),
            "interval": self.config.get("interval"),
            "trial_id": self.trial_id,
            "status": self.status,
            "objective": finite_or_none(self.objective),
            "bot_sharpe": finite_or_none(self.metrics.get("bot_sharpe")),
            "bh_sharpe": finite_or_none(self.metrics.get("bh_sharpe")),
            "bot_return": finite_or_none(self.metrics.get("bot_return")),
            "train_forced_sales": self.metrics.get("train_forced_sales"),
            "splits_done": self.splits_done,
            "checkpoint_path": self.checkpoint_path,
            "hyperparameters": self.hyperparameters,
        }


def rows_from_experiment(path: str | Path, metric: str = "objective") -> list[TrialRow]:
    """Every trial of the Tune experiment in ``path``, with its last reported metrics.

    Args:
        path: The experiment folder (``<storage_path>/<name>``).
        metric: Result key of the objective.

    Raises:
        TrainingError: If ``path`` holds no Tune experiment.
    """
    from ray import tune

    try:
        analysis = tune.ExperimentAnalysis(storage.absolute(path))  # Tune needs an absolute path or a URI
    except Exception as exc:  # Tune raises several types for a missing or broken folder
        raise TrainingError(f"{path}: not a readable Tune experiment ({exc}); check the path") from exc
    rows = []
    for trial in analysis.trials:
        last = dict(trial.last_result or {})
        value = finite_or_none(last.get(metric))  # NaN in a curve row of a trial stopped in its first split
        objective = -math.inf if value is None else value
        ckpt = trial.checkpoint  # on the experiment's filesystem: a URI when that is remote
        rows.append(
            TrialRow(
                trial_id=str(trial.trial_id),
                status=str(trial.status),
                config={k: v for k, v in dict(trial.config).items() if not k.startswith("_")},
                objective=objective,
                splits_done=int(last.get("splits_done", 0) or 0),
                metrics={k: v for k, v in last.items() if k != "config"},
                checkpoint_path=to_uri(ckpt.filesystem, ckpt.path) if ckpt is not None else None,
            )
        )
    return rows


def best_row(rows: Sequence[TrialRow]) -> TrialRow:
    """The best trial: the highest objective among those scored on the most splits."""
    best = best_of(rows)
    if best is None:
        raise TrainingError("no trial reported a finite objective; check the trial logs in the run folder")
    return best


def best_per_combo(rows: Sequence[TrialRow]) -> list[TrialRow]:
    """Each combination's best trial, best first (combinations with no scored trial are left out)."""
    groups: dict[str, list[TrialRow]] = {}
    for r in rows:
        groups.setdefault(r.combination, []).append(r)
    return ranked(b for b in map(best_of, groups.values()) if b is not None)


def trial_counts(rows: Iterable[TrialRow]) -> dict[str, dict[str, int]]:
    """Per combination, trials by status (``TERMINATED``, ``ERROR``, ...) and in all."""
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        c = out.setdefault(r.combination, {"total": 0})
        c["total"] += 1
        c[r.status.lower()] = c.get(r.status.lower(), 0) + 1
    return dict(sorted(out.items()))
