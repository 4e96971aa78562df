"""The per-combination searcher: exact fair shares, round-robin order, one study per cell, save/restore."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ray.tune.search import Searcher

from cappuccino_ray.config.search import ParamSpec
from cappuccino_ray.errors import ConfigError
from cappuccino_ray.ranking import combo_label
from cappuccino_ray.search.rows import ITERATION_ROW, RESULT_KIND, SPLIT_ROW
from cappuccino_ray.search.searcher import ComboSearcher
from cappuccino_ray.search.space import fit_point, to_optuna

SPACE = {
    "lr": ParamSpec(type="float", low=1e-5, high=1e-4, log=True),
    "hidden_size": ParamSpec(type="categorical", choices=(16, 32, 64)),
    "lookback": ParamSpec(type="int", low=1, high=5),
}
COMBOS = [{"env": {"max_hold_days": d}, "interval": i} for d in (3, 7) for i in ("1h", "4h", "30m")]


def make(trials: int = 4, seed: int = 0, **kw: object) -> ComboSearcher:
    return ComboSearcher(
        COMBOS, [SPACE] * len(COMBOS), trials_per_combo=trials, seed=seed, base_config={"phase": 1}, **kw
    )


def drain(s: ComboSearcher, prefix: str = "t") -> list[dict[str, object]]:
    out = []
    k = 0
    while True:
        cfg = s.suggest(f"{prefix}{k}")
        if cfg == Searcher.FINISHED:
            return out
        assert cfg is not None
        out.append(cfg)
        k += 1


def test_every_combination_gets_exactly_n_trials_in_turn() -> None:
    s = make(trials=4)
    configs = drain(s)
    assert len(configs) == 24 == s.total_trials
    counts = Counter((c["env"]["max_hold_days"], c["interval"]) for c in configs)
    assert set(counts.values()) == {4} and len(counts) == 6
    # Round-robin: the first six trials visit all six cells once.
    assert {(c["env"]["max_hold_days"], c["interval"]) for c in configs[:6]} == set(counts)
    assert [c["trial_index"] for c in configs] == list(range(24))
    assert all(c["phase"] == 1 for c in configs)
    assert combo_label(configs[0]) == "3d/1h"


def test_sampled_values_stay_in_the_space() -> None:
    for c in drain(make(trials=5)):
        assert 1e-5 <= float(c["lr"]) <= 1e-4  # type: ignore[arg-type]
        assert c["hidden_size"] in (16, 32, 64)
        assert c["lookback"] in range(1, 6)


def test_same_seed_same_suggestions_other_seed_differs() -> None:
    a, b, c = drain(make(seed=3)), drain(make(seed=3)), drain(make(seed=4))
    assert a == b
    assert [x["lr"] for x in a] != [x["lr"] for x in c]


def test_results_go_to_the_study_that_proposed_the_trial() -> None:
    s = make(trials=2)
    configs = drain(s)
    for k, cfg in enumerate(configs):
        s.on_trial_complete(f"t{k}", {"objective": -abs(math.log10(float(cfg["lr"])) + 4.5)})  # type: ignore[arg-type]
    assert [s.study_trials(i) for i in range(len(COMBOS))] == [2] * len(COMBOS)
    assert s.completed == [2] * len(COMBOS)
    # An unknown trial id is ignored rather than crashing the job, and changes nothing.
    before = (list(s.issued), list(s.completed), dict(s.trial_combo))
    s.on_trial_result("nope", {"objective": 1.0})
    s.on_trial_complete("nope", {"objective": 1.0})
    assert (list(s.issued), list(s.completed), dict(s.trial_combo)) == before
    assert [s.study_trials(i) for i in range(len(COMBOS))] == [2] * len(COMBOS)


def test_a_study_hears_the_split_rows_and_not_the_learning_curve() -> None:
    heard: list[dict[str, object]] = []

    class Study(Searcher):
        def on_trial_result(self, trial_id: str, result: dict) -> None:  # type: ignore[type-arg]
            heard.append(result)

    s = make(trials=1)
    drain(s)
    s.searchers[s.trial_combo["t0"]] = Study()
    curve = {"objective": float("nan"), "splits_done": 0, RESULT_KIND: ITERATION_ROW}
    split = {"objective": 0.5, "splits_done": 1, RESULT_KIND: SPLIT_ROW}
    for row in (curve, split, {**curve, "objective": 0.5, "splits_done": 1}, {"objective": 0.7}):
        s.on_trial_result("t0", row)
    assert heard == [split, {"objective": 0.7}]  # a row without a kind is a split row (older runs)


def test_points_to_evaluate_come_first_fitted_into_the_space() -> None:
    seed_point = {"lr": 1.0, "hidden_size": 30, "lookback": 9, "unrelated": 1}
    s = ComboSearcher(
        [{"algo": "ppo"}, {"algo": "ddqn"}],
        [SPACE, SPACE],
        trials_per_combo=2,
        points_to_evaluate=[[seed_point], []],
    )
    first = s.suggest("a")
    assert first is not None and first != Searcher.FINISHED
    assert first["algo"] == "ppo"
    assert (first["lr"], first["hidden_size"], first["lookback"]) == (1e-4, 32, 5)


def test_save_restore_continues_the_same_sequence(tmp_path: Path) -> None:
    s = make(trials=3, seed=1)
    part = [s.suggest(f"t{k}") for k in range(7)]
    for k in range(5):
        s.on_trial_complete(f"t{k}", {"objective": float(k)})
    s.save(str(tmp_path / "state.pkl"))
    rest_original = drain(s, prefix="u")

    restored = make(trials=1, seed=99)  # different settings: restore must replace them all
    restored.restore(str(tmp_path / "state.pkl"))
    assert restored.issued == [2, 1, 1, 1, 1, 1] and restored.trials_per_combo == 3
    # Trials proposed before the save can still report to their study.
    restored.on_trial_complete("t6", {"objective": 1.0})
    assert drain(restored, prefix="u") == rest_original
    assert len(part) + len(rest_original) == 18


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="one search space per combination"):
        ComboSearcher(COMBOS, [SPACE], trials_per_combo=1)
    with pytest.raises(ConfigError, match="trials_per_combo"):
        ComboSearcher(COMBOS, [SPACE] * 6, trials_per_combo=0)


def test_combo_label() -> None:
    assert combo_label({"env": {"max_hold_days": 7}, "interval": "1h", "algo": "ppo"}) == "7d/1h"
    assert combo_label({"env": {"max_hold_days": 3.5}, "interval": "4h"}) == "3.5d/4h"
    assert combo_label({"algo": "ddqn"}) == "ddqn"
    assert combo_label({"phase": 2, "algo": "ppo", "interval": "1h", "max_hold_days": 3}) == "ppo"
    assert combo_label({}) == "all"


def test_to_optuna_kinds() -> None:
    d = to_optuna(SPACE)
    assert type(d["lr"]).__name__ == "FloatDistribution" and d["lr"].log
    assert type(d["lookback"]).__name__ == "IntDistribution"
    assert list(d["hidden_size"].choices) == [16, 32, 64]


@settings(max_examples=60, deadline=None)
@given(
    lr=st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.none(), st.text(max_size=3)),
    hidden=st.one_of(st.integers(-1000, 1000), st.text(max_size=3)),
    lookback=st.one_of(st.floats(-100, 100), st.integers(-100, 100)),
)
def test_fit_point_always_lands_in_the_space(lr: object, hidden: object, lookback: object) -> None:
    p = fit_point({"lr": lr, "hidden_size": hidden, "lookback": lookback}, SPACE)
    assert set(p) == set(SPACE)
    assert 1e-5 <= p["lr"] <= 1e-4
    assert p["hidden_size"] in (16, 32, 64)
    assert isinstance(p["lookback"], int) and 1 <= p["lookback"] <= 5
