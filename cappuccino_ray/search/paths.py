"""Backtest paths of a phase's trials, and the PBO and deflated Sharpe taken over them.

A trial's checkpoint holds the per-bar returns of every (split, test group) it
scored (``test_returns.npz``: ``s{split}_g{group}``) with the open times of the
bars they were marked on (``t_s{split}_g{group}``, int64 ns). Taking the splits
in scoring order, path ``p`` is complete once every group has been tested ``p + 1``
times; it covers every bar of the partition exactly once (AFML ch. 12).

The matrix the probability of backtest overfitting is taken over has one row per
calendar bar and one column per trial: a trial's column is the mean, bar by bar, of
its first ``n_paths`` complete paths (all trials' paths are built from the same
splits, since every trial scores the splits in the same order), put on the phase's
coarsest interval (returns compounded within each coarse bar) and cut to the bars
every column has. So no calendar bar is in the matrix twice, whatever the number of
paths, and trials at different intervals or lookbacks are compared on the same bars.

Early-stopped trials: ASHA stops trials after some splits. PBO is taken at each
number of complete paths ``p`` over the trials that completed at least ``p`` paths
(``by_paths``); the phase's headline value is the one over the most trials (``p = 1``),
whose first path every surviving trial of the first rung shares.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cappuccino_ray import storage
from cappuccino_ray.documents import DeflatedSharpe, Pbo
from cappuccino_ray.errors import CappuccinoError, DataError
from cappuccino_ray.intervals import bars_per_day, interval_ns, periods_per_year
from cappuccino_ray.run_files import TEST_RETURNS_FILE
from cappuccino_ray.search.results import TrialRow

__all__ = [
    "TrialPaths",
    "annual_sharpe",
    "cpcv_summary",
    "deflated_sharpe",
    "path_matrix",
    "paths_bytes",
    "phase_pbo",
    "read_trial_paths",
    "trial_paths",
]


@dataclass(frozen=True, eq=False)
class TrialPaths:
    """A trial's complete backtest paths.

    Attributes:
        trial_id: Tune's id.
        interval: The trial's candle interval.
        times: Open times (int64 ns) of the bars each path marks, sorted, ``(T,)``.
        paths: Per-bar simple returns of each complete path, ``(n_paths, T)``.
    """

    trial_id: str
    interval: str
    times: np.ndarray
    paths: np.ndarray

    @property
    def n_paths(self) -> int:
        """Complete paths."""
        return int(self.paths.shape[0])

    def mean_of(self, n_paths: int) -> np.ndarray:
        """The bar-by-bar mean of the first ``n_paths`` paths."""
        return np.asarray(self.paths[:n_paths].mean(axis=0))


def read_trial_paths(
    checkpoint: str | Path | None, trial_id: str, interval: str, n_groups: int, n_test_groups: int
) -> TrialPaths | None:
    """The complete paths of a trial's last checkpoint; ``None`` when it holds none.

    Args:
        checkpoint: The trial's last checkpoint folder.
        trial_id: Tune's id, for the result.
        interval: The trial's interval.
        n_groups: CPCV groups of the trial.
        n_test_groups: Test groups per split.
    """
    from cappuccino_ray.validation import CombinatorialPurgedCV

    raw = storage.read_bytes(storage.join(checkpoint, TEST_RETURNS_FILE)) if checkpoint else None
    if raw is None:  # a local path or a storage URI (cluster runs)
        return None
    with np.load(io.BytesIO(raw)) as data:
        arrays = {k: np.asarray(data[k]) for k in data.files}
    cv = CombinatorialPurgedCV(n_groups, n_test_groups)
    returns, times = [], []
    for path in cv.paths(cv.scoring_order()):
        keys = [f"s{s:03d}_g{g:02d}" for s, g in path]
        if not all(k in arrays and f"t_{k}" in arrays for k in keys):
            break  # paths complete in scoring order: the first incomplete one ends the list
        returns.append(np.concatenate([arrays[k].astype(np.float64) for k in keys]))
        times.append(np.concatenate([arrays[f"t_{k}"].astype(np.int64) for k in keys]))
    if not returns:
        return None
    if any(not np.array_equal(t, times[0]) for t in times[1:]):
        raise DataError(f"{checkpoint}: the trial's backtest paths cover different bars; rerun the trial")
    return TrialPaths(trial_id, interval, times[0], np.stack(returns))


def _on_grid(times: np.ndarray, returns: np.ndarray, grid_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns compounded within each bar of a coarser grid (times sorted)."""
    buckets = times - times % grid_ns
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
    grown = np.add.reduceat(np.log1p(returns), starts)
    return buckets[starts], np.expm1(grown)


def path_matrix(trials: Sequence[TrialPaths], n_paths: int) -> tuple[np.ndarray, list[TrialPaths], int]:
    """The ``(bars, trials)`` matrix of the trials with ``n_paths`` complete paths.

    Args:
        trials: The phase's trials.
        n_paths: Paths each column averages (trials with fewer are left out).

    Returns:
        The matrix, the trials in its columns, and the number of calendar bars a trial's paths
        cover more than once (0 unless a path was assembled wrong; :func:`phase_pbo` then refuses).
    """
    used = [t for t in trials if t.n_paths >= n_paths]
    if not used:
        return np.empty((0, 0)), [], 0
    coarsest = min((t.interval for t in used), key=bars_per_day)
    series = [_on_grid(t.times, t.mean_of(n_paths), interval_ns(coarsest)) for t in used]
    common = series[0][0]
    for times, _ in series[1:]:
        common = np.intersect1d(common, times, assume_unique=True)
    columns = [r[np.searchsorted(times, common)] for times, r in series]
    repeated = sum(int(t.times.size - np.unique(t.times).size) for t in used)
    return np.stack(columns, axis=1), used, repeated


def phase_pbo(trials: Sequence[TrialPaths], n_partitions: int) -> Pbo:
    """PBO of a phase over its trials' paths, at each number of complete paths (module docstring)."""
    from cappuccino_ray.validation import probability_of_backtest_overfitting

    levels = []
    headline: Pbo | None = None
    most = max((t.n_paths for t in trials), default=0)
    for p in range(1, most + 1):
        matrix, used, repeated = path_matrix(trials, p)
        level: dict[str, object] = {"n_paths": p, "n_trials": len(used), "n_bars": int(matrix.shape[0])}
        try:
            if repeated:
                raise DataError(f"{repeated} calendar bars are in a trial's paths more than once")
            res = probability_of_backtest_overfitting(matrix, n_partitions)
            level["value"] = float(res.pbo)
            doc = Pbo(
                value=float(res.pbo),
                n_trials=len(used),
                n_bars=int(matrix.shape[0]),
                n_paths=p,
                repeated_bars=repeated,
                n_partitions=n_partitions,
                prob_oos_loss=float(res.prob_oos_loss),
                logits=tuple(float(x) for x in res.logits),
            )
        except CappuccinoError as exc:
            level["value"] = None
            doc = Pbo(
                n_trials=len(used),
                n_bars=int(matrix.shape[0]),
                n_paths=p,
                repeated_bars=repeated,
                reason=str(exc),
            )
        levels.append(level)
        if headline is None or (headline.value is None and doc.value is not None):
            headline = doc
    if headline is None:
        return Pbo(reason="no trial completed a backtest path (every group tested once)")
    return dataclasses.replace(headline, by_paths=tuple(levels))


def annual_sharpe(trial: TrialPaths) -> float | None:
    """The annualised Sharpe ratio of a trial's paths (their bar-by-bar mean); ``None`` if flat."""
    from cappuccino_ray.validation import annualised_sharpe

    sr = annualised_sharpe(trial.mean_of(trial.n_paths), trial.interval)
    return sr if sr != 0.0 and np.isfinite(sr) else None


def paths_bytes(trial: TrialPaths) -> bytes:
    """A trial's paths as an ``.npz`` file (``times``, ``paths``), for the report."""
    buf = io.BytesIO()
    np.savez(buf, times=trial.times, paths=trial.paths)
    return buf.getvalue()


def trial_paths(rows: Sequence[TrialRow]) -> list[TrialPaths]:
    """The complete paths of every trial that has any (each checkpoint read once)."""
    out = []
    for r in rows:
        cfg = r.config
        try:
            paths = read_trial_paths(
                r.checkpoint_path,
                r.trial_id,
                str(cfg.get("interval")),
                int(cfg.get("n_groups", 0)),
                int(cfg.get("n_test_groups", 0)),
            )
        except (CappuccinoError, ValueError, OSError):
            paths = None
        if paths is not None:
            out.append(paths)
    return out


def cpcv_summary(rows: Sequence[TrialRow]) -> dict[str, Any]:
    """The phase's CPCV: groups, splits scored by its most-scored trial, and tests per group."""
    from cappuccino_ray.validation import CombinatorialPurgedCV

    if not rows:
        return {}
    cfg = rows[0].config
    n, k = int(cfg.get("n_groups", 0)), int(cfg.get("n_test_groups", 0))
    scored = max(r.splits_done for r in rows)
    tests = CombinatorialPurgedCV(n, k).tests_per_group(scored) if n > k >= 1 else [0] * n
    return {"n_groups": n, "n_test_groups": k, "n_splits_scored": scored, "tests_per_group": tests}


def deflated_sharpe(
    winner: TrialPaths | None,
    trial_id: str,
    sharpes: Sequence[float],
    n_trials: int,
    null_variance: str = "sampling",
) -> DeflatedSharpe:
    """The winner's deflated Sharpe ratio against every trial that competed for it.

    The null is that no trial has skill: the winner's Sharpe ratio is then the
    largest of ``n_trials`` estimates whose true value is 0, and the DSR is the
    probability that it beats the expected largest (Bailey & López de Prado 2014).
    How widely those estimates spread, the null variance, has two estimators, and
    the report carries both (``by_variance``):

    * ``sampling`` (the default): the variance of a Sharpe estimate over the
      winner's ``T`` bars when the true Sharpe is 0, ``1 / (T - 1)`` per bar
      (Lo 2002). It is the spread luck alone gives.
    * ``trials``: the variance of the competing trials' annualised Sharpe ratios,
      put on the winner's per-bar scale (divided by its bars per year), the
      paper's estimator. When the trials are alike and unskilled it estimates the
      same spread; but it also counts real differences between them, and a search
      spans many: a trial churning fees at a Sharpe of -30 a year is not luck. On
      the small preset's searches (``bench/bench_honesty.py``) the trials' Sharpe
      ratios spread with a standard deviation of 7 to 14 a year, which puts the
      expected best of 24 unskilled trials at 13 to 27 a year: winners that had
      learned a planted pattern (path Sharpe 12 to 16 a year, hold-out 6.6 to 22.3
      against buy-and-hold's -0.4 to 3.2) got DSR 0.000 to 0.144.

    Either way every trial of both phases counts as one independent trial;
    trials on the same bars are correlated, so that over-counts and errs on the
    side of refusing.

    Args:
        winner: The winner's paths (``None``: it completed none).
        trial_id: The winner's id.
        sharpes: Annualised Sharpe ratios of the competing trials (both phases).
        n_trials: How many trials competed (both phases, early-stopped ones included).
        null_variance: ``sampling`` or ``trials``: the estimate ``value`` uses.
    """
    from cappuccino_ray.validation import deflated_sharpe_ratio, sharpe_stats

    if winner is None:
        return DeflatedSharpe(
            trial_id=trial_id, null_variance=null_variance, reason="the winner completed no backtest path"
        )
    try:
        st = sharpe_stats(winner.mean_of(winner.n_paths))
    except DataError as exc:
        return DeflatedSharpe(
            trial_id=trial_id, null_variance=null_variance, reason=f"the winner's paths: {exc}"
        )
    finite = [s for s in sharpes if np.isfinite(s)]
    variances = {"sampling": 1.0 / (st.n_obs - 1)}
    if len(finite) >= 2:
        variances["trials"] = float(np.var(finite, ddof=1)) / periods_per_year(winner.interval)
    by_variance: dict[str, Any] = {}
    for name, var in variances.items():
        dsr = deflated_sharpe_ratio(st.sr, var, n_trials, st.n_obs, st.skew, st.kurtosis)
        by_variance[name] = {"value": float(dsr) if np.isfinite(dsr) else None, "sharpe_variance": var}
    chosen = by_variance.get(null_variance)
    return DeflatedSharpe(
        value=chosen["value"] if chosen else None,
        trial_id=trial_id,
        sharpe_per_bar=st.sr,
        sharpe_variance=chosen["sharpe_variance"] if chosen else None,
        null_variance=null_variance,
        by_variance=by_variance,
        n_trials=n_trials,
        n_obs=st.n_obs,
        reason=None if chosen else "fewer than 2 trials with a backtest path",
    )
