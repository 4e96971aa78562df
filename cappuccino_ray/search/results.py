"""Read a finished (or interrupted) Tune experiment into plain rows; pick winners; write JSON atomically.

Rows come from ``tune.ExperimentAnalysis`` on the experiment folder, so the same
code serves a job that just ran and one queried later (phase 2 reading phase 1).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cappuccino_ray.atomic import write_json_atomic
from cappuccino_ray.config.search import RUN_KEYS
from cappuccino_ray.errors import TrainingError
from cappuccino_ray.search.searcher import combo_label

__all__ = [
    "TEST_RETURNS_FILE",
    "TrialRow",
    "best_per_combo",
    "best_row",
    "read_test_returns",
    "rows_from_experiment",
    "trial_counts",
    "write_json_atomic",
]

TEST_RETURNS_FILE = "test_returns.npz"


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
            "holding_days": self.config.get("max_hold_days"),
            "interval": self.config.get("interval"),
            "trial_id": self.trial_id,
            "status": self.status,
            "objective": _finite_or_none(self.objective),
            "bot_sharpe": _finite_or_none(self.metrics.get("bot_sharpe")),
            "bh_sharpe": _finite_or_none(self.metrics.get("bh_sharpe")),
            "bot_return": _finite_or_none(self.metrics.get("bot_return")),
            "splits_done": self.splits_done,
            "checkpoint_path": self.checkpoint_path,
            "hyperparameters": self.hyperparameters,
        }


def _finite_or_none(value: Any) -> float | None:
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


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
        analysis = tune.ExperimentAnalysis(str(path))
    except Exception as exc:  # Tune raises several types for a missing or broken folder
        raise TrainingError(f"{path}: not a readable Tune experiment ({exc}); check the path") from exc
    rows = []
    for trial in analysis.trials:
        last = dict(trial.last_result or {})
        value = last.get(metric)
        objective = float(value) if isinstance(value, int | float) else -math.inf
        ckpt = trial.checkpoint
        rows.append(
            TrialRow(
                trial_id=str(trial.trial_id),
                status=str(trial.status),
                config={k: v for k, v in dict(trial.config).items() if not k.startswith("_")},
                objective=objective,
                splits_done=int(last.get("splits_done", 0) or 0),
                metrics={k: v for k, v in last.items() if k != "config"},
                checkpoint_path=str(ckpt.path) if ckpt is not None else None,
            )
        )
    return rows


def _rank_key(row: TrialRow, full_splits: int) -> tuple[bool, float]:
    # A trial scored on every split beats one ASHA stopped early: its objective
    # averages more test periods and is less likely a lucky draw.
    value = row.objective if math.isfinite(row.objective) else -math.inf
    return (row.splits_done >= full_splits, value)


def best_row(rows: Sequence[TrialRow]) -> TrialRow:
    """The best trial: the highest objective among those scored on the most splits."""
    scored = [r for r in rows if math.isfinite(r.objective)]
    if not scored:
        raise TrainingError("no trial reported a finite objective; check the trial logs in the run folder")
    full = max(r.splits_done for r in scored)
    return max(scored, key=lambda r: _rank_key(r, full))


def best_per_combo(rows: Sequence[TrialRow]) -> list[TrialRow]:
    """Each combination's best trial, best first."""
    groups: dict[str, list[TrialRow]] = {}
    for r in rows:
        groups.setdefault(r.combination, []).append(r)
    out = []
    for group in groups.values():
        try:
            out.append(best_row(group))
        except TrainingError:
            continue
    full = max((r.splits_done for r in out), default=0)
    return sorted(out, key=lambda r: _rank_key(r, full), reverse=True)


def trial_counts(rows: Iterable[TrialRow]) -> dict[str, dict[str, int]]:
    """Per combination, trials by status (``TERMINATED``, ``ERROR``, ...) and in all."""
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        c = out.setdefault(r.combination, {"total": 0})
        c["total"] += 1
        c[r.status.lower()] = c.get(r.status.lower(), 0) + 1
    return dict(sorted(out.items()))


def read_test_returns(checkpoint_path: str | None) -> np.ndarray | None:
    """The per-bar test returns saved with a trial's checkpoint, or ``None`` if absent.

    The trainable writes ``test_returns.npz``; every array in it is concatenated
    in key order (one array per split, or a single ``returns`` array).
    """
    if not checkpoint_path:
        return None
    path = Path(checkpoint_path) / TEST_RETURNS_FILE
    if not path.is_file():
        return None
    with np.load(path) as data:
        arrays = [np.asarray(data[k], dtype=np.float64).ravel() for k in sorted(data.files)]
    return np.concatenate(arrays) if arrays else None
