"""The whole job: phase 1, phase 2, the winner on the hold-out, and ``two_phase_training_report.json``.

A run lives in ``<results_dir>/<YYYYmmdd-HHMMSS>_<mode>_<confighash>/`` (a local folder
or a storage URI, see :mod:`cappuccino_ray.storage`) with the
Tune experiments ``phase1/`` and ``phase2/`` inside (Tune's ``storage_path`` is
the run folder, absolute); :mod:`cappuccino_ray.run_files` lists every file in
it. ``--resume`` picks the newest run folder with the same mode and config hash
and continues whichever phase was interrupted; a phase whose result file exists
is not run again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from cappuccino_ray import storage
from cappuccino_ray.config._loader import to_dict
from cappuccino_ray.config.data import DataConfig
from cappuccino_ray.config.search import (
    Phase1Config,
    Phase2Config,
    RunConfig,
    load_search_configs,
    with_resources,
)
from cappuccino_ray.documents import Phase1Winner, Phase2Comparison
from cappuccino_ray.errors import ConfigError, TrainingError
from cappuccino_ray.run_files import (
    HOLDOUT_SERIES_FILE,
    OPTUNA_DB_FILE,
    PHASE1_DIR,
    PHASE1_WINNER_FILE,
    PHASE2_COMPARISON_FILE,
    PHASE2_DIR,
    RUN_CONFIG_FILE,
    TRAINING_REPORT_FILE,
)
from cappuccino_ray.search.interrupt import JobInterrupted, StopSignals, raise_if_stopped
from cappuccino_ray.search.phase1 import load_phase1_winner, run_phase1
from cappuccino_ray.search.phase2 import load_phase2_comparison, run_phase2
from cappuccino_ray.search.run_folder import (
    RunFailedError,
    RunLock,
    check_trial_failures,
    find_run_dir,
    first_trial_error,
    make_run_dir,
)
from cappuccino_ray.search.space import config_hash
from cappuccino_ray.storage import Location

__all__ = ["PipelineOptions", "check_phase1_checkpoint", "find_run_dir", "run_pipeline", "versions"]

D = TypeVar("D")
P = TypeVar("P", Phase1Winner, Phase2Comparison)


@dataclass(frozen=True)
class PipelineOptions:
    """What the ``run``/``phase1``/``phase2``/``demo`` commands ask for."""

    config_dir: Path = Path("configs")
    """Folder with ``phase1.yaml``, ``phase2.yaml``, ``mini.yaml`` and ``data.yaml``."""
    data: str | DataConfig | None = None
    """A data config (object or YAML) or a folder of candle files (default ``<config_dir>/data.yaml``)."""
    mini: bool = False
    """Apply ``mini.yaml``: a small but real run."""
    preset: str | None = None
    """Apply ``<preset>.yaml`` (``small``: enough trials for PBO and DSR to mean something)."""
    seed: int | None = None
    """Override both phases' base seed (phase 2 uses ``seed + 1``)."""
    resume: bool = False
    """Continue the newest run of the same mode and config."""
    phase1_only: bool = False
    """Stop after phase 1."""
    phase2_only: bool = False
    """Skip phase 1 and read its winner from ``phase1_results``."""
    phase1_results: str | None = None
    """Phase-1 winner JSON or results folder (with ``phase2_only``)."""
    run: RunConfig = dataclasses.field(default_factory=RunConfig)
    """Results folder, hold-out share, Ray address, verbosity."""
    write_html: bool = True
    """Write the run's self-contained HTML report (``report.html``) at the end."""
    gpus_per_trial: float | None = None
    """Override both phases' ``resources.gpus_per_trial`` (``--gpus-per-trial``; fractions share a GPU)."""


def versions() -> dict[str, str]:
    """Versions of the package and the libraries that decide results."""
    import numpy
    import optuna
    import ray
    import torch

    from cappuccino_ray import __version__

    return {
        "cappuccino_ray": __version__,
        "python": platform.python_version(),
        "ray": ray.__version__,
        "torch": torch.__version__,
        "optuna": optuna.__version__,
        "numpy": numpy.__version__,
    }


def _load(opts: PipelineOptions) -> tuple[Phase1Config, Phase2Config]:
    p1, p2 = load_search_configs(opts.config_dir, mini=opts.mini, preset=opts.preset)
    p1, p2 = with_resources(p1, p2, gpus_per_trial=opts.gpus_per_trial, source="--gpus-per-trial")
    if opts.seed is not None:
        p1 = dataclasses.replace(p1, seed=opts.seed)
        p2 = dataclasses.replace(p2, seed=opts.seed + 1)
    return p1, p2


def _data_source(opts: PipelineOptions) -> Any:
    if isinstance(opts.data, DataConfig):
        return to_dict(opts.data)
    return str(opts.data or Path(opts.config_dir) / "data.yaml")


def _check_partitions(p1: Phase1Config, p2: Phase2Config, markets: Any, *, phase2_only: bool) -> None:
    """Every interval phase 1 may pick must hold phase 2's partition too: checked before Ray starts."""
    from cappuccino_ray.search.splits import check_partition

    lookback = max(p1.max_lookback, p2.max_lookback)
    for interval, market in markets.items():
        phases: list[tuple[Phase1Config | Phase2Config, str]] = [(p2, "phase2.yaml")]
        if not phase2_only:
            phases.insert(0, (p1, "phase1.yaml"))
        for cfg, source in phases:
            check_partition(
                market.n_bars,
                interval,
                n_groups=cfg.budget.n_groups,
                max_lookback=lookback,
                rolling=cfg.env.rolling_features,
                source=source,
            )


def _optuna_storage(opts: PipelineOptions, run_dir: Location) -> str | None:
    """The Optuna studies' SQLAlchemy URL: the flag's, else ``optuna.db`` in a local run folder."""
    if opts.run.optuna_storage:
        return opts.run.optuna_storage
    return f"sqlite:///{run_dir / OPTUNA_DB_FILE}" if isinstance(run_dir, Path) else None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def run_pipeline(opts: PipelineOptions, *, trainable: Callable[..., Any] | None = None) -> dict[str, Any]:
    """Run the two-phase job (or the part the options ask for) and write its report.

    Everything that can be checked is checked before Ray starts or a file is
    written (configs, data, the phase-1 winner and its checkpoint, the results
    folder, a run folder in use); the trial resources are checked against the
    cluster once Ray is up. SIGINT/SIGTERM stop the whole job (see
    :mod:`cappuccino_ray.search.interrupt`): the report then says ``interrupted``.

    Args:
        opts: Options from the command line.
        trainable: The Tune trainable; the project's CPCV trainable by default.

    Returns:
        The report (``two_phase_training_report.json``), or the phase-1 winner with ``phase1_only``.

    Raises:
        JobInterrupted: On SIGINT/SIGTERM (the report is written first).
        RunFailedError: If most trials of a phase failed (the report is written first).
    """
    with StopSignals():
        return _run_pipeline(opts, trainable)


def _results_dir(opts: PipelineOptions) -> Location:
    """The results root: a local folder (made absolute) or a storage URI."""
    results_dir = storage.location(opts.run.results_dir)
    if isinstance(results_dir, Path) and results_dir.exists() and not results_dir.is_dir():
        raise ConfigError(f"--results {results_dir}: is a file, not a folder; pass a folder for the runs")
    return results_dir


def check_phase1_checkpoint(winner1: Phase1Winner, p2: Phase2Config, source: str) -> None:
    """Refuse a phase-1 winner whose checkpoint phase 2 would warm-start from but cannot find.

    Raises:
        ConfigError: If the winner names a checkpoint folder that is not there.
    """
    ckpt = winner1.checkpoint_path
    if not (p2.warm_start and "ppo" in p2.algos and ckpt):
        return
    if not storage.is_dir(ckpt):
        raise ConfigError(
            f"{source}: the phase-1 winner's checkpoint {ckpt} is missing; restore it, "
            "rerun phase 1, or set warm_start: false in phase2.yaml"
        )


def _run_pipeline(opts: PipelineOptions, trainable: Callable[..., Any] | None) -> dict[str, Any]:
    from cappuccino_ray.search.markets import load_base_market, split_markets
    from cappuccino_ray.search.runner import check_cluster_fits, init_ray

    if opts.phase2_only and not opts.phase1_results:
        raise ConfigError(
            "--phase2-only needs --phase1-results PATH (a phase1_winner.json or its folder); pass it"
        )
    p1, p2 = _load(opts)
    mode = "mini" if opts.mini else (opts.preset or "full")
    base = load_base_market(opts.data, opts.config_dir)
    winner1 = load_phase1_winner(opts.phase1_results) if opts.phase1_results and opts.phase2_only else None
    if winner1 is not None:
        check_phase1_checkpoint(winner1, p2, str(opts.phase1_results))
    intervals = [winner1.interval] if winner1 else list(p1.intervals)
    data = split_markets(base, intervals, opts.run.holdout_fraction)
    _check_partitions(p1, p2, data.markets, phase2_only=opts.phase2_only)
    config_doc = {
        "phase1": to_dict(p1),
        "phase2": to_dict(p2),
        "holdout_fraction": opts.run.holdout_fraction,
        "data": {"source": _data_source(opts), **data.window()},
        "phase1_results": opts.phase1_results,
        "steps": "phase1" if opts.phase1_only else ("phase2" if opts.phase2_only else "both"),
    }
    digest = config_hash(config_doc)
    results_dir = _results_dir(opts)
    run_dir = find_run_dir(results_dir, mode, digest) if opts.resume else None
    # A local run folder is locked while the job runs; a storage URI cannot be (object stores).
    lock = RunLock(run_dir).acquire() if isinstance(run_dir, Path) else None
    started_ray = False
    try:
        started_ray = init_ray(opts.run.address, log_to_driver=opts.run.trial_logs)
        StopSignals.reclaim()  # ray.init installs its own SIGTERM handler
        raise_if_stopped()
        used = {"phase2.yaml": p2.resources} if opts.phase2_only else {"phase1.yaml": p1.resources}
        if not (opts.phase1_only or opts.phase2_only):
            used["phase2.yaml"] = p2.resources
        check_cluster_fits(used)
        if run_dir is None:
            run_dir = make_run_dir(results_dir, mode, digest, _now())
            lock = RunLock(run_dir).acquire() if isinstance(run_dir, Path) else None
        storage.write_json(storage.child(run_dir, RUN_CONFIG_FILE), config_doc)
        job = _Job(opts, run_dir, mode, config_doc, trainable)
        return job.run(p1, p2, winner1, data)
    finally:
        if lock is not None:
            lock.release()
        if started_ray:
            import ray

            ray.shutdown()


class _Job:
    """One run of the phases inside its (locked) run folder."""

    def __init__(
        self,
        opts: PipelineOptions,
        run_dir: Location,
        mode: str,
        config_doc: dict[str, Any],
        trainable: Callable[..., Any] | None,
    ) -> None:
        self.opts = opts
        self.run_dir = run_dir
        self.mode = mode
        self.config_doc = config_doc
        self.trainable = trainable
        self.started = _now()
        self.t0 = time.monotonic()
        self.step = "start"

    def run(
        self, p1: Phase1Config, p2: Phase2Config, winner1: Phase1Winner | None, data: Any
    ) -> dict[str, Any]:
        try:
            return self._phases(p1, p2, winner1, data)
        except JobInterrupted as exc:
            reason = f"{exc.signal_name} during {self.step}"
            self._stopped("interrupted", signal=exc.signal_name, reason=reason)
            raise
        except RunFailedError as exc:
            self._stopped("failed", reason=str(exc))
            raise

    def header(self) -> dict[str, Any]:
        """The run's identity and timing, the first keys of every training report."""
        return {
            "run_id": storage.basename(self.run_dir),
            "run_dir": str(self.run_dir),
            "mode": self.mode,
            "started_at": self.started.isoformat(timespec="seconds"),
            "finished_at": _now().isoformat(timespec="seconds"),
            "duration_s": round(time.monotonic() - self.t0, 3),
        }

    def _stopped(self, status: str, **extra: Any) -> None:
        doc = {
            "status": status,
            **extra,
            "stopped_in": self.step,
            **self.header(),
            "resume": "rerun the same command with --resume",
            "config": self.config_doc,
        }
        storage.write_json(storage.child(self.run_dir, TRAINING_REPORT_FILE), doc)

    def _phases(
        self, p1: Phase1Config, p2: Phase2Config, winner1: Phase1Winner | None, data: Any
    ) -> dict[str, Any]:
        from cappuccino_ray.search.holdout import evaluate_holdout

        opts, run_dir, trainable = self.opts, self.run_dir, self.trainable
        # The run's largest lookback places the one CPCV partition both phases cut (search.splits).
        max_lookback = max(p1.max_lookback, p2.max_lookback)
        optuna = _optuna_storage(opts, run_dir)
        durations: dict[str, float] = {}
        common: dict[str, Any] = {
            "storage_path": run_dir,
            "resume": opts.resume,
            "verbose": opts.run.verbose,
            "trainable": trainable,
            "max_lookback": max_lookback,
            "optuna_storage": optuna,
        }
        if winner1 is None:
            winner1 = self._phase_doc(
                "phase 1",
                PHASE1_DIR,
                PHASE1_WINNER_FILE,
                load_phase1_winner,
                lambda: run_phase1(p1, data.markets, name=PHASE1_DIR, **common),
                durations,
            )
            if not opts.phase1_only:  # a --phase1-results winner was checked before Ray started
                source = str(storage.child(run_dir, PHASE1_DIR, PHASE1_WINNER_FILE))
                check_phase1_checkpoint(winner1, p2, source)
        if opts.phase1_only:
            return winner1.to_json()
        w1 = winner1
        comparison = self._phase_doc(
            "phase 2",
            PHASE2_DIR,
            PHASE2_COMPARISON_FILE,
            load_phase2_comparison,
            lambda: run_phase2(p2, w1, data.markets, name=PHASE2_DIR, **common),
            durations,
        )

        self.step = "the hold-out evaluation"
        t = time.monotonic()
        iv = winner1.interval
        holdout = evaluate_holdout(
            comparison,
            data.full[iv],
            data.holdout_rows[iv],
            series_path=storage.child(run_dir, HOLDOUT_SERIES_FILE),
        )
        durations["holdout"] = time.monotonic() - t
        raise_if_stopped()
        self.step = "the report"
        report = _report(self, winner1, comparison, holdout, durations, data)
        storage.write_json(storage.child(run_dir, TRAINING_REPORT_FILE), report)
        if opts.write_html:
            from cappuccino_ray.report.html import write_report

            write_report(run_dir)  # beside the JSON; the returned dict stays equal to the file
        return report

    def _phase_doc(
        self,
        step: str,
        folder: str,
        done_file: str,
        load: Callable[[Location], P],
        run: Callable[[], P],
        durations: dict[str, float],
    ) -> P:
        """A phase's document: read back on ``--resume`` once written, else run; then its failure check."""
        self.step = step
        t = time.monotonic()
        experiment = storage.child(self.run_dir, folder)
        done = storage.child(experiment, done_file)
        doc = load(done) if self.opts.resume and storage.is_file(done) else _phase(step, experiment, run)
        durations[folder] = time.monotonic() - t  # "phase1", "phase2": the report's keys
        check_trial_failures(doc.trial_counts, step, experiment)
        return doc


def _phase(name: str, experiment: Location, body: Callable[[], D]) -> D:
    """Run a phase; "no trial reported a finite objective" becomes a failed run naming the first error."""
    try:
        return body()
    except TrainingError as exc:
        if isinstance(exc, RunFailedError) or not storage.is_dir(experiment):
            raise
        reason = first_trial_error(experiment)
        if reason is None:
            raise
        raise RunFailedError(f"{name}: {exc}; first error: {reason}") from exc


def _report(
    job: _Job,
    winner1: Phase1Winner,
    comparison: Phase2Comparison,
    holdout: dict[str, Any],
    durations: dict[str, float],
    data: Any,
) -> dict[str, Any]:
    opts = job.opts
    n1 = winner1.n_trials if not opts.phase2_only else 0
    n2 = comparison.n_trials
    return {
        "status": "completed",
        **job.header(),
        "phase1": {**winner1.to_json(), "duration_s": durations.get("phase1")},
        "phase2": {**comparison.to_json(), "duration_s": durations["phase2"]},
        "winner": {
            "algorithm": comparison.winner_algorithm,
            "holding_days": comparison.holding_days,
            "interval": comparison.interval,
            "checkpoint_path": comparison.checkpoint_path,
            "objective": comparison.objective,
        },
        "holdout": {**holdout, "duration_s": durations["holdout"]},
        "pbo": comparison.pbo.value,
        "deflated_sharpe": comparison.deflated_sharpe.value,
        "data_window": data.window(),
        "trial_counts": {
            "phase1": n1,
            "phase2": n2,
            "total": n1 + n2,
            "phase1_by_combination": winner1.trial_counts,
            "phase2_by_algorithm": comparison.trial_counts,
        },
        "versions": versions(),
        "config": job.config_doc,
    }
