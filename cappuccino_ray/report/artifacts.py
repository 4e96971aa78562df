"""What a run folder holds besides Tune's trials: the job's JSON summaries and the hold-out series.

The report reads them from where the pipeline writes them (names and places in
:mod:`cappuccino_ray.run_files`), so a partial run (phase 1 only, or a job cut
off before the hold-out) still loads, with the missing parts set to ``None``.
The hold-out series are saved by the pipeline with :func:`save_holdout_series`
as ``holdout_series.npz`` in the run folder.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from cappuccino_ray import storage
from cappuccino_ray.atomic import write_bytes_atomic
from cappuccino_ray.documents import Phase1Winner, Phase2Comparison, read_typed
from cappuccino_ray.errors import CappuccinoError, DataError
from cappuccino_ray.run_files import (
    HOLDOUT_SERIES_FILE,
    PHASE1_ALL_RESULTS_FILE,
    PHASE1_DIR,
    PHASE1_WINNER_FILE,
    PHASE2_COMPARISON_FILE,
    PHASE2_DIR,
    TRAINING_REPORT_FILE,
    WINNER_PATHS_FILE,
    read_json,
)

if TYPE_CHECKING:
    from cappuccino_ray.validation import EvaluationResult

D = TypeVar("D")

__all__ = [
    "HoldoutSeries",
    "RunArtifacts",
    "holdout_series_from",
    "load_artifacts",
    "load_holdout_series",
    "save_holdout_series",
]


@dataclass(frozen=True, eq=False)
class HoldoutSeries:
    """Per-bar series of the winner and buy-and-hold over the hold-out period.

    Attributes:
        timestamps: Bar times, ``datetime64[ns]`` shape ``(T,)``, or bar numbers.
        bot_value: Portfolio value of the bot, shape ``(T,)``.
        bh_value: Value of equal-weight buy-and-hold, shape ``(T,)``.
        fees: Fees paid at each bar, shape ``(T,)``.
        forced_sales: Positions force-sold at each bar (holding limit), shape ``(T,)``.
        fee_tier: Fee tier in force at each bar, shape ``(T,)``.
        weights: Portfolio weights per asset at each bar, shape ``(T, n_assets)``.
        asset_names: One name per column of ``weights``.
    """

    timestamps: np.ndarray
    bot_value: np.ndarray
    bh_value: np.ndarray
    fees: np.ndarray
    forced_sales: np.ndarray
    fee_tier: np.ndarray
    weights: np.ndarray
    asset_names: tuple[str, ...]

    def __post_init__(self) -> None:
        """Check that every series has the same length."""
        n = len(self.bot_value)
        for name in ("timestamps", "bh_value", "fees", "forced_sales", "fee_tier", "weights"):
            if len(getattr(self, name)) != n:
                raise DataError(f"hold-out series {name} has {len(getattr(self, name))} bars, expected {n}")
        if self.weights.ndim != 2 or self.weights.shape[1] != len(self.asset_names):
            raise DataError(
                f"hold-out weights must have shape (T, {len(self.asset_names)}), got {self.weights.shape}"
            )


def holdout_series_from(result: EvaluationResult, asset_names: Sequence[str]) -> HoldoutSeries:
    """Build :class:`HoldoutSeries` from ``evaluate_policy``'s result.

    The result's values have one entry more than its per-step arrays (the value
    before the first step), so the per-step series are padded at the start: no
    fees, no forced sales, the first fee tier, all cash.

    Args:
        result: ``evaluate_policy``'s result over the hold-out.
        asset_names: The symbols of the weights' columns.

    Raises:
        DataError: If a per-step series is not one entry shorter than the values.
    """
    bot = np.asarray(result.values, dtype=np.float64).reshape(-1)
    n = len(bot)

    def per_step(name: str, *, repeat_first: bool = False) -> np.ndarray:
        arr = np.asarray(getattr(result, name), dtype=np.float64)
        if len(arr) != n - 1:
            raise DataError(f"the evaluation result's {name} has {len(arr)} entries, expected {n - 1}")
        first = arr[:1] if repeat_first and len(arr) else np.zeros((1, *arr.shape[1:]))
        return np.concatenate([first, arr])

    return HoldoutSeries(
        timestamps=np.asarray(result.timestamps),
        bot_value=bot,
        bh_value=np.asarray(result.benchmark_values, dtype=np.float64).reshape(-1),
        fees=per_step("fees"),
        forced_sales=per_step("forced_sales"),
        fee_tier=per_step("fee_tier", repeat_first=True),
        weights=per_step("weights").reshape(n, -1),
        asset_names=tuple(str(s) for s in asset_names),
    )


def save_holdout_series(path: str | Path, series: HoldoutSeries) -> str | Path:
    """Save hold-out series atomically as ``.npz``.

    Args:
        path: Target file, normally ``<run_dir>/holdout_series.npz`` (a path or a storage URI).
        series: The series (see :func:`holdout_series_from`).

    Returns:
        The written path.
    """
    times = series.timestamps
    if np.issubdtype(times.dtype, np.datetime64):
        times = times.astype("datetime64[ns]").astype(np.int64)
        kind = "datetime64[ns]"
    else:
        kind = "index"
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        timestamps=times,
        timestamps_kind=np.array(kind),
        bot_value=series.bot_value,
        bh_value=series.bh_value,
        fees=series.fees,
        forced_sales=series.forced_sales,
        fee_tier=series.fee_tier,
        weights=series.weights,
        asset_names=np.array(series.asset_names, dtype=str),
    )
    if storage.is_remote(path):
        return storage.write_bytes(path, buf.getvalue())
    return write_bytes_atomic(path, buf.getvalue())


def load_holdout_series(path: str | Path) -> HoldoutSeries:
    """Load series saved by :func:`save_holdout_series`.

    Raises:
        DataError: If the file is missing or not a saved series.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no hold-out series; the pipeline writes it after the hold-out test")
    try:
        with np.load(p, allow_pickle=False) as z:
            times = z["timestamps"]
            if str(z["timestamps_kind"]) == "datetime64[ns]":
                times = times.astype("datetime64[ns]")
            return HoldoutSeries(
                timestamps=times,
                bot_value=z["bot_value"],
                bh_value=z["bh_value"],
                fees=z["fees"],
                forced_sales=z["forced_sales"],
                fee_tier=z["fee_tier"],
                weights=z["weights"],
                asset_names=tuple(str(s) for s in z["asset_names"]),
            )
    except (KeyError, ValueError, OSError) as exc:
        raise DataError(f"{p}: not a hold-out series file ({exc}); rerun the hold-out test") from exc


@dataclass(frozen=True, eq=False)
class RunArtifacts:
    """The JSON summaries and series a run folder holds; ``None`` where a part is missing.

    Attributes:
        run_dir: The run folder.
        training_report: ``two_phase_training_report.json``.
        phase1_winner: ``phase1_winner.json``.
        phase1_all: ``phase1_all_results.json``.
        phase2_comparison: ``phase2_comparison.json``.
        holdout: The saved hold-out series.
    """

    run_dir: Path
    training_report: dict[str, Any] | None
    phase1_winner: Phase1Winner | None
    phase1_all: Any
    phase2_comparison: Phase2Comparison | None
    holdout: HoldoutSeries | None
    winner_paths: tuple[np.ndarray, np.ndarray] | None = None
    """The phase-2 winner's backtest paths: bar times (ns) and per-bar returns ``(paths, bars)``."""

    def section(self, key: str) -> Any:
        """A top-level key of the training report (``None`` when absent)."""
        return None if self.training_report is None else self.training_report.get(key)


def _as_dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _typed(cls: type[D], path: Path) -> D | None:
    """The typed document at ``path``; ``None`` when it is absent or not a complete document.

    A report shows what a run holds: an unfinished or damaged phase document is a missing
    part of the report (named in it), not an error.
    """
    if not path.is_file():
        return None
    try:
        return read_typed(cls, path)
    except CappuccinoError:
        return None


def load_artifacts(run_dir: str | Path) -> RunArtifacts:
    """Read what the run folder holds; parts not written yet are ``None``."""
    root = Path(run_dir)
    series_path = root / HOLDOUT_SERIES_FILE
    return RunArtifacts(
        run_dir=root,
        training_report=_as_dict(read_json(root / TRAINING_REPORT_FILE)),
        phase1_winner=_typed(Phase1Winner, root / PHASE1_DIR / PHASE1_WINNER_FILE),
        phase1_all=read_json(root / PHASE1_DIR / PHASE1_ALL_RESULTS_FILE),
        phase2_comparison=_typed(Phase2Comparison, root / PHASE2_DIR / PHASE2_COMPARISON_FILE),
        holdout=load_holdout_series(series_path) if series_path.is_file() else None,
        winner_paths=_winner_paths(root / PHASE2_DIR / WINNER_PATHS_FILE),
    )


def _winner_paths(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """The winner's saved paths; ``None`` when absent or unreadable (a missing part of the report)."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as data:
            return np.asarray(data["times"]), np.asarray(data["paths"], dtype=np.float64)
    except (OSError, ValueError, KeyError):
        return None
