"""Result queries: best per combination and algorithm, failures, run listing, output formats."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from cappuccino_ray.atomic import write_json_atomic
from cappuccino_ray.errors import ConfigError, DataError
from cappuccino_ray.report.analysis import cells_from_trials
from cappuccino_ray.report.queries import (
    TrialRecord,
    best_per_algorithm,
    best_per_combination,
    failed_trials,
    format_rows,
    list_runs,
    resolve_run,
    trial_rows,
)
from cappuccino_ray.run_files import (
    PHASE1_DIR,
    PHASE1_WINNER_FILE,
    PHASE2_COMPARISON_FILE,
    PHASE2_DIR,
    RUN_CONFIG_FILE,
    read_json,
)
from cappuccino_ray.search.results import TrialRow, best_per_combo, best_row


def _t(
    tid: str,
    *,
    phase: int = 1,
    algo: str = "ppo",
    interval: str = "1h",
    hold: float = 3,
    obj: float | None = 0.0,
    status: str = "TERMINATED",
    error: str | None = None,
    splits: int = 0,
) -> TrialRecord:
    return TrialRecord(
        experiment="e",
        trial_id=tid,
        status=status,
        algo=algo,
        interval=interval,
        max_hold_days=hold,
        phase=phase,
        objective=obj,
        splits_done=splits,
        error=error,
        params={"lr": 1e-3},
    )


TRIALS = [
    _t("a", interval="1h", hold=3, obj=0.1),
    _t("b", interval="1h", hold=3, obj=0.4),
    _t("c", interval="4h", hold=3, obj=0.2),
    _t("d", interval="4h", hold=7, obj=None, status="ERROR", error="ValueError: nan"),
    _t("e", interval="4h", hold=7, obj=-0.3),
    _t("f", phase=2, algo="ddqn", interval="4h", hold=7, obj=0.9),
    _t("g", phase=2, algo="ppo", interval="4h", hold=7, obj=0.5),
]


def test_best_per_combination_picks_the_highest_objective_per_cell_best_first() -> None:
    best = best_per_combination(TRIALS)
    assert [t.trial_id for t in best] == ["b", "c", "e"]


def test_best_per_combination_ignores_phase_two_unless_asked() -> None:
    assert {t.trial_id for t in best_per_combination(TRIALS, phase=None)} == {"b", "c", "f"}


def test_best_per_algorithm_over_all_phases_and_per_phase() -> None:
    assert [t.trial_id for t in best_per_algorithm(TRIALS)] == ["f", "g"]
    assert [t.trial_id for t in best_per_algorithm(TRIALS, phase=1)] == ["b"]


def test_failed_trials_carry_their_reason() -> None:
    failed = failed_trials(TRIALS)
    assert [t.trial_id for t in failed] == ["d"]
    assert trial_rows(failed)[0]["error"] == "ValueError: nan"


def test_cell_with_only_failed_trials_has_no_best() -> None:
    only_failed = [_t("x", obj=None, status="ERROR", error="boom")]
    assert best_per_combination(only_failed) == []


def test_formats_table_csv_json_hold_the_same_rows() -> None:
    rows = trial_rows(best_per_combination(TRIALS), with_params=True)
    table = format_rows(rows, "table").splitlines()
    assert table[0].split()[:3] == ["experiment", "trial_id", "phase"]
    assert len(table) == 2 + len(rows)
    parsed = list(csv.DictReader(io.StringIO(format_rows(rows, "csv"))))
    assert [r["trial_id"] for r in parsed] == ["b", "c", "e"]
    assert parsed[0]["param/lr"] == "0.001"
    assert json.loads(format_rows(rows, "json"))[0]["objective"] == 0.4
    assert format_rows([], "table") == "(none)"
    with pytest.raises(ConfigError, match="table, csv or json"):
        format_rows(rows, "xml")


def _fake_run(
    root: Path, name: str, *, report: dict | None, trials: int, failed: int, phase: int = 1
) -> Path:
    run = root / name
    for i in range(trials):
        d = run / "phase1" / f"trial_{i}"
        d.mkdir(parents=True)
        (d / "params.json").write_text(json.dumps({"phase": phase}))
        if i < failed:
            (d / "error.txt").write_text("Traceback\nRuntimeError: lost node\n")
    if report is not None:
        (run / "two_phase_training_report.json").write_text(json.dumps(report))
    return run


def test_list_runs_reads_status_phase_and_counts(tmp_path: Path) -> None:
    _fake_run(
        tmp_path,
        "r1",
        report={"status": "completed", "started_at": "2026-02-03T04:05:06+00:00"},
        trials=3,
        failed=1,
    )
    _fake_run(tmp_path, "r2", report=None, trials=2, failed=0, phase=2)
    (tmp_path / "not_a_run").mkdir()
    runs = {r.name: r for r in list_runs(tmp_path)}
    assert set(runs) == {"r1", "r2"}
    assert (runs["r1"].status, runs["r1"].phase, runs["r1"].trials, runs["r1"].failed) == (
        "completed",
        "done",
        3,
        1,
    )
    assert runs["r1"].date == "2026-02-03 04:05"
    assert (runs["r2"].status, runs["r2"].phase) == ("incomplete", "phase 2")


def test_resolve_run_by_name_path_or_newest(tmp_path: Path) -> None:
    _fake_run(
        tmp_path,
        "old",
        report={"status": "completed", "started_at": "2026-01-01T00:00:00"},
        trials=1,
        failed=0,
    )
    new = _fake_run(
        tmp_path,
        "new",
        report={"status": "completed", "started_at": "2026-03-01T00:00:00"},
        trials=1,
        failed=0,
    )
    assert resolve_run(tmp_path) == new
    assert resolve_run(tmp_path, "old") == tmp_path / "old"
    assert resolve_run(tmp_path, str(new)) == new
    with pytest.raises(ConfigError, match="known runs: new, old"):
        resolve_run(tmp_path, "nope")
    with pytest.raises(ConfigError, match="not found"):
        list_runs(tmp_path / "missing")


def test_truncated_json_is_a_data_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"status": ')
    with pytest.raises(DataError, match="not valid JSON"):
        read_json(bad)
    assert read_json(tmp_path / "absent.json") is None


def test_report_and_search_pick_the_same_best_trial() -> None:
    # One combination, full = 3 splits: "lucky" was stopped by ASHA after one split.
    plan = [("lucky", 9.0, 1), ("full", 1.0, 3)]
    rows = [
        TrialRow(tid, "TERMINATED", {"env": {"max_hold_days": 3}, "interval": "1h", "phase": 1}, obj, n)
        for tid, obj, n in plan
    ]
    records = [_t(tid, hold=3, interval="1h", obj=obj, splits=n) for tid, obj, n in plan]
    assert best_row(rows).trial_id == "full"
    assert [r.trial_id for r in best_per_combo(rows)] == ["full"]
    assert [t.trial_id for t in best_per_combination(records)] == ["full"]
    assert [t.trial_id for t in best_per_algorithm(records)] == ["full"]
    (cell,) = cells_from_trials(records)
    assert (cell.best_objective, cell.splits_done, cell.n_trials) == (1.0, 3, 2)


def test_best_per_combination_ranks_combinations_as_the_search_does() -> None:
    # The 9.0 cell's best was scored on fewer splits than the others: it ranks last.
    trials = [
        _t("early", hold=3, interval="1h", obj=9.0, splits=1),
        _t("mid", hold=3, interval="4h", obj=0.5, splits=3),
        _t("top", hold=7, interval="1h", obj=0.8, splits=3),
    ]
    assert [t.trial_id for t in best_per_combination(trials)] == ["top", "mid", "early"]


def test_list_runs_finds_the_phase_files_where_the_pipeline_writes_them(tmp_path: Path) -> None:
    write_json_atomic(tmp_path / "p1" / PHASE1_DIR / PHASE1_WINNER_FILE, {"interval": "1h"})
    write_json_atomic(tmp_path / "p2" / PHASE1_DIR / PHASE1_WINNER_FILE, {"interval": "1h"})
    write_json_atomic(tmp_path / "p2" / PHASE2_DIR / PHASE2_COMPARISON_FILE, {"winner_algorithm": "ppo"})
    write_json_atomic(tmp_path / "started" / RUN_CONFIG_FILE, {})
    (tmp_path / "empty").mkdir()
    runs = {r.name: r for r in list_runs(tmp_path)}
    assert {name: r.phase for name, r in runs.items()} == {"p1": "phase 1", "p2": "phase 2", "started": "-"}
    assert all(r.status == "incomplete" and r.trials == 0 for r in runs.values())
