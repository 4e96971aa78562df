"""Matplotlib figures of the report, built from plain inputs (arrays and small dataclasses).

Figures are made with ``matplotlib.figure.Figure`` (no ``pyplot``, no global
state, no display needed) and turned into PNG bytes by :func:`figure_png`.
Every figure has a title; the HTML report uses the same title as its heading.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from cappuccino_ray.ranking import rank_key
from cappuccino_ray.report.analysis import HeatmapCell
from cappuccino_ray.report.artifacts import HoldoutSeries

__all__ = [
    "TITLES",
    "drawdown",
    "figure_png",
    "plot_distributions",
    "plot_drawdown",
    "plot_equity",
    "plot_forced_sales_fee_tier",
    "plot_heatmap",
    "plot_history",
    "plot_importances",
    "plot_pbo_logits",
    "plot_positions",
]

#: The title of each figure, by key; tests and the browser check look for these.
TITLES: dict[str, str] = {
    "heatmap": "Phase 1: best objective per holding time x interval",
    "history": "Optimisation history",
    "importances": "Parameter importances (PED-ANOVA)",
    "distributions": "Phase 2: objective distributions by algorithm",
    "equity": "Hold-out: equity vs buy-and-hold",
    "drawdown": "Hold-out: drawdown",
    "positions": "Hold-out: positions over time",
    "forced": "Hold-out: forced sales and fee tier",
    "pbo": "PBO: distribution of out-of-sample rank logits",
    "paths": "The winner's CPCV backtest paths (each covers every group once)",
}


def figure_png(fig: Figure, *, dpi: int = 96) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def _new(width: float = 8.0, height: float = 4.0) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig


def _winner(cells: Sequence[HeatmapCell]) -> HeatmapCell | None:
    """The cell the search picks: the best objective among those scored on the most splits."""
    scored = [c for c in cells if c.best_objective is not None]
    full = max((c.splits_done for c in scored), default=0)
    return max(scored, key=lambda c: rank_key(c.best_objective, c.splits_done, full), default=None)


def plot_heatmap(cells: Sequence[HeatmapCell]) -> Figure:
    """Holding time (rows) x interval (columns), colour = best objective, text = objective and trials.

    The star marks the search's winner (:func:`cappuccino_ray.ranking.best_of`),
    which need not be the highest number when some cells' best trials were stopped early.
    """
    days = sorted({c.holding_days for c in cells})
    intervals = list(dict.fromkeys(c.interval for c in cells))
    grid = np.full((len(days), len(intervals)), np.nan)
    counts = np.zeros_like(grid, dtype=int)
    for c in cells:
        i, j = days.index(c.holding_days), intervals.index(c.interval)
        grid[i, j] = np.nan if c.best_objective is None else c.best_objective
        counts[i, j] = c.n_trials
    fig = _new(1.6 * len(intervals) + 3, 0.8 * len(days) + 2)
    ax = fig.add_subplot()
    masked = np.ma.masked_invalid(grid)
    image = ax.imshow(masked, cmap="viridis", aspect="auto")
    fig.colorbar(image, ax=ax, label="best objective")
    finite = grid[np.isfinite(grid)]
    mid = float(np.mean(finite)) if finite.size else 0.0
    win = _winner(cells)
    best = None if win is None else (days.index(win.holding_days), intervals.index(win.interval))
    for i in range(len(days)):
        for j in range(len(intervals)):
            value = grid[i, j]
            text = "no result" if np.isnan(value) else f"{value:.3g}"
            star = " *" if (i, j) == best else ""
            colour = "white" if np.isnan(value) or value < mid else "black"
            ax.text(j, i, f"{text}{star}\n{counts[i, j]} trials", ha="center", va="center", color=colour)
    ax.set_xticks(range(len(intervals)), intervals)
    ax.set_yticks(range(len(days)), [f"{d:g} d" for d in days])
    ax.set_xlabel("interval")
    ax.set_ylabel("max holding time")
    ax.set_title(TITLES["heatmap"])
    return fig


def plot_history(objectives: Sequence[float], groups: Sequence[str] | None = None) -> Figure:
    """Each trial's objective in start order, coloured by group, with the best so far."""
    y = np.asarray(objectives, dtype=float)
    x = np.arange(1, len(y) + 1)
    labels = list(groups) if groups is not None else ["trials"] * len(y)
    fig = _new(8, 3.8)
    ax = fig.add_subplot()
    for name in dict.fromkeys(labels):
        mask = np.array([g == name for g in labels], dtype=bool)
        ax.scatter(x[mask], y[mask], s=22, label=name, alpha=0.8)
    if len(y):
        ax.step(x, np.maximum.accumulate(y), where="post", color="crimson", label="best so far")
    ax.set_xlabel("trial (in start order)")
    ax.set_ylabel("objective")
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(alpha=0.3)
    ax.set_title(TITLES["history"])
    return fig


def plot_importances(importances: Mapping[str, Mapping[str, float]]) -> Figure:
    """One horizontal bar chart of importances per algorithm."""
    n = max(1, len(importances))
    rows = max((len(v) for v in importances.values()), default=1)
    fig = _new(4.5 * n + 1, 0.45 * rows + 1.6)
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, (algo, scores) in zip(axes, importances.items(), strict=False):
        names = list(scores)[::-1]
        ax.barh(names, [scores[k] for k in names], color="steelblue")
        ax.set_xlim(0, 1)
        ax.set_xlabel("importance (share of variance)")
        ax.set_title(algo)
    fig.suptitle(TITLES["importances"])
    return fig


def plot_distributions(groups: Mapping[str, Sequence[float]]) -> Figure:
    """Box plots of each algorithm's trial objectives, with every trial as a point."""
    names = list(groups)
    fig = _new(2.2 * max(2, len(names)) + 2, 4)
    ax = fig.add_subplot()
    data = [np.asarray(groups[k], dtype=float) for k in names]
    ax.boxplot(data, tick_labels=names, showmeans=True)
    rng = np.random.default_rng(0)
    for i, values in enumerate(data, start=1):
        ax.scatter(i + rng.uniform(-0.08, 0.08, len(values)), values, s=18, alpha=0.7, zorder=3)
    ax.set_ylabel("objective")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(TITLES["distributions"])
    return fig


def drawdown(values: np.ndarray) -> np.ndarray:
    """Fractional drawdown from the running peak (0 at a new high, negative below it)."""
    v = np.asarray(values, dtype=float)
    peak = np.maximum.accumulate(v)
    return np.where(peak > 0, v / np.where(peak > 0, peak, 1.0) - 1.0, 0.0)


def plot_equity(series: HoldoutSeries) -> Figure:
    """Bot and buy-and-hold value, both rebased to 1 at the start of the hold-out."""
    fig = _new(9, 3.8)
    ax = fig.add_subplot()
    for values, label in ((series.bot_value, "bot"), (series.bh_value, "buy-and-hold")):
        start = values[0] if len(values) and values[0] != 0 else 1.0
        ax.plot(series.timestamps, values / start, label=label)
    ax.set_ylabel("value (start = 1)")
    ax.legend()
    ax.grid(alpha=0.3)
    ax.set_title(TITLES["equity"])
    return fig


def plot_drawdown(series: HoldoutSeries) -> Figure:
    """Drawdown of the bot and of buy-and-hold, in percent."""
    fig = _new(9, 3)
    ax = fig.add_subplot()
    ax.fill_between(series.timestamps, 100 * drawdown(series.bot_value), 0, alpha=0.4, label="bot")
    ax.plot(series.timestamps, 100 * drawdown(series.bh_value), color="gray", label="buy-and-hold")
    ax.set_ylabel("drawdown (%)")
    ax.legend(loc="lower left")
    ax.grid(alpha=0.3)
    ax.set_title(TITLES["drawdown"])
    return fig


def plot_positions(series: HoldoutSeries) -> Figure:
    """Stacked portfolio weights per asset over time (the rest is cash)."""
    fig = _new(9, 3.5)
    ax = fig.add_subplot()
    if series.weights.shape[1]:
        w = np.clip(series.weights, 0.0, None)
        ax.stackplot(series.timestamps, w.T, labels=list(series.asset_names), alpha=0.85)
        ax.legend(loc="upper left", fontsize="small", ncol=min(7, len(series.asset_names)))
    else:
        ax.text(0.5, 0.5, "no weights recorded", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("weight (rest is cash)")
    ax.set_title(TITLES["positions"])
    return fig


def plot_forced_sales_fee_tier(series: HoldoutSeries) -> Figure:
    """Forced sales per bar (bars, left axis) and the fee tier in force (step line, right axis)."""
    fig = _new(9, 3)
    ax = fig.add_subplot()
    hits = series.forced_sales > 0
    ax.vlines(series.timestamps[hits], 0, series.forced_sales[hits], color="crimson", label="forced sales")
    ax.set_ylabel("forced sales per bar")
    ax.set_ylim(0, max(1.0, float(series.forced_sales.max(initial=0.0))) * 1.15)
    tier_ax = ax.twinx()
    tier_ax.step(series.timestamps, series.fee_tier, where="post", color="navy", label="fee tier")
    tier_ax.set_ylabel("fee tier")
    ax.legend(loc="upper left", fontsize="small")
    tier_ax.legend(loc="upper right", fontsize="small")
    ax.set_title(f"{TITLES['forced']} ({int(series.forced_sales.sum())} forced sales)")
    return fig


def plot_paths(times: np.ndarray, paths: np.ndarray) -> Figure:
    """Equity of each backtest path (start = 1), over the bars it covers."""
    fig = _new(9, 3.8)
    ax = fig.add_subplot()
    when = np.asarray(times).astype("datetime64[ns]")
    for i, r in enumerate(np.atleast_2d(paths)):
        ax.plot(when, np.cumprod(1.0 + r), label=f"path {i + 1}")
    ax.set_ylabel("value (start = 1)")
    ax.legend()
    ax.grid(alpha=0.3)
    ax.set_title(TITLES["paths"])
    return fig


def plot_pbo_logits(logits: Sequence[float], pbo: float) -> Figure:
    """Histogram of the logits of the in-sample winner's out-of-sample rank; mass left of 0 is PBO."""
    lam = np.asarray(logits, dtype=float)
    lam = lam[np.isfinite(lam)]
    fig = _new(8, 3.5)
    ax = fig.add_subplot()
    bins = max(5, min(30, len(lam) // 2 or 5))
    ax.hist(lam, bins=bins, color="steelblue", edgecolor="white")
    ax.axvline(0.0, color="crimson", linestyle="--", label=f"logit 0 (median); PBO = {pbo:.2f}")
    ax.axvspan(min(float(lam.min(initial=0.0)), -0.5) - 0.5, 0.0, color="crimson", alpha=0.08)
    ax.set_xlabel("logit of the winner's out-of-sample relative rank")
    ax.set_ylabel("combinations")
    ax.legend()
    ax.set_title(TITLES["pbo"])
    return fig
