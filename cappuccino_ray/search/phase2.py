"""Phase 2: PPO against the double-DQN on phase 1's winning time frame, one Tune job.

Both algorithms run in ONE Tune job, each as a "combination" of the
:class:`~cappuccino_ray.search.searcher.ComboSearcher` with its own search space
and Optuna study, dealt in turn so each gets exactly ``trials_per_algo`` trials.
One job rather than two because: the two share the cluster evenly from the
first minute to the last (two sequential jobs would leave cores idle while the
first job's stragglers finish); one experiment folder means one ``--resume``;
and the phase's probability of backtest overfitting must be taken over all its
trials, which one experiment holds together.

PPO trials warm-start from phase 1's best checkpoint (``warm_start_checkpoint``;
the trainable loads the weights whose shapes match, the rolling-feature inputs
start at zero weight) and phase 1's best hyperparameters, fitted into the PPO
space, are evaluated first (``points_to_evaluate``). The double-DQN has a
different network and update rule, so it starts from its own space.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cappuccino_ray import storage
from cappuccino_ray.config._loader import to_dict
from cappuccino_ray.config.search import NETWORK_KEYS, Phase2Config
from cappuccino_ray.documents import Phase1Winner, Phase2Comparison, read_typed
from cappuccino_ray.errors import ConfigError
from cappuccino_ray.ranking import best_of
from cappuccino_ray.run_files import PHASE2_COMPARISON_FILE, WINNER_PATHS_FILE
from cappuccino_ray.search.paths import (
    annual_sharpe,
    cpcv_summary,
    deflated_sharpe,
    paths_bytes,
    phase_pbo,
    trial_paths,
)
from cappuccino_ray.search.results import TrialRow, best_row, rows_from_experiment, trial_counts
from cappuccino_ray.storage import Location

__all__ = [
    "load_phase2_comparison",
    "phase2_combos",
    "phase2_spaces",
    "run_phase2",
    "summarise_phase2",
    "warm_start_counts",
]


def phase2_combos(cfg: Phase2Config, phase1_winner: Phase1Winner) -> list[dict[str, Any]]:
    """One combination per algorithm: its fixed keys and, for PPO, the warm-start checkpoint.

    A warm start copies phase 1's weights only into a network of the same width and
    depth; a PPO trial that drew another shape would start fresh, and then most of
    them do (the small preset's search: 2 of 6). So with ``keep_phase1_network`` the
    PPO combination fixes phase 1's winning ``hidden_size`` and ``n_layers`` (see
    :func:`phase2_spaces`), unless ``fixed.ppo`` names a shape itself.
    """
    ckpt = phase1_winner.checkpoint_path
    can_warm = cfg.warm_start and bool(ckpt) and phase1_winner.algo == "ppo"
    out = []
    for algo in cfg.algos:
        fixed = dict(cfg.fixed.get(algo, {}))
        if algo == "ppo" and can_warm and cfg.keep_phase1_network:
            fixed = {**_phase1_network(phase1_winner), **fixed}
        warm = ckpt if (algo == "ppo" and can_warm) else None
        out.append({"algo": algo, **fixed, "warm_start_checkpoint": warm})
    return out


def phase2_spaces(cfg: Phase2Config, combos: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each algorithm's searched space, less the keys its combination fixes (phase 1's network)."""
    return [
        {k: v for k, v in cfg.spaces[algo].items() if k not in combo}
        for algo, combo in zip(cfg.algos, combos, strict=True)
    ]


def _phase1_network(winner: Phase1Winner) -> dict[str, Any]:
    """Phase 1's winning width and depth: its hyperparameters', else PPO's defaults (what it trained with)."""
    from cappuccino_ray.config.agents import PPOParams

    default = PPOParams()
    return {k: winner.hyperparameters.get(k, getattr(default, k)) for k in NETWORK_KEYS}


def run_phase2(
    cfg: Phase2Config,
    phase1_winner: Phase1Winner,
    markets: Mapping[str, Any],
    *,
    storage_path: Location,
    name: str,
    resume: bool = False,
    verbose: bool = True,
    trainable: Callable[..., Any] | None = None,
    max_lookback: int | None = None,
    optuna_storage: str | None = None,
) -> Phase2Comparison:
    """Run (or resume) phase 2 and write ``phase2_comparison.json``.

    Args:
        cfg: Phase-2 settings.
        phase1_winner: Phase 1's winner (see ``load_phase1_winner``).
        markets: Interval -> search-period ``MarketData``; must hold the winner's interval.
        storage_path: Absolute folder of the experiment folder.
        name: Experiment folder name.
        resume: Continue an interrupted experiment of that name.
        verbose: Print the live progress view.
        trainable: The Tune trainable; the project's CPCV trainable by default.
        max_lookback: The run's largest lookback (both phases), which places the CPCV partition
            that phase 1 used too; ``None``: phase 2's own.
        optuna_storage: SQLAlchemy URL for the Optuna studies (named ``<name>/<combination>``).

    Returns:
        The comparison (``phase2_comparison.json``).
    """
    from cappuccino_ray.search.phase1 import default_trainable
    from cappuccino_ray.search.runner import JobSpec, phase_trial_keys, run_tune_job
    from cappuccino_ray.search.searcher import ComboSearcher

    interval = phase1_winner.interval
    if interval not in markets:
        raise ConfigError(f"no market data for phase 1's winning interval {interval}")
    combos = phase2_combos(cfg, phase1_winner)
    seeds: list[list[Mapping[str, Any]]] = [[] for _ in combos]
    if cfg.seed_with_phase1_best and "ppo" in cfg.algos:
        seeds[list(cfg.algos).index("ppo")] = [dict(phase1_winner.hyperparameters)]
    searcher = ComboSearcher(
        combos,
        phase2_spaces(cfg, combos),
        trials_per_combo=cfg.trials_per_algo,
        seed=cfg.seed,
        base_config={
            "phase": 2,
            "interval": interval,
            # The phase's settings with phase 1's holding limit, serialised once for every trial.
            "env": to_dict(dataclasses.replace(cfg.env, max_hold_days=phase1_winner.holding_days)),
            **phase_trial_keys(cfg, max_lookback),
        },
        points_to_evaluate=seeds,
        storage=optuna_storage,
        study_prefix=f"{name}/",
    )
    title = f"phase 2 ({' vs '.join(cfg.algos)}, {phase1_winner.holding_days:g}d/{interval})"
    spec = JobSpec.of_phase(cfg, storage_path=storage_path, name=name, title=title, verbose=verbose)
    run_tune_job(
        trainable or default_trainable(), searcher, spec, markets={interval: markets[interval]}, resume=resume
    )
    return summarise_phase2(spec.path, cfg, phase1_winner)


def summarise_phase2(
    experiment_path: Location, cfg: Phase2Config, phase1_winner: Phase1Winner
) -> Phase2Comparison:
    """Read the phase-2 experiment and write ``phase2_comparison.json``.

    Args:
        experiment_path: The phase-2 Tune experiment folder.
        cfg: Phase-2 settings (for the PBO partitions and the planned counts).
        phase1_winner: Phase 1's winner.

    Returns:
        The comparison.
    """
    rows = rows_from_experiment(experiment_path)
    winner = best_row(rows)
    per_algo: dict[str, Any] = {}
    for algo in cfg.algos:
        algo_rows = [r for r in rows if r.config.get("algo") == algo]
        best = best_of(algo_rows)
        per_algo[algo] = {"n_trials": len(algo_rows), "best": best.summary() if best else None}
    paths = trial_paths(rows)
    pbo = phase_pbo(paths, cfg.pbo_partitions)
    # The deflated Sharpe deflates by every trial of both phases that competed for the winner.
    sharpes = [*phase1_winner.trial_sharpes, *(s for t in paths if (s := annual_sharpe(t)) is not None)]
    win_paths = next((t for t in paths if t.trial_id == winner.trial_id), None)
    dsr = deflated_sharpe(
        win_paths, winner.trial_id, sharpes, phase1_winner.n_trials + len(rows), cfg.dsr_variance
    )
    summary = winner.summary()
    doc = Phase2Comparison(
        winner_algorithm=str(winner.config.get("algo")),
        holding_days=phase1_winner.holding_days,
        interval=phase1_winner.interval,
        winner=summary,
        objective=summary["objective"],
        bot_sharpe=summary["bot_sharpe"],
        bh_sharpe=summary["bh_sharpe"],
        checkpoint_path=winner.checkpoint_path,
        config=winner.config,
        algorithms=per_algo,
        trial_counts=trial_counts(rows),
        n_trials=len(rows),
        n_trials_planned=cfg.n_trials,
        pbo=pbo,
        deflated_sharpe=dsr,
        cpcv=cpcv_summary(rows),
        warm_start=warm_start_counts(rows),
        phase1_checkpoint=phase1_winner.checkpoint_path,
        experiment_path=str(experiment_path),
        written_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    storage.write_json(storage.child(experiment_path, PHASE2_COMPARISON_FILE), doc.to_json())
    if win_paths is not None:  # the winner's paths, for the report
        storage.write_bytes(storage.child(experiment_path, WINNER_PATHS_FILE), paths_bytes(win_paths))
    return doc


def warm_start_counts(rows: Sequence[TrialRow]) -> dict[str, Any]:
    """How many PPO trials started from phase 1's weights on their last split, and why the others did not."""
    ppo = [r for r in rows if r.config.get("algo") == "ppo"]
    notes = [str(r.metrics.get("warm_start", "none")) for r in ppo]
    skipped: dict[str, int] = {}
    for note in notes:
        if note.startswith("skipped"):
            skipped[note] = skipped.get(note, 0) + 1
    return {
        "ppo_trials": len(ppo),
        "warm_started": sum(n.startswith("split") for n in notes),
        "skipped": skipped,
    }


def load_phase2_comparison(path: str | Path) -> Phase2Comparison:
    """Phase 2's comparison from ``phase2_comparison.json``, checked key by key.

    Raises:
        ConfigError: If the file is absent or a key is missing, unknown or of the wrong type.
        DataError: If it is not valid JSON.
    """
    return read_typed(Phase2Comparison, path)
