"""Phase 1: the time-frame search over holding time x interval, one Tune job.

Every (holding_days, interval) combination gets its own Optuna study and exactly
``trials_per_combo`` trials (see :mod:`cappuccino_ray.search.searcher`); each
trial trains on data resampled to its interval. The job writes
``phase1_winner.json`` and ``phase1_all_results.json`` into its experiment folder
(names in :mod:`cappuccino_ray.run_files`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cappuccino_ray import storage
from cappuccino_ray.config._loader import to_dict
from cappuccino_ray.config.search import PBO_PARTITIONS, Phase1Config
from cappuccino_ray.documents import Phase1Winner, read_typed
from cappuccino_ray.errors import ConfigError, TrainingError
from cappuccino_ray.ranking import holding_days
from cappuccino_ray.run_files import PHASE1_ALL_RESULTS_FILE, PHASE1_DIR, PHASE1_WINNER_FILE
from cappuccino_ray.search.paths import annual_sharpe, cpcv_summary, phase_pbo, trial_paths
from cappuccino_ray.search.results import (
    TrialRow,
    best_per_combo,
    best_row,
    rows_from_experiment,
    trial_counts,
)
from cappuccino_ray.storage import Location

__all__ = [
    "default_trainable",
    "load_phase1_winner",
    "phase1_base_config",
    "phase1_combos",
    "phase1_winner_from_experiment",
    "run_phase1",
    "summarise_phase1",
]


def default_trainable() -> Callable[..., Any]:
    """The project's CPCV trainable (``cappuccino_ray.search.trainable.cpcv_trainable``)."""
    try:
        from cappuccino_ray.search.trainable import cpcv_trainable
    except ImportError as exc:
        raise TrainingError(f"the CPCV trainable cannot be imported ({exc}); reinstall the package") from exc
    return cpcv_trainable


def phase1_combos(cfg: Phase1Config) -> list[dict[str, Any]]:
    """The grid, holding time major: each combination's interval and env settings.

    A combination's holding time is its ``env``'s ``max_hold_days``: the phase's
    settings with that one key replaced, serialised once here for every trial of it.
    """
    return [
        {"interval": i, "env": to_dict(dataclasses.replace(cfg.env, max_hold_days=float(d)))}
        for d in cfg.holding_days
        for i in cfg.intervals
    ]


def phase1_base_config(cfg: Phase1Config, max_lookback: int | None = None) -> dict[str, Any]:
    """Keys every phase-1 trial gets besides its combination and sampled hyperparameters.

    Args:
        cfg: Phase-1 settings.
        max_lookback: The run's largest lookback (both phases), which places the CPCV
            partition; ``None``: phase 1's own.
    """
    from cappuccino_ray.search.runner import phase_trial_keys

    return {
        "algo": cfg.algo,
        "phase": 1,
        **phase_trial_keys(cfg, max_lookback),
        "warm_start_checkpoint": None,
        **cfg.fixed,
    }


def run_phase1(
    cfg: Phase1Config,
    markets: Mapping[str, Any],
    *,
    storage_path: Location,
    name: str,
    resume: bool = False,
    verbose: bool = True,
    trainable: Callable[..., Any] | None = None,
    max_lookback: int | None = None,
    optuna_storage: str | None = None,
) -> Phase1Winner:
    """Run (or resume) phase 1 and write its result files.

    Args:
        cfg: Phase-1 settings.
        markets: Interval -> search-period ``MarketData`` (hold-out already cut off).
        storage_path: Absolute folder of the experiment folder (Tune's ``storage_path``), or a URI.
        name: Experiment folder name.
        resume: Continue an interrupted experiment of that name.
        verbose: Print the live progress view.
        trainable: The Tune trainable; the project's CPCV trainable by default.
        max_lookback: The run's largest lookback (both phases); ``None``: phase 1's own.
        optuna_storage: SQLAlchemy URL for the Optuna studies (named ``<name>/<combination>``).

    Returns:
        The winner (``phase1_winner.json``).
    """
    from cappuccino_ray.search.runner import JobSpec, run_tune_job
    from cappuccino_ray.search.searcher import ComboSearcher

    missing = [i for i in cfg.intervals if i not in markets]
    if missing:
        raise ConfigError(f"no market data for intervals {missing}; load them before phase 1")
    combos = phase1_combos(cfg)
    searcher = ComboSearcher(
        combos,
        [cfg.space] * len(combos),
        trials_per_combo=cfg.trials_per_combo,
        seed=cfg.seed,
        base_config=phase1_base_config(cfg, max_lookback),
        storage=optuna_storage,
        study_prefix=f"{name}/",
    )
    spec = JobSpec.of_phase(
        cfg, storage_path=storage_path, name=name, title="phase 1 (holding time x interval)", verbose=verbose
    )
    run_tune_job(trainable or default_trainable(), searcher, spec, markets=markets, resume=resume)
    return summarise_phase1(spec.path, expected_trials=cfg.n_trials, pbo_partitions=cfg.pbo_partitions)


def summarise_phase1(
    experiment_path: Location, *, expected_trials: int | None = None, pbo_partitions: int = PBO_PARTITIONS
) -> Phase1Winner:
    """Read the phase-1 experiment and write ``phase1_winner.json`` and ``phase1_all_results.json``.

    ``phase1_all_results.json`` lists each combination's best trial, best first,
    with ``n_trials``, the number of trials the combination ran.

    Args:
        experiment_path: The phase-1 Tune experiment folder.
        expected_trials: Trials planned (recorded for the report).
        pbo_partitions: CSCV partitions of the phase's PBO.

    Returns:
        The winner.
    """
    rows = rows_from_experiment(experiment_path)
    winner = _winner_doc(rows, experiment_path, expected_trials, pbo_partitions)
    counts = winner.trial_counts
    every = [{**r.summary(), "n_trials": counts[r.combination]["total"]} for r in best_per_combo(rows)]
    storage.write_json(storage.child(experiment_path, PHASE1_ALL_RESULTS_FILE), every)
    storage.write_json(storage.child(experiment_path, PHASE1_WINNER_FILE), winner.to_json())
    return winner


def phase1_winner_from_experiment(
    experiment_path: Location, *, expected_trials: int | None = None, pbo_partitions: int = PBO_PARTITIONS
) -> Phase1Winner:
    """The winner document of a phase-1 Tune experiment, queried with ``tune.ExperimentAnalysis``.

    Args:
        experiment_path: The phase-1 Tune experiment folder.
        expected_trials: Trials planned (recorded for the report).
        pbo_partitions: CSCV partitions of the phase's PBO.

    Returns:
        The same document :func:`summarise_phase1` writes to ``phase1_winner.json``.
    """
    return _winner_doc(
        rows_from_experiment(experiment_path), experiment_path, expected_trials, pbo_partitions
    )


def _winner_doc(
    rows: Sequence[TrialRow], experiment_path: Location, expected_trials: int | None, pbo_partitions: int
) -> Phase1Winner:
    best = best_row(rows)
    paths = trial_paths(rows)
    summary = best.summary()
    days = holding_days(best.config)
    if days is None:
        raise TrainingError(f"{experiment_path}: the best trial's config has no env.max_hold_days")
    return Phase1Winner(
        holding_days=days,
        interval=str(best.config.get("interval")),
        algo=str(best.config.get("algo")),
        trial_id=best.trial_id,
        objective=summary["objective"],
        bot_sharpe=summary["bot_sharpe"],
        bh_sharpe=summary["bh_sharpe"],
        splits_done=best.splits_done,
        hyperparameters=best.hyperparameters,
        config=best.config,
        checkpoint_path=best.checkpoint_path,
        trial_counts=trial_counts(rows),
        n_trials=len(rows),
        n_trials_planned=expected_trials,
        experiment_path=str(experiment_path),
        written_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        cpcv=cpcv_summary(rows),
        pbo=phase_pbo(paths, pbo_partitions),
        trial_sharpes=tuple(s for t in paths if (s := annual_sharpe(t)) is not None),
    )


def load_phase1_winner(path: str | Path) -> Phase1Winner:
    """Phase 1's winner from ``phase1_winner.json``, a folder holding it, or a phase-1 experiment folder.

    Args:
        path: A JSON file, or a folder (the phase-1 experiment, or one holding it in ``phase1/``).

    Raises:
        ConfigError: If nothing usable is found at ``path``.
        DataError: If the winner file is not valid JSON.
    """
    where = str(path)  # a local path or a storage URI
    for c in (
        where,
        storage.join(where, PHASE1_WINNER_FILE),
        storage.join(where, PHASE1_DIR, PHASE1_WINNER_FILE),
    ):
        if storage.is_file(c):
            return read_typed(Phase1Winner, c)
    for exp in (where, storage.join(where, PHASE1_DIR)):
        if storage.list_files(exp, "experiment_state*.json"):
            return phase1_winner_from_experiment(exp)
    raise ConfigError(
        f"{where}: no {PHASE1_WINNER_FILE} and no phase-1 Tune experiment there; "
        f"pass the phase-1 results folder or its {PHASE1_WINNER_FILE}"
    )
