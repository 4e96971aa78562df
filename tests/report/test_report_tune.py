"""On a small real Tune run: TensorBoard files, trial queries, the CLI commands and the report."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from report_helpers import RUN_NAME

from cappuccino_ray.cli import main
from cappuccino_ray.report import plots
from cappuccino_ray.report.queries import best_per_combination, failed_trials, load_trials

pytestmark = pytest.mark.slow


def test_tune_writes_tensorboard_event_files(tune_results: Path) -> None:
    trial_dirs = [p.parent for p in (tune_results / RUN_NAME).rglob("params.json")]
    assert len(trial_dirs) == 15
    assert all(any(d.glob("events.out.tfevents.*")) for d in trial_dirs)


def test_load_trials_reads_every_trial_with_its_search_keys(tune_results: Path) -> None:
    trials = load_trials(tune_results / RUN_NAME)
    assert len(trials) == 15
    assert {(t.phase, t.algo) for t in trials} == {(1, "ppo"), (2, "ppo"), (2, "ddqn")}
    best = best_per_combination(trials)
    # 4h beats 1h, 7 days beats 3, lr 3e-4 is the best of the grid (see conftest's trainable).
    assert [(b.interval, b.max_hold_days, b.params["lr"]) for b in best] == [
        ("4h", 7, 3e-4),
        ("4h", 3, 3e-4),
        ("1h", 7, 3e-4),
        ("1h", 3, 3e-4),
    ]
    assert best[0].objective == pytest.approx(0.3 + 0.14 + 0.02)
    assert best[0].splits_done == 2
    (failed,) = failed_trials(trials)
    assert failed.error == "ValueError: simulated divergence: loss is nan"


def test_cli_results_lists_runs(tune_results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["results", "--results-dir", str(tune_results), "--format", "json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)
    assert (run["name"], run["phase"], run["status"], run["trials"], run["failed"]) == (
        RUN_NAME,
        "done",
        "completed",
        15,
        1,
    )


def test_cli_results_for_one_run_in_each_format(
    tune_results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["results", RUN_NAME, "--results-dir", str(tune_results)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Best trial per combination" in out and "simulated divergence" in out
    assert main([*args, "--query", "algos", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["algo"] for r in rows] == ["ddqn", "ppo"]
    assert main([*args, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {r["query"] for r in doc} == {"combos", "algos", "failed"}
    assert main(["results", "nope", "--results-dir", str(tune_results)]) == 2


def test_cli_report_writes_the_html_and_prints_its_path(
    tune_results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--results-dir", str(tune_results)]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == tune_results / RUN_NAME / "report.html"
    page = path.read_text(encoding="utf-8")
    # The fixture's stand-in trials save no backtest paths, so the paths figure is not drawn.
    for key, title in plots.TITLES.items():
        assert (title in page) == (key != "paths")
    assert "Missing from this run" not in page
    assert page.count("data:image/png;base64,") == 9
