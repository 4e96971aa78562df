"""The names of the files a run folder holds, in one place, and the one reader of its JSON files.

A run of the two-phase job lives in ``<results_dir>/<YYYYmmdd-HHMMSS>_<mode>_<hash>/``::

    run_config.json                  the resolved configs and data window (written first)
    phase1/                          phase 1's Tune experiment
        phase1_winner.json           the best trial and the trial counts
        phase1_all_results.json      each combination's best trial, best first
        <trial>/checkpoint_*/        one per split: agent.json, weights.pt, test_returns.npz,
                                     trial_progress.json, split_row.json
    phase2/                          phase 2's Tune experiment
        phase2_comparison.json       PPO vs double-DQN, PBO and deflated Sharpe
        winner_paths.npz             the winner's CPCV backtest paths (per-bar returns, bar times)
    optuna.db                        the Optuna studies (SQLite; ``optuna-dashboard`` opens it)
    holdout_series.npz               the winner's per-bar series on the hold-out
    two_phase_training_report.json   the whole job's summary (written last)
    report.html                      the HTML report

Writers (search, agents) and readers (report, ops, CLI) import these names from
here. This module imports nothing heavy, so any of them may use it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cappuccino_ray.errors import DataError

__all__ = [
    "HOLDOUT_SERIES_FILE",
    "HTML_REPORT_FILE",
    "OPTUNA_DB_FILE",
    "PHASE1_ALL_RESULTS_FILE",
    "PHASE1_DIR",
    "PHASE1_WINNER_FILE",
    "PHASE2_COMPARISON_FILE",
    "PHASE2_DIR",
    "RUN_CONFIG_FILE",
    "SPLIT_ROW_FILE",
    "TEST_RETURNS_FILE",
    "TRAINING_REPORT_FILE",
    "TRIAL_PROGRESS_FILE",
    "WINNER_PATHS_FILE",
    "parse_json",
    "read_json",
]

#: The resolved configs, data source and window of the run; its hash names the run folder.
RUN_CONFIG_FILE = "run_config.json"
#: Phase 1's Tune experiment folder inside the run folder.
PHASE1_DIR = "phase1"
#: Phase 2's Tune experiment folder inside the run folder.
PHASE2_DIR = "phase2"
#: Phase 1's winner, in ``phase1/``.
PHASE1_WINNER_FILE = "phase1_winner.json"
#: Each phase-1 combination's best trial with its trial count, in ``phase1/``.
PHASE1_ALL_RESULTS_FILE = "phase1_all_results.json"
#: Phase 2's comparison of the algorithms, in ``phase2/``.
PHASE2_COMPARISON_FILE = "phase2_comparison.json"
#: The winner's per-bar series on the hold-out period.
HOLDOUT_SERIES_FILE = "holdout_series.npz"
#: The phase-2 winner's CPCV backtest paths (``times`` int64 ns, ``paths`` per-bar returns), in ``phase2/``.
WINNER_PATHS_FILE = "winner_paths.npz"
#: The summary the whole two-phase job writes when it finishes.
TRAINING_REPORT_FILE = "two_phase_training_report.json"
#: The Optuna studies of both phases (one per combination / algorithm), when the run folder is local.
OPTUNA_DB_FILE = "optuna.db"
#: The self-contained HTML report.
HTML_REPORT_FILE = "report.html"
#: Per-bar test returns of every test group scored so far, in a trial's checkpoint.
TEST_RETURNS_FILE = "test_returns.npz"
#: Per-group metrics of the splits done, in a trial's checkpoint (a restored trial continues from it).
TRIAL_PROGRESS_FILE = "trial_progress.json"
#: The row a trial reported to Tune with a split's checkpoint (reported again if Tune lost it).
SPLIT_ROW_FILE = "split_row.json"


def read_json(path: str | Path) -> Any:
    """Read a JSON file (a path or a storage URI such as ``s3://...``), or ``None`` when it is absent.

    Raises:
        DataError: If the file exists but is not valid JSON.
    """
    if "://" in str(path):  # shared storage: pyarrow.fs, loaded only then
        from cappuccino_ray import storage

        data = storage.read_bytes(str(path))
        return None if data is None else parse_json(data, str(path))
    p = Path(path)
    return parse_json(p.read_bytes(), p) if p.is_file() else None


def parse_json(data: bytes, where: str | Path) -> Any:
    """The JSON document in ``data`` (the file at ``where``).

    Raises:
        DataError: If it is not valid JSON.
    """
    try:
        return json.loads(data.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{where}: not valid JSON ({exc}); the run may have been cut off, rerun it") from exc
