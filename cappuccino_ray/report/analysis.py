"""The numbers behind the report: phase-1 cells, parameter importances, verdicts on PBO and DSR.

Parameter importances come from Optuna: a study is rebuilt from the finished
trials with ``optuna.trial.create_trial`` (distributions inferred from the
values tried) and scored with ``optuna.importance.get_param_importances`` using
PED-ANOVA (Optuna's evaluator that needs no scikit-learn, and is deterministic).
With too few trials there is nothing to rank, and the report says so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cappuccino_ray.intervals import INTERVALS
from cappuccino_ray.ranking import best_of, finite_or_none
from cappuccino_ray.report.queries import TrialRecord

__all__ = [
    "MIN_TRIALS_FOR_IMPORTANCE",
    "HeatmapCell",
    "cells_from_json",
    "cells_from_trials",
    "dsr_verdict",
    "infer_distributions",
    "param_importances",
    "pbo_verdict",
]

#: Fewest finished trials (of one algorithm) for which importances are computed.
MIN_TRIALS_FOR_IMPORTANCE = 4


@dataclass(frozen=True)
class HeatmapCell:
    """One phase-1 combination: its best trial's objective and how many trials it ran.

    The best trial is the search's (:func:`cappuccino_ray.ranking.best_of`):
    the highest objective among the trials scored on the most CPCV splits.
    """

    holding_days: float
    interval: str
    best_objective: float | None
    n_trials: int
    splits_done: int = 0
    """CPCV splits the best trial was scored on (ranks the cells as the search does)."""


def _interval_key(interval: str) -> float:
    return float(INTERVALS.get(interval, 10**9))


def cells_from_trials(trials: Iterable[TrialRecord]) -> list[HeatmapCell]:
    """Phase-1 cells from trial records (trials without an objective still count)."""
    groups: dict[tuple[float, str], list[TrialRecord]] = {}
    for t in trials:
        if t.phase == 1 and t.max_hold_days is not None and t.interval:
            groups.setdefault((t.max_hold_days, t.interval), []).append(t)
    cells = []
    for (days, interval), members in groups.items():
        best = best_of(members)
        cells.append(
            HeatmapCell(
                days,
                interval,
                None if best is None else best.objective,
                len(members),
                0 if best is None else best.splits_done,
            )
        )
    return _in_grid_order(cells)


def cells_from_json(rows: Any) -> list[HeatmapCell]:
    """Phase-1 cells from ``phase1_all_results.json``: a list of rows as the search writes them.

    Each row holds ``holding_days``, ``interval``, ``objective``, ``splits_done`` and
    ``n_trials`` (see :func:`cappuccino_ray.search.phase1.summarise_phase1`); rows
    without ``holding_days`` or ``interval`` are skipped.
    """
    cells = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, Mapping):
            continue
        days, interval = finite_or_none(row.get("holding_days")), row.get("interval")
        if days is None or interval is None:
            continue
        count, splits = row.get("n_trials"), row.get("splits_done")
        cells.append(
            HeatmapCell(
                days,
                str(interval),
                finite_or_none(row.get("objective")),
                count if isinstance(count, int) else 0,
                splits if isinstance(splits, int) else 0,
            )
        )
    return _in_grid_order(cells)


def _in_grid_order(cells: list[HeatmapCell]) -> list[HeatmapCell]:
    return sorted(cells, key=lambda c: (c.holding_days, _interval_key(c.interval)))


def infer_distributions(params: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Optuna distributions spanning the values each parameter took; constants are left out.

    Numbers become ``IntDistribution``/``FloatDistribution`` over [min, max]
    (log scale when positive and spanning more than two decades); anything else
    becomes a ``CategoricalDistribution`` of the values seen.
    """
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    names = set.intersection(*(set(p) for p in params)) if params else set()
    for name in sorted(names):
        values = [p[name] for p in params]
        distinct = sorted(set(map(repr, values)))
        if len(distinct) < 2:
            continue
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if numeric and all(math.isfinite(v) for v in values):
            lo, hi = min(values), max(values)
            log = lo > 0 and hi / lo > 100
            if all(isinstance(v, int) for v in values):
                out[name] = IntDistribution(int(lo), int(hi), log=log)
            else:
                out[name] = FloatDistribution(float(lo), float(hi), log=log)
        elif all(isinstance(v, str | bool | int | float) or v is None for v in values):
            out[name] = CategoricalDistribution(sorted(set(values), key=repr))
    return out


def param_importances(trials: Iterable[TrialRecord]) -> tuple[dict[str, dict[str, float]], str]:
    """Importances (PED-ANOVA) of the hyperparameters, per algorithm.

    Args:
        trials: Trial records; only those with an objective are used.

    Returns:
        ``({algo: {param: importance}}, note)``; the note explains any algorithm left out.
    """
    import optuna
    from optuna.importance import PedAnovaImportanceEvaluator

    by_algo: dict[str, list[TrialRecord]] = {}
    for t in trials:
        if t.objective is not None:
            by_algo.setdefault(t.algo or "?", []).append(t)
    result: dict[str, dict[str, float]] = {}
    notes = []
    for algo, members in sorted(by_algo.items()):
        if len(members) < MIN_TRIALS_FOR_IMPORTANCE:
            notes.append(f"{algo}: {len(members)} finished trials, need {MIN_TRIALS_FOR_IMPORTANCE}")
            continue
        dists = infer_distributions([t.params for t in members])
        if not dists:
            notes.append(f"{algo}: no hyperparameter varied")
            continue
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="maximize")
        study.add_trials(
            [
                optuna.trial.create_trial(
                    params={k: t.params[k] for k in dists},
                    distributions=dists,
                    value=t.objective,
                )
                for t in members
            ]
        )
        try:
            scores = optuna.importance.get_param_importances(study, evaluator=PedAnovaImportanceEvaluator())
        except (ValueError, RuntimeError) as exc:
            notes.append(f"{algo}: importances unavailable ({exc})")
            continue
        result[algo] = {k: float(v) for k, v in scores.items()}
    return result, "; ".join(notes)


def pbo_verdict(pbo: float) -> str:
    """A plain-language reading of the probability of backtest overfitting."""
    pct = round(100 * pbo)
    what = (
        f"PBO {pbo:.2f}: the in-sample winner ranked below the median out of sample in {pct}% of combinations"
    )
    if pbo < 0.2:
        return f"{what} — low risk of overfitting."
    if pbo < 0.5:
        return f"{what} — moderate risk of overfitting."
    return f"{what} — high risk: picking the best in-sample did no better than chance."


def dsr_verdict(dsr: float, n_trials: int | None = None) -> str:
    """A plain-language reading of the deflated Sharpe ratio (a probability in [0, 1])."""
    tried = f" after {n_trials} trials" if n_trials else ""
    what = (
        f"Deflated Sharpe {dsr:.2f}: the probability that the winner's true Sharpe ratio "
        f"is above zero, allowing for the search{tried}"
    )
    if dsr >= 0.95:
        return f"{what} — strong evidence of skill."
    if dsr >= 0.5:
        return f"{what} — weak evidence: the result may be luck of the search."
    return f"{what} — no evidence of skill: the Sharpe ratio is explained by the number of trials."
