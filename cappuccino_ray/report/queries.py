"""Result queries over a run folder: runs, trials, best per combination and algorithm, failures.

A run lives in ``results/<run>/``; each Tune experiment inside it (one per
phase-1 combination, one per phase-2 algorithm, however the search lays them
out) is a folder holding ``experiment_state-*.json``. Trials are read with
``tune.ExperimentAnalysis``, which needs no running Ray. A trial's score is
its *last* reported ``objective`` (Tune's ``scope="last"``), the mean over the
CPCV splits it finished; ``splits_done`` says how many. The best trial is picked
by the search's own rule (:mod:`cappuccino_ray.ranking`): trials scored on
the most splits first, then the highest objective.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cappuccino_ray.config.agents import RUN_KEYS
from cappuccino_ray.errors import ConfigError, DataError, brief
from cappuccino_ray.ranking import best_of, finite_or_none, holding_days, ranked
from cappuccino_ray.run_files import (
    PHASE1_ALL_RESULTS_FILE,
    PHASE1_DIR,
    PHASE1_WINNER_FILE,
    PHASE2_COMPARISON_FILE,
    PHASE2_DIR,
    RUN_CONFIG_FILE,
    TRAINING_REPORT_FILE,
    read_json,
)

__all__ = [
    "SEARCH_KEYS",
    "RunSummary",
    "TrialRecord",
    "best_per_algorithm",
    "best_per_combination",
    "cell_text",
    "failed_trials",
    "find_experiments",
    "format_rows",
    "list_runs",
    "load_trials",
    "resolve_run",
    "trial_rows",
]

#: Config keys that place a trial in the search or set its budget and resources; every other
#: config key is a hyperparameter.
SEARCH_KEYS: tuple[str, ...] = tuple(sorted(RUN_KEYS))
_EXPERIMENT_STATE = "experiment_state-*.json"


@dataclass(frozen=True)
class TrialRecord:
    """One Tune trial, flattened to what the queries and the report need.

    Attributes:
        experiment: Name of the Tune experiment folder.
        trial_id: Tune's trial id.
        status: ``TERMINATED``, ``ERROR``, ``RUNNING``, ``PENDING`` or ``PAUSED``.
        algo: ``config["algo"]`` (``""`` when absent).
        interval: ``config["interval"]`` (``""`` when absent).
        max_hold_days: ``config["env"]["max_hold_days"]``, the holding limit in days.
        phase: 1 or 2 from ``config["phase"]`` (``None`` when absent).
        objective: Last reported objective; ``None`` if it never reported.
        splits_done: CPCV splits the trial was scored on.
        bot_sharpe: Last reported Sharpe ratio of the bot.
        bh_sharpe: Last reported Sharpe ratio of buy-and-hold.
        start_time: Unix time the trial started (0 when unknown); orders the history.
        params: The searched hyperparameters (config minus :data:`SEARCH_KEYS`).
        error: Last line of the trial's ``error.txt`` for failed trials.
        path: The trial's folder.
    """

    experiment: str
    trial_id: str
    status: str
    algo: str = ""
    interval: str = ""
    max_hold_days: float | None = None
    phase: int | None = None
    objective: float | None = None
    splits_done: int = 0
    bot_sharpe: float | None = None
    bh_sharpe: float | None = None
    start_time: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    path: str = ""


@dataclass(frozen=True)
class RunSummary:
    """One run folder under ``results/`` in a line.

    Attributes:
        name: Folder name.
        path: Folder path.
        date: Start date (``YYYY-MM-DD HH:MM``, UTC) from the job report, else the folder's time.
        phase: How far it got: ``done``, ``phase 2``, ``phase 1`` or ``-``.
        status: The job report's status, else ``incomplete``.
        trials: Number of trial folders.
        failed: Number of trials with an ``error.txt``.
    """

    name: str
    path: str
    date: str
    phase: str
    status: str
    trials: int
    failed: int


def resolve_run(results_dir: str | Path, run: str | None = None) -> Path:
    """The folder of ``run`` (a name under ``results_dir`` or a path); the newest run if ``None``.

    Raises:
        ConfigError: If the run or the results folder does not exist.
    """
    root = Path(results_dir)
    if run is not None:
        for candidate in (Path(run), root / run):
            if candidate.is_dir():
                return candidate.resolve()
        known = ", ".join(r.name for r in list_runs(root)) if root.is_dir() else ""
        hint = f"; known runs: {known}" if known else f"; no runs under {root}"
        raise ConfigError(f"run {run!r} not found{hint} (see `cappuccino-ray results`)")
    runs = list_runs(root)
    if not runs:
        raise ConfigError(f"no runs under {root}; start one with `cappuccino-ray run` or pass a run folder")
    return Path(max(runs, key=lambda r: (r.date, r.name)).path).resolve()


def _run_dirs(root: Path) -> list[Path]:
    if root.exists() and not root.is_dir():
        raise ConfigError(f"results folder {root} is a file, not a folder; pass the folder holding the runs")
    if not root.is_dir():
        raise ConfigError(f"results folder {root} not found; pass --results-dir or run a search first")
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def list_runs(results_dir: str | Path) -> list[RunSummary]:
    """Summarise every run folder under ``results_dir`` (no Ray needed, reads small files only).

    A folder counts as a run if it holds trials or any of the files the job writes.
    A run whose report is corrupt is left out with a warning on stderr naming it.
    """
    out = []
    for run_dir in _run_dirs(Path(results_dir)):
        try:
            summary = _summarise_run(run_dir)
        except (DataError, OSError) as exc:
            print(f"warning: skipping run {run_dir.name}: {exc}", file=sys.stderr)
            continue
        if summary is not None:
            out.append(summary)
    return out


def _summarise_run(run_dir: Path) -> RunSummary | None:
    report = read_json(run_dir / TRAINING_REPORT_FILE)
    trial_dirs = [p.parent for p in run_dir.rglob("params.json")]
    phase1_files = [run_dir / PHASE1_DIR / f for f in (PHASE1_WINNER_FILE, PHASE1_ALL_RESULTS_FILE)]
    phase2_file = run_dir / PHASE2_DIR / PHASE2_COMPARISON_FILE
    has_phase1 = any(f.is_file() for f in phase1_files)
    started_only = (run_dir / RUN_CONFIG_FILE).is_file()
    if not (trial_dirs or has_phase1 or phase2_file.is_file() or started_only or report is not None):
        return None
    phases = {_phase_of(read_json(d / "params.json") or {}) for d in trial_dirs}
    if isinstance(report, dict) and report.get("status") == "completed":
        phase = "done"
    elif 2 in phases or phase2_file.is_file():
        phase = "phase 2"
    elif trial_dirs or has_phase1:
        phase = "phase 1"
    else:
        phase = "-"
    started = report.get("started_at") if isinstance(report, dict) else None
    return RunSummary(
        name=run_dir.name,
        path=str(run_dir),
        date=_date_text(started, run_dir),
        phase=phase,
        status=str(report.get("status", "unknown")) if isinstance(report, dict) else "incomplete",
        trials=len(trial_dirs),
        failed=sum((d / "error.txt").is_file() for d in trial_dirs),
    )


def _date_text(started: Any, run_dir: Path) -> str:
    if isinstance(started, str):
        try:
            when = datetime.fromisoformat(started.replace("Z", "+00:00"))
            return when.strftime("%Y-%m-%d %H:%M")
        except ValueError:
            return started[:16]
    return datetime.fromtimestamp(run_dir.stat().st_mtime, tz=UTC).strftime("%Y-%m-%d %H:%M")


def find_experiments(run_dir: str | Path) -> list[Path]:
    """Every Tune experiment folder (one holding ``experiment_state-*.json``) inside ``run_dir``."""
    root = Path(run_dir)
    return sorted({p.parent for p in root.rglob(_EXPERIMENT_STATE)})


def _phase_of(config: dict[str, Any]) -> int | None:
    raw = config.get("phase")
    if raw is None:
        return None
    digits = re.findall(r"\d", str(raw))
    return int(digits[0]) if digits else None


def _error_line(trial_dir: Path) -> str | None:
    err = trial_dir / "error.txt"
    if not err.is_file():
        return None
    lines = [
        ln.strip() for ln in err.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()
    ]
    return lines[-1] if lines else "failed (empty error.txt)"


def _plain(value: Any) -> Any:
    if isinstance(value, str | bool | int | float) or value is None:
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def load_trials(run_dir: str | Path) -> list[TrialRecord]:
    """Every trial of every Tune experiment inside ``run_dir``, oldest first.

    Raises:
        DataError: If an experiment folder cannot be read by Tune.
    """
    experiments = find_experiments(run_dir)
    if not experiments:
        return []
    from ray.tune import ExperimentAnalysis

    records = []
    for exp_dir in experiments:
        try:
            analysis = ExperimentAnalysis(str(exp_dir.resolve()))  # Tune needs an absolute path
        except Exception as exc:  # Tune raises several types for a damaged state file
            raise DataError(
                f"{exp_dir}: Tune cannot read this experiment ({brief(exc)}); the run was cut off or edited, "
                "rerun it or move the folder aside"
            ) from exc
        for trial in analysis.trials:
            records.append(_record(exp_dir.name, trial))
    return sorted(records, key=lambda r: (r.start_time, r.experiment, r.trial_id))


def _record(experiment: str, trial: Any) -> TrialRecord:
    config = dict(trial.config or {})
    last = dict(trial.last_result or {})
    path = Path(trial.path)
    start = (finite_or_none(last.get("timestamp")) or 0.0) - (finite_or_none(last.get("time_total_s")) or 0.0)
    hold = holding_days(config)
    return TrialRecord(
        experiment=experiment,
        trial_id=str(trial.trial_id),
        status=str(trial.status),
        algo=str(config.get("algo", "")),
        interval=str(config.get("interval", "")),
        max_hold_days=hold,
        phase=_phase_of(config),
        objective=finite_or_none(last.get("objective")),
        splits_done=int(finite_or_none(last.get("splits_done")) or 0),
        bot_sharpe=finite_or_none(last.get("bot_sharpe")),
        bh_sharpe=finite_or_none(last.get("bh_sharpe")),
        start_time=max(start, 0.0),
        params={k: _plain(v) for k, v in config.items() if k not in SEARCH_KEYS},
        error=_error_line(path),
        path=str(path),
    )


def _best_by(trials: Iterable[TrialRecord], key: Callable[[TrialRecord], Any]) -> list[TrialRecord]:
    """The best trial of each group, best first, by the search's ranking rule."""
    groups: dict[Any, list[TrialRecord]] = {}
    for t in trials:
        groups.setdefault(key(t), []).append(t)
    return ranked(b for b in map(best_of, groups.values()) if b is not None)


def best_per_combination(trials: Iterable[TrialRecord], *, phase: int | None = 1) -> list[TrialRecord]:
    """The best trial of each (holding days, interval) combination, best first.

    Args:
        trials: Trial records.
        phase: Only trials of this phase (``None``: all).
    """
    chosen = [t for t in trials if phase is None or t.phase == phase]
    return _best_by(chosen, lambda t: (t.max_hold_days, t.interval))


def best_per_algorithm(trials: Iterable[TrialRecord], *, phase: int | None = None) -> list[TrialRecord]:
    """The best trial of each algorithm, best first (``phase`` filters as above)."""
    chosen = [t for t in trials if phase is None or t.phase == phase]
    return _best_by(chosen, lambda t: t.algo)


def failed_trials(trials: Iterable[TrialRecord]) -> list[TrialRecord]:
    """Trials that ended in ``ERROR`` or left an ``error.txt``, with their reasons."""
    return [t for t in trials if t.status == "ERROR" or t.error is not None]


def trial_rows(trials: Sequence[TrialRecord], *, with_params: bool = False) -> list[dict[str, Any]]:
    """Trial records as flat rows for a table, CSV or JSON (errors and optional params included)."""
    rows = []
    for t in trials:
        row: dict[str, Any] = {
            "experiment": t.experiment,
            "trial_id": t.trial_id,
            "phase": t.phase,
            "algo": t.algo,
            "interval": t.interval,
            "max_hold_days": t.max_hold_days,
            "objective": t.objective,
            "splits_done": t.splits_done,
            "bot_sharpe": t.bot_sharpe,
            "bh_sharpe": t.bh_sharpe,
            "status": t.status,
        }
        if t.error is not None:
            row["error"] = t.error
        if with_params:
            row.update({f"param/{k}": v for k, v in sorted(t.params.items())})
        rows.append(row)
    return rows


def cell_text(value: Any) -> str:
    """A value as a table cell: ``-`` for ``None``, 4 significant digits for floats."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_rows(rows: Sequence[dict[str, Any]] | Sequence[RunSummary], fmt: str = "table") -> str:
    """Rows as an aligned terminal ``table``, ``csv`` or ``json`` text.

    Raises:
        ConfigError: On an unknown format.
    """
    plain = [asdict(r) if isinstance(r, RunSummary) else dict(r) for r in rows]
    columns: list[str] = []
    for r in plain:
        columns += [c for c in r if c not in columns]
    if fmt == "json":
        return json.dumps(plain, indent=2, default=str)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(plain)
        return buf.getvalue()
    if fmt != "table":
        raise ConfigError(f"unknown format {fmt!r}; use table, csv or json")
    if not plain:
        return "(none)"
    cells = [[cell_text(r.get(c)) for c in columns] for r in plain]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)
