"""What a run folder holds besides Tune's trials: the job's JSON summaries and the hold-out series.

The report reads these through small typed adapters, so a partial run (phase 1
only, or a job cut off before the hold-out) still loads, with the missing parts
set to ``None``. The hold-out series are saved by the pipeline with
:func:`save_holdout_series` as ``holdout_series.npz`` in the run folder.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cappuccino_ray.atomic import write_bytes_atomic
from cappuccino_ray.errors import DataError
from cappuccino_ray.report.queries import TRAINING_REPORT, read_json

__all__ = [
    "HOLDOUT_SERIES",
    "HoldoutSeries",
    "RunArtifacts",
    "holdout_series_from",
    "load_artifacts",
    "load_holdout_series",
    "save_holdout_series",
]

#: File name of the saved hold-out series inside a run folder.
HOLDOUT_SERIES = "holdout_series.npz"


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


_CANDIDATES: dict[str, tuple[str, ...]] = {
    "bot_value": ("bot_value", "bot_values", "portfolio_value", "portfolio_values", "values", "equity"),
    "bh_value": (
        "bh_value",
        "bh_values",
        "benchmark_values",
        "buy_and_hold_value",
        "buy_and_hold_values",
        "buy_and_hold",
    ),
    "fees": ("fees", "fees_per_step", "step_fees", "fee"),
    "forced_sales": ("forced_sales", "forced_sales_per_step", "n_forced_sales", "forced"),
    "fee_tier": ("fee_tier", "fee_tiers", "tier", "tiers"),
    "weights": ("weights", "positions", "weight"),
    "timestamps": ("timestamps", "times", "index"),
    "asset_names": ("asset_names", "symbols", "assets"),
}


def _pick(result: Any, name: str) -> Any:
    for attr in _CANDIDATES[name]:
        value = result.get(attr) if isinstance(result, Mapping) else getattr(result, attr, None)
        if value is not None:
            return value
    return None


def holdout_series_from(
    result: Any,
    *,
    timestamps: Sequence[Any] | np.ndarray | None = None,
    asset_names: Sequence[str] | None = None,
) -> HoldoutSeries:
    """Build :class:`HoldoutSeries` from an evaluation result (an object or a mapping).

    ``evaluate_policy``'s values have one entry more than its per-step arrays
    (the value before the first step): per-step series are then padded at the
    start (no fees, no forced sales, the first fee tier, all cash).

    Args:
        result: ``evaluate_policy``'s result: per-bar values of the bot and
            buy-and-hold, fees, forced sales, fee tier and weights.
        timestamps: Bar times when the result has none (bar numbers otherwise).
        asset_names: Asset names when the result has none.

    Raises:
        DataError: If the bot's or buy-and-hold's values are missing.
    """
    bot = _pick(result, "bot_value")
    bh = _pick(result, "bh_value")
    if bot is None or bh is None:
        raise DataError("the evaluation result has no per-bar values of the bot and buy-and-hold")
    bot_arr = np.asarray(bot, dtype=np.float64).reshape(-1)
    n = len(bot_arr)

    def series(name: str, edge: bool = False) -> np.ndarray:
        value = _pick(result, name)
        arr = np.zeros(n) if value is None else np.asarray(value, dtype=np.float64)
        if len(arr) == n - 1:  # per-step series: pad the bar before the first step
            arr = np.concatenate([arr[:1] if edge and len(arr) else np.zeros((1, *arr.shape[1:])), arr])
        if len(arr) != n:
            raise DataError(f"the evaluation result's {name} has {len(arr)} entries, expected {n} or {n - 1}")
        return arr

    w = series("weights") if _pick(result, "weights") is not None else np.zeros((n, 0))
    w = w.reshape(n, -1)
    names = asset_names or _pick(result, "asset_names") or [f"asset {i}" for i in range(w.shape[1])]
    times = timestamps if timestamps is not None else _pick(result, "timestamps")
    return HoldoutSeries(
        timestamps=np.arange(n) if times is None else np.asarray(times),
        bot_value=bot_arr,
        bh_value=np.asarray(bh, dtype=np.float64).reshape(-1),
        fees=series("fees"),
        forced_sales=series("forced_sales"),
        fee_tier=series("fee_tier", edge=True),
        weights=w,
        asset_names=tuple(str(s) for s in names),
    )


def save_holdout_series(
    path: str | Path, result: HoldoutSeries | Any, *, asset_names: Sequence[str] | None = None
) -> Path:
    """Save hold-out series atomically as ``.npz``.

    Args:
        path: Target file, normally ``<run_dir>/holdout_series.npz``.
        result: A :class:`HoldoutSeries` or ``evaluate_policy``'s result.
        asset_names: The symbols of the weights' columns (when ``result`` has none).

    Returns:
        The written path.
    """
    series = (
        result if isinstance(result, HoldoutSeries) else holdout_series_from(result, asset_names=asset_names)
    )
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
    phase1_winner: dict[str, Any] | None
    phase1_all: Any
    phase2_comparison: dict[str, Any] | None
    holdout: HoldoutSeries | None

    def section(self, key: str) -> Any:
        """A top-level key of the training report (``None`` when absent)."""
        return None if self.training_report is None else self.training_report.get(key)


def _as_dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _find(root: Path, name: str) -> Path:
    """``root/name``, else the first ``name`` in a sub-folder (phases write into their experiment)."""
    direct = root / name
    if direct.is_file():
        return direct
    return next(iter(sorted(root.rglob(name))), direct)


def load_artifacts(run_dir: str | Path) -> RunArtifacts:
    """Read what the run folder holds; parts not written yet are ``None``."""
    root = Path(run_dir)
    series_path = _find(root, HOLDOUT_SERIES)
    return RunArtifacts(
        run_dir=root,
        training_report=_as_dict(read_json(root / TRAINING_REPORT)),
        phase1_winner=_as_dict(read_json(_find(root, "phase1_winner.json"))),
        phase1_all=read_json(_find(root, "phase1_all_results.json")),
        phase2_comparison=_as_dict(read_json(_find(root, "phase2_comparison.json"))),
        holdout=load_holdout_series(series_path) if series_path.is_file() else None,
    )
