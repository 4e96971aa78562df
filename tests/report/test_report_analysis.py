"""Numbers behind the report: heatmap cells, inferred distributions, importances, verdicts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cappuccino_ray.report.analysis import (
    HeatmapCell,
    cells_from_json,
    cells_from_trials,
    dsr_verdict,
    infer_distributions,
    param_importances,
    pbo_verdict,
)
from cappuccino_ray.report.queries import TrialRecord


def _t(
    i: int,
    *,
    interval: str = "1h",
    hold: float = 3,
    obj: float | None = 0.0,
    algo: str = "ppo",
    params: dict | None = None,
    phase: int = 1,
) -> TrialRecord:
    return TrialRecord(
        experiment="e",
        trial_id=str(i),
        status="TERMINATED",
        algo=algo,
        interval=interval,
        max_hold_days=hold,
        phase=phase,
        objective=obj,
        params=params or {},
    )


def test_cells_take_the_best_objective_and_count_every_trial() -> None:
    trials = [
        _t(1, interval="4h", hold=3, obj=0.2),
        _t(2, interval="4h", hold=3, obj=0.5),
        _t(3, interval="4h", hold=3, obj=None),
        _t(4, interval="1h", hold=3, obj=0.1),
        _t(5, interval="1h", hold=7, obj=None),
        _t(6, interval="1h", hold=7, obj=0.9, phase=2),
    ]
    assert cells_from_trials(trials) == [
        HeatmapCell(3, "1h", 0.1, 1),
        HeatmapCell(3, "4h", 0.5, 3),
        HeatmapCell(7, "1h", None, 1),
    ]


def test_cells_from_phase1_all_results_json() -> None:
    # Rows as summarise_phase1 writes them (TrialRow.summary() plus n_trials).
    rows = [
        {
            "holding_days": 7,
            "interval": "4h",
            "objective": 0.3,
            "splits_done": 3,
            "n_trials": 5,
            "trial_id": "x",
        },
        {"holding_days": 3, "interval": "15m", "objective": None, "splits_done": 0, "n_trials": 2},
        {"interval": "1h"},
    ]
    assert cells_from_json(rows) == [HeatmapCell(3, "15m", None, 2, 0), HeatmapCell(7, "4h", 0.3, 5, 3)]
    assert cells_from_json(None) == []


def test_infer_distributions_spans_the_values_tried_and_drops_constants() -> None:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    params = [
        {"lr": 1e-5, "epochs": 2, "act": "relu", "gamma": 0.99},
        {"lr": 1e-2, "epochs": 5, "act": "tanh", "gamma": 0.99},
    ]
    d = infer_distributions(params)
    assert d["lr"] == FloatDistribution(1e-5, 1e-2, log=True)
    assert d["epochs"] == IntDistribution(2, 5)
    assert d["act"] == CategoricalDistribution(["relu", "tanh"])
    assert "gamma" not in d


def test_importances_rank_the_parameter_that_drives_the_objective() -> None:
    rng = np.random.default_rng(0)
    trials = []
    for i in range(24):
        lr, noise = float(rng.uniform(0, 1)), float(rng.uniform(0, 1))
        trials.append(_t(i, obj=-((lr - 0.3) ** 2) + 0.001 * noise, params={"lr": lr, "noise": noise}))
    scores, note = param_importances(trials)
    assert note == ""
    assert scores["ppo"]["lr"] > scores["ppo"]["noise"]
    assert param_importances(trials) == (scores, note)  # deterministic


def test_importances_degrade_gracefully_with_few_or_constant_trials() -> None:
    few = [_t(i, obj=float(i), params={"lr": i}) for i in range(2)]
    scores, note = param_importances(few)
    assert scores == {} and "2 finished trials, need 4" in note
    constant = [_t(i, obj=float(i), params={"lr": 0.1}) for i in range(5)]
    assert param_importances(constant) == ({}, "ppo: no hyperparameter varied")
    assert param_importances([]) == ({}, "")


@pytest.mark.parametrize(
    ("pbo", "words"),
    [(0.05, "low risk"), (0.31, "moderate risk"), (0.5, "high risk"), (0.9, "high risk")],
)
def test_pbo_verdict_thresholds(pbo: float, words: str) -> None:
    assert words in pbo_verdict(pbo)


def test_pbo_verdict_reads_as_documented() -> None:
    assert pbo_verdict(0.31) == (
        "PBO 0.31: the in-sample winner ranked below the median out of sample in 31% of "
        "combinations — moderate risk of overfitting."
    )


@given(st.floats(0, 1))
def test_dsr_verdict_always_names_the_value(dsr: float) -> None:
    text = dsr_verdict(dsr, 12)
    assert f"{dsr:.2f}" in text and "12 trials" in text
    expected = "strong" if dsr >= 0.95 else ("weak" if dsr >= 0.5 else "no evidence")
    assert expected in text
