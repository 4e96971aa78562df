"""Pipeline pieces that need no Ray: options, run folders, hold-out cut, winner lookup, JSON writing."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from cappuccino_ray.atomic import write_json_atomic
from cappuccino_ray.cli.search import options_from_args, register
from cappuccino_ray.data.synthetic import generate_market
from cappuccino_ray.errors import ConfigError, DataError, TrainingError
from cappuccino_ray.run_files import PHASE1_WINNER_FILE, PHASE2_COMPARISON_FILE
from cappuccino_ray.search.markets import split_markets
from cappuccino_ray.search.phase1 import load_phase1_winner
from cappuccino_ray.search.phase2 import load_phase2_comparison
from cappuccino_ray.search.pipeline import PipelineOptions, find_run_dir, run_pipeline
from cappuccino_ray.search.results import TrialRow, best_per_combo, best_row


def test_phase2_only_needs_phase1_results() -> None:
    with pytest.raises(ConfigError, match="--phase1-results"):
        run_pipeline(PipelineOptions(phase2_only=True))


def test_find_run_dir_picks_the_newest_of_the_same_config(tmp_path: Path) -> None:
    for name in ("20260101-000000_mini_abc", "20260102-000000_mini_abc", "20260103-000000_full_abc"):
        (tmp_path / name).mkdir()
    assert find_run_dir(tmp_path, "mini", "abc") == tmp_path / "20260102-000000_mini_abc"
    assert find_run_dir(tmp_path, "mini", "zzz") is None


def test_holdout_is_cut_before_resampling_and_never_searched() -> None:
    md = generate_market(1000, n_assets=2, interval="1h", seed=3)
    data = split_markets(md, ["1h", "4h"], 0.15)
    cut = np.datetime64(data.holdout_start.rstrip("Z"))
    for iv in ("1h", "4h"):
        search = data.markets[iv]
        # The last searched bar closes no later than the hold-out starts.
        last_close = search.timestamps[-1] + np.timedelta64(1 if iv == "1h" else 4, "h")
        assert last_close <= cut
        assert data.full[iv].timestamps[data.holdout_rows[iv]] >= cut
    assert data.markets["1h"].n_bars == 850
    assert data.window()["start"] == "2022-01-01T00:00:00Z"
    with pytest.raises(DataError, match="finer than the data"):
        split_markets(md, ["15m"], 0.15)


def test_load_phase1_winner_from_file_folder_or_error(tmp_path: Path) -> None:
    doc = {"holding_days": 7, "interval": "1h", "hyperparameters": {"lr": 1e-4}}
    write_json_atomic(tmp_path / "run" / "phase1" / PHASE1_WINNER_FILE, doc)
    winner = load_phase1_winner(tmp_path / "run" / "phase1" / PHASE1_WINNER_FILE)
    assert (winner.holding_days, winner.interval, winner.hyperparameters) == (7.0, "1h", {"lr": 1e-4})
    assert load_phase1_winner(tmp_path / "run") == winner
    assert load_phase1_winner(tmp_path / "run").to_json()["holding_days"] == 7.0
    with pytest.raises(ConfigError, match=r"no phase1_winner\.json"):
        load_phase1_winner(tmp_path / "nothing")
    (tmp_path / "bad.json").write_text(json.dumps({"interval": "1h"}))
    with pytest.raises(ConfigError, match="missing key 'holding_days'"):
        load_phase1_winner(tmp_path / "bad.json")
    (tmp_path / "cut.json").write_text('{"holding_days": ')
    with pytest.raises(DataError, match="not valid JSON"):
        load_phase1_winner(tmp_path / "cut.json")
    (tmp_path / "typo.json").write_text(json.dumps({**doc, "intervall": "1h"}))
    with pytest.raises(ConfigError, match="unknown key 'intervall'; did you mean 'interval'"):
        load_phase1_winner(tmp_path / "typo.json")
    (tmp_path / "type.json").write_text(json.dumps({**doc, "holding_days": "seven"}))
    with pytest.raises(ConfigError, match="holding_days must be a number"):
        load_phase1_winner(tmp_path / "type.json")


def test_load_phase2_comparison_checks_the_keys_the_pipeline_reads(tmp_path: Path) -> None:
    doc = {
        "winner_algorithm": "ppo",
        "holding_days": 7,
        "interval": "1h",
        "checkpoint_path": "ckpt",
        "objective": 0.4,
        "pbo": {"value": 0.2},
    }
    write_json_atomic(tmp_path / PHASE2_COMPARISON_FILE, doc)
    comparison = load_phase2_comparison(tmp_path / PHASE2_COMPARISON_FILE)
    assert (comparison.winner_algorithm, comparison.checkpoint_path, comparison.pbo.value) == (
        "ppo",
        "ckpt",
        0.2,
    )
    assert comparison.deflated_sharpe.value is None
    write_json_atomic(tmp_path / "bad.json", {k: v for k, v in doc.items() if k != "checkpoint_path"})
    with pytest.raises(ConfigError, match=r"bad\.json: missing key 'checkpoint_path'"):
        load_phase2_comparison(tmp_path / "bad.json")
    write_json_atomic(tmp_path / "list.json", [doc])
    with pytest.raises(ConfigError, match="not an object"):
        load_phase2_comparison(tmp_path / "list.json")
    with pytest.raises(ConfigError, match="no such file"):
        load_phase2_comparison(tmp_path / "absent.json")


def test_write_json_atomic_leaves_no_temp_file_and_refuses_nan(tmp_path: Path) -> None:
    write_json_atomic(tmp_path / "a.json", {"x": np.float64(1.5), "p": tmp_path})
    assert json.loads((tmp_path / "a.json").read_text())["x"] == 1.5
    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "a.json", {"x": float("nan")})
    assert json.loads((tmp_path / "a.json").read_text())["x"] == 1.5  # old content kept
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def row(tid: str, combo: tuple[int, str], obj: float, splits: int) -> TrialRow:
    cfg = {"env": {"max_hold_days": combo[0]}, "interval": combo[1], "lr": 1e-4, "seed": 1}
    return TrialRow(tid, "TERMINATED", cfg, obj, splits)


def test_best_prefers_fully_scored_trials() -> None:
    rows = [row("a", (3, "1h"), 9.0, 1), row("b", (3, "1h"), 1.0, 3), row("c", (7, "4h"), 2.0, 3)]
    # "a" was stopped by ASHA after one split: its 9.0 is one lucky test period.
    assert best_row(rows).trial_id == "c"
    assert [r.trial_id for r in best_per_combo(rows)] == ["c", "b"]
    assert row("x", (3, "1h"), 0.0, 1).hyperparameters == {"lr": 1e-4}
    with pytest.raises(TrainingError, match="no trial reported a finite objective"):
        best_row([row("n", (3, "1h"), float("-inf"), 0)])


def test_cli_flags_map_to_options() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["run", "--mini", "--seed", "4", "--resume", "--phase1-only", "--quiet"])
    opts = options_from_args(args)
    assert (opts.mini, opts.seed, opts.resume, opts.phase1_only, opts.run.verbose) == (
        True,
        4,
        True,
        True,
        False,
    )
    args = parser.parse_args(["phase2", "--phase1-results", "r/x", "--address", "ray://h:10001"])
    opts = options_from_args(args, phase2_only=True)
    assert opts.phase2_only and opts.phase1_results == "r/x" and opts.run.address == "ray://h:10001"
    assert parser.parse_args(["demo"]).mini is True
