"""The mini two-phase job on real candles (../shared/data/crypto_1h): every output file's content."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from cappuccino_ray.config.search import RunConfig, load_search_configs
from cappuccino_ray.run_files import (
    PHASE1_ALL_RESULTS_FILE,
    PHASE1_DIR,
    PHASE1_WINNER_FILE,
    PHASE2_COMPARISON_FILE,
    PHASE2_DIR,
    TEST_RETURNS_FILE,
    TRAINING_REPORT_FILE,
)
from cappuccino_ray.search.pipeline import PipelineOptions, run_pipeline
from cappuccino_ray.validation import SegmentMetrics

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / ".." / "shared" / "data" / "crypto_1h"
REPORT_KEYS = {
    "status",
    "run_id",
    "run_dir",
    "mode",
    "started_at",
    "finished_at",
    "duration_s",
    "phase1",
    "phase2",
    "winner",
    "holdout",
    "pbo",
    "deflated_sharpe",
    "data_window",
    "trial_counts",
    "versions",
    "config",
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.is_dir(), reason=f"real candles not found at {DATA} (../shared/data)"),
]


def in_space(value: object, spec: object) -> bool:
    if spec.type == "categorical":  # type: ignore[attr-defined]
        return value in spec.choices  # type: ignore[attr-defined]
    return spec.low <= value <= spec.high  # type: ignore[attr-defined, operator]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    import ray

    results = tmp_path_factory.mktemp("results")
    # A copy of configs/ whose env.yaml changes the capital and the slippage: every trial and
    # checkpoint must show them (env.yaml is the one source of the env's settings).
    configs = tmp_path_factory.mktemp("configs")
    for f in (REPO / "configs").glob("*.yaml"):
        (configs / f.name).write_text(f.read_text())
    env_yaml = (configs / "env.yaml").read_text()
    env_yaml = env_yaml.replace("initial_cash: 100000.0", "initial_cash: 50000.0")
    (configs / "env.yaml").write_text(env_yaml.replace("slippage_bps: 5.0", "slippage_bps: 7.5"))
    opts = PipelineOptions(
        config_dir=configs,
        data=str(DATA),
        mini=True,
        seed=5,
        run=RunConfig(results_dir=str(results), verbose=False),
    )
    try:
        return run_pipeline(opts)
    finally:
        ray.shutdown()


def test_report_has_the_agreed_keys_and_values(report: dict[str, object]) -> None:
    assert set(report) == REPORT_KEYS
    assert report["status"] == "completed" and report["mode"] == "mini"
    run_dir = Path(str(report["run_dir"]))
    assert run_dir.name == report["run_id"] and "_mini_" in run_dir.name
    assert json.loads((run_dir / TRAINING_REPORT_FILE).read_text()) == report
    assert 0 < float(report["duration_s"]) < 300  # type: ignore[arg-type]
    assert report["started_at"] < report["finished_at"]  # type: ignore[operator]
    window = report["data_window"]
    assert window == {  # the real file's span, hold-out = last 15 %
        "start": "2021-05-01T00:00:00Z",
        "end": "2023-04-30T23:00:00Z",
        "holdout_start": window["holdout_start"],  # type: ignore[index]
    }
    assert "2022-12" < window["holdout_start"] < "2023-02"  # type: ignore[index, operator]
    assert set(report["versions"]) >= {"cappuccino_ray", "ray", "torch", "optuna"}  # type: ignore[arg-type]


def test_trial_counts_are_exact(report: dict[str, object]) -> None:
    p1, p2 = load_search_configs(REPO / "configs", mini=True)
    counts = report["trial_counts"]
    assert counts["phase1"] == p1.n_trials and counts["phase2"] == p2.n_trials  # type: ignore[index]
    assert counts["total"] == p1.n_trials + p2.n_trials  # type: ignore[index]
    by_combo = counts["phase1_by_combination"]  # type: ignore[index]
    assert len(by_combo) == len(p1.holding_days) * len(p1.intervals)
    assert all(c["total"] == p1.trials_per_combo for c in by_combo.values())
    assert all(c["total"] == p2.trials_per_algo for c in counts["phase2_by_algorithm"].values())  # type: ignore[index]


def test_phase1_files(report: dict[str, object]) -> None:
    p1, _ = load_search_configs(REPO / "configs", mini=True)
    exp = Path(str(report["run_dir"])) / PHASE1_DIR
    winner = json.loads((exp / PHASE1_WINNER_FILE).read_text())
    assert winner["holding_days"] in p1.holding_days and winner["interval"] in p1.intervals
    assert math.isfinite(winner["objective"]) and math.isfinite(winner["bot_sharpe"])
    assert math.isfinite(winner["bh_sharpe"])
    assert all(in_space(winner["hyperparameters"][k], spec) for k, spec in p1.space.items())
    assert (Path(winner["checkpoint_path"]) / TEST_RETURNS_FILE).is_file()
    assert winner["config"]["seed"] >= 5 * 100_000  # --seed 5 reached the trials
    every = json.loads((exp / PHASE1_ALL_RESULTS_FILE).read_text())
    assert len(every) == len(p1.holding_days) * len(p1.intervals)
    assert every[0]["trial_id"] == winner["trial_id"]
    assert all(r["n_trials"] == p1.trials_per_combo for r in every)
    assert {r["combination"] for r in every} == set(winner["trial_counts"])
    assert report["phase1"]["trial_id"] == winner["trial_id"]  # type: ignore[index]


def test_phase2_file_and_winner(report: dict[str, object]) -> None:
    from cappuccino_ray.agents.inference import load_agent

    exp = Path(str(report["run_dir"])) / PHASE2_DIR
    doc = json.loads((exp / PHASE2_COMPARISON_FILE).read_text())
    phase1 = report["phase1"]
    assert (doc["holding_days"], doc["interval"]) == (phase1["holding_days"], phase1["interval"])  # type: ignore[index]
    assert set(doc["algorithms"]) == {"ppo", "ddqn"}
    best = {a: doc["algorithms"][a]["best"]["objective"] for a in ("ppo", "ddqn")}
    assert doc["winner"]["trial_id"] in {doc["algorithms"][a]["best"]["trial_id"] for a in best}
    assert doc["objective"] == best[doc["winner_algorithm"]]
    assert report["winner"] == {  # type: ignore[comparison-overlap]
        "algorithm": doc["winner_algorithm"],
        "holding_days": doc["holding_days"],
        "interval": doc["interval"],
        "checkpoint_path": doc["checkpoint_path"],
        "objective": doc["objective"],
    }
    assert load_agent(doc["checkpoint_path"]).algo == doc["winner_algorithm"]
    assert report["pbo"] is None or 0.0 <= report["pbo"] <= 1.0  # type: ignore[operator]
    assert report["deflated_sharpe"] is None or 0.0 <= report["deflated_sharpe"] <= 1.0  # type: ignore[operator]
    assert doc["pbo"]["n_trials"] >= 1


def test_holdout_metrics(report: dict[str, object]) -> None:
    fields = {f.name for f in dataclasses.fields(SegmentMetrics)}
    hold = report["holdout"]
    assert set(hold["bot"]) == fields and set(hold["buy_and_hold"]) == fields  # type: ignore[index]
    assert hold["start"] >= report["data_window"]["holdout_start"]  # type: ignore[index]
    # The data's last bar at the winner's interval: 1h ends at 23:00, the last whole 4h bar opens at 20:00.
    last_bar = {"1h": "2023-04-30T23:00:00Z", "4h": "2023-04-30T20:00:00Z"}
    assert hold["end"] == last_bar[report["winner"]["interval"]]  # type: ignore[index]
    assert hold["bot"]["n_bars"] > 10 and math.isfinite(hold["bot"]["sharpe"])  # type: ignore[index]
    assert hold["buy_and_hold"]["n_trades"] == 0  # type: ignore[index]


def test_env_yaml_reaches_every_trial_and_the_winners_checkpoint(report: dict[str, object]) -> None:
    from cappuccino_ray.search.results import rows_from_experiment

    run_dir = Path(str(report["run_dir"]))
    for phase, fee_model in ((PHASE1_DIR, "flat"), (PHASE2_DIR, "tiered")):
        envs = [r.config["env"] for r in rows_from_experiment(run_dir / phase)]
        assert envs and all(e["initial_cash"] == 50_000.0 and e["slippage_bps"] == 7.5 for e in envs)
        assert all(e["fee_model"] == fee_model for e in envs)
    winner = report["phase2"]["checkpoint_path"]  # type: ignore[index]
    settings = json.loads((Path(winner) / "agent.json").read_text())["env_settings"]
    assert (settings["initial_cash"], settings["slippage_bps"], settings["fee_model"]) == (
        50_000.0,
        7.5,
        "tiered",
    )
    assert len(settings["fee_schedule"]["tiers"]) == 8  # the tiers inline, not a path
    assert settings["max_hold_days"] == report["phase1"]["holding_days"]  # type: ignore[index]
