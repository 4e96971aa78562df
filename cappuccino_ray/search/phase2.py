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
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cappuccino_ray import storage
from cappuccino_ray.config._loader import to_dict
from cappuccino_ray.config.search import Phase2Config
from cappuccino_ray.documents import DeflatedSharpe, Pbo, Phase1Winner, Phase2Comparison, read_typed
from cappuccino_ray.errors import CappuccinoError, ConfigError
from cappuccino_ray.run_files import PHASE2_COMPARISON_FILE
from cappuccino_ray.search.results import (
    TrialRow,
    best_row,
    read_test_returns,
    rows_from_experiment,
    trial_counts,
)
from cappuccino_ray.storage import Location

__all__ = [
    "load_phase2_comparison",
    "overfitting_stats",
    "phase2_combos",
    "run_phase2",
    "summarise_phase2",
]


def phase2_combos(cfg: Phase2Config, phase1_winner: Phase1Winner) -> list[dict[str, Any]]:
    """One combination per algorithm: its fixed keys and, for PPO, the warm-start checkpoint."""
    ckpt = phase1_winner.checkpoint_path
    can_warm = cfg.warm_start and bool(ckpt) and phase1_winner.algo == "ppo"
    return [
        {
            "algo": algo,
            **cfg.fixed.get(algo, {}),
            "warm_start_checkpoint": ckpt if (algo == "ppo" and can_warm) else None,
        }
        for algo in cfg.algos
    ]


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
        optuna_storage: SQLAlchemy URL for the Optuna studies (named ``<name>/<combination>``).

    Returns:
        The comparison (``phase2_comparison.json``).
    """
    from cappuccino_ray.search.phase1 import default_trainable
    from cappuccino_ray.search.runner import JobSpec, run_tune_job
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
        [cfg.spaces[a] for a in cfg.algos],
        trials_per_combo=cfg.trials_per_algo,
        seed=cfg.seed,
        base_config={
            "phase": 2,
            "interval": interval,
            # The phase's settings with phase 1's holding limit, serialised once for every trial.
            "env": to_dict(dataclasses.replace(cfg.env, max_hold_days=phase1_winner.holding_days)),
            "train_steps": cfg.budget.train_steps,
            "n_groups": cfg.budget.n_groups,
            "n_test_groups": cfg.budget.n_test_groups,
            "max_splits": cfg.budget.max_splits,
            "num_cpus": cfg.resources.cpus_per_trial,
            "num_gpus": cfg.resources.gpus_per_trial,
        },
        points_to_evaluate=seeds,
        storage=optuna_storage,
        study_prefix=f"{name}/",
    )
    spec = JobSpec(
        storage_path=storage_path,
        name=name,
        title=f"phase 2 ({' vs '.join(cfg.algos)}, {phase1_winner.holding_days:g}d/{interval})",
        resources=cfg.resources,
        asha=cfg.asha,
        max_t=cfg.budget.max_splits,
        max_failures=cfg.max_failures,
        verbose=verbose,
        tracking=cfg.tracking,
    )
    run_tune_job(
        trainable or default_trainable(), searcher, spec, markets={interval: markets[interval]}, resume=resume
    )
    return summarise_phase2(spec.path, cfg, phase1_winner)


def _returns_matrix(
    series: Sequence[tuple[TrialRow, np.ndarray | None]],
) -> tuple[np.ndarray, list[TrialRow]]:
    """Test returns of the trials scored on the most splits, cut to a common length, as (bars, trials)."""
    usable = [(r, s) for r, s in series if s is not None and s.size >= 2 and np.all(np.isfinite(s))]
    if not usable:
        return np.empty((0, 0)), []
    # Trials ASHA stopped early were scored on fewer splits, i.e. fewer test bars;
    # PBO compares trials on the same bars, so only the fully scored ones enter.
    most = max(r.splits_done for r, _ in usable)
    usable = [(r, s) for r, s in usable if r.splits_done == most]
    n = min(s.size for _, s in usable)
    return np.stack([s[:n] for _, s in usable], axis=1), [r for r, _ in usable]


def overfitting_stats(
    rows: Sequence[TrialRow], winner: TrialRow, n_partitions: int
) -> tuple[Pbo, DeflatedSharpe]:
    """The phase's PBO over its trials' test returns and the winner's deflated Sharpe ratio.

    PBO: CSCV over the ``(bars, trials)`` matrix of per-bar test returns.
    DSR: the winner's per-bar Sharpe ratio against the expected maximum Sharpe of
    ``n_trials`` unskilled trials, whose variance is taken across all trials' Sharpe ratios.

    Args:
        rows: Every trial of the phase.
        winner: The selected trial, one of ``rows``.
        n_partitions: CSCV partitions (even).

    Returns:
        ``(pbo, deflated_sharpe)``; ``value`` is ``None`` with a ``reason`` if not computable.
    """
    from cappuccino_ray.validation import (
        deflated_sharpe_ratio,
        per_bar_sharpe,
        probability_of_backtest_overfitting,
        sharpe_stats,
    )

    series = [(r, read_test_returns(r.checkpoint_path)) for r in rows]  # each file read once
    matrix, used = _returns_matrix(series)
    pbo: dict[str, Any] = {"value": None, "n_trials": len(used), "n_bars": int(matrix.shape[0])}
    try:
        res = probability_of_backtest_overfitting(matrix, n_partitions)
        pbo.update(
            value=float(res.pbo),
            n_partitions=n_partitions,
            prob_oos_loss=float(res.prob_oos_loss),
            logits=[float(x) for x in res.logits],
        )
    except CappuccinoError as exc:
        pbo["reason"] = str(exc)
    dsr: dict[str, Any] = {"value": None, "trial_id": winner.trial_id}
    win_returns = next((s for r, s in series if r.trial_id == winner.trial_id), None)
    sharpes = per_bar_sharpe(matrix) if used else np.zeros(0)
    if win_returns is None or win_returns.size < 2:
        dsr["reason"] = "the winner's checkpoint holds no test returns"
    elif len(sharpes) < 2:
        dsr["reason"] = "fewer than 2 fully scored trials to estimate the Sharpe variance"
    else:
        st = sharpe_stats(win_returns)
        var = float(np.var(sharpes, ddof=1))
        value = deflated_sharpe_ratio(st.sr, var, len(rows), st.n_obs, st.skew, st.kurtosis)
        dsr.update(
            value=float(value) if math.isfinite(value) else None,
            sharpe_per_bar=st.sr,
            sharpe_variance=var,
            n_trials=len(rows),
            n_obs=st.n_obs,
        )
    return Pbo.from_json(pbo, source="pbo"), DeflatedSharpe.from_json(dsr, source="deflated_sharpe")


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
        entry: dict[str, Any] = {"n_trials": len(algo_rows), "best": None}
        if algo_rows and any(math.isfinite(r.objective) for r in algo_rows):
            entry["best"] = best_row(algo_rows).summary()
        per_algo[algo] = entry
    pbo, dsr = overfitting_stats(rows, winner, cfg.pbo_partitions)
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
        phase1_checkpoint=phase1_winner.checkpoint_path,
        experiment_path=str(experiment_path),
        written_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    storage.write_json(storage.child(experiment_path, PHASE2_COMPARISON_FILE), doc.to_json())
    return doc


def load_phase2_comparison(path: str | Path) -> Phase2Comparison:
    """Phase 2's comparison from ``phase2_comparison.json``, checked key by key.

    Raises:
        ConfigError: If the file is absent or a key is missing, unknown or of the wrong type.
        DataError: If it is not valid JSON.
    """
    return read_typed(Phase2Comparison, path)
