"""Backtest a checkpoint on any candles with the exact mechanics it records.

The agent (plain torch, :func:`~cappuccino_ray.agents.inference.load_agent`)
runs through :func:`~cappuccino_ray.validation.evaluate_policy`, i.e. the
Gymnasium env over the market core: fees and tiers with the trailing volume
carried from bar to bar, forced sales at the holding limit, fills at the next
bar's open with slippage. Features are computed on every candle of the data
(they look backwards only), so the first bars of ``--start`` are warmed up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cappuccino_ray.data.market import MarketData
from cappuccino_ray.errors import DataError
from cappuccino_ray.paper.sources import bar_index, iso_ns, to_ns

__all__ = ["METRICS", "BacktestResult", "metrics_table", "run_backtest"]

#: The metrics a backtest reports, in table order.
METRICS: tuple[str, ...] = (
    "final_equity",
    "total_return",
    "sharpe",
    "max_drawdown",
    "n_trades",
    "fees_paid",
    "n_forced_sales",
    "n_bars",
)


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """A backtest's metrics and the evaluation behind them.

    Attributes:
        summary: JSON-friendly ``{"checkpoint", "symbols", "interval", "start", "end",
            "bot": {metric: value}, "buy_and_hold": {...}}``.
        evaluation: The per-bar :class:`~cappuccino_ray.validation.EvaluationResult`.
        symbols: The traded symbols.
    """

    summary: dict[str, Any]
    evaluation: Any
    symbols: tuple[str, ...]


def _metrics(values: np.ndarray, seg: Any) -> dict[str, Any]:
    return {
        "final_equity": float(values[-1]),
        "total_return": float(seg.total_return),
        "sharpe": float(seg.sharpe),
        "max_drawdown": float(seg.max_drawdown),
        "n_trades": int(seg.n_trades),
        "fees_paid": float(seg.fees_paid),
        "n_forced_sales": int(seg.n_forced_sales),
        "n_bars": int(seg.n_bars),
    }


def run_backtest(
    checkpoint: str | Path,
    market: MarketData,
    *,
    start: np.datetime64 | None = None,
    end: np.datetime64 | None = None,
) -> BacktestResult:
    """Evaluate the checkpoint on ``market`` from ``start`` to ``end`` (both included).

    Args:
        checkpoint: The checkpoint folder.
        market: Candles of the checkpoint's symbols at its interval (see
            :func:`~cappuccino_ray.paper.sources.load_candles`).
        start: First decision bar (default: the first bar after the features' warm-up).
        end: Last bar marked (default: the last bar).

    Returns:
        The metrics of the agent and of equal-weight buy-and-hold.

    Raises:
        DataError: If the market's symbols or interval differ from the checkpoint's,
            or the window holds fewer than 2 bars.
    """
    from cappuccino_ray.agents.inference import load_agent
    from cappuccino_ray.validation import evaluate_policy

    agent = load_agent(checkpoint)
    spec = agent.spec
    check_market(spec, market)
    a = bar_index(market, start, side="start") or 0
    b = bar_index(market, end, side="end")
    b = market.n_bars - 1 if b is None else b
    if b - a < 1:
        raise DataError("the backtest window holds fewer than 2 bars; widen --start/--end")
    env_config = {"market": market, "segments": [(a, b + 1)], "settings": agent.spec.env_settings}
    res = evaluate_policy(agent.act, env_config)
    summary = {
        "checkpoint": str(checkpoint),
        "algorithm": spec.algo,
        "symbols": list(market.symbols),
        "interval": market.interval,
        "start": iso_ns(to_ns(res.timestamps[0])),
        "end": iso_ns(to_ns(res.timestamps[-1])),
        "bot": _metrics(res.values, res.bot),
        "buy_and_hold": _metrics(res.benchmark_values, res.benchmark),
    }
    return BacktestResult(summary=summary, evaluation=res, symbols=tuple(market.symbols))


def check_market(spec: Any, market: MarketData) -> None:
    """Refuse candles whose symbols or interval differ from the checkpoint's.

    Raises:
        DataError: Saying which differ.
    """
    if spec.symbols and tuple(market.symbols) != tuple(spec.symbols):
        raise DataError(
            f"candles are for {', '.join(market.symbols)}; the checkpoint trades {', '.join(spec.symbols)}"
        )
    if market.interval != spec.interval:
        raise DataError(f"candles are {market.interval}; the checkpoint was trained on {spec.interval}")
    if market.n_assets != spec.n_assets:
        raise DataError(f"candles have {market.n_assets} assets; the checkpoint trades {spec.n_assets}")


def metrics_table(summary: dict[str, Any]) -> str:
    """The summary as a readable table: one row per metric, the agent beside buy-and-hold."""
    bot, bh = summary["bot"], summary["buy_and_hold"]
    lines = [
        f"backtest of {summary['checkpoint']} ({summary['algorithm']}, {summary['interval']}) "
        f"{summary['start']} .. {summary['end']}",
        f"{'metric':<16}{'agent':>16}{'buy-and-hold':>16}",
    ]
    for key in METRICS:
        lines.append(f"{key:<16}{_fmt(bot[key]):>16}{_fmt(bh[key]):>16}")
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    return str(v) if isinstance(v, int) else f"{v:,.4f}"


def write_html(result: BacktestResult, out: str | Path) -> Path:
    """Write the report's hold-out figures (equity, drawdown, positions, forced sales and fee tier).

    Args:
        result: A backtest.
        out: The HTML file to write (atomically).

    Returns:
        The path written.
    """
    from cappuccino_ray.atomic import write_bytes_atomic
    from cappuccino_ray.report import plots
    from cappuccino_ray.report.artifacts import holdout_series_from
    from cappuccino_ray.report.html import Section, render_html

    s = result.summary
    series = holdout_series_from(result.evaluation, result.symbols)
    section = Section(f"Backtest {s['start']} to {s['end']}")
    section.tables.append(
        [["metric", "agent", "buy-and-hold"]]
        + [[k, _fmt(s["bot"][k]), _fmt(s["buy_and_hold"][k])] for k in METRICS]
    )
    for fn in (
        plots.plot_equity,
        plots.plot_drawdown,
        plots.plot_positions,
        plots.plot_forced_sales_fee_tier,
    ):
        fig = fn(series)
        title = fig.get_suptitle() or fig.axes[0].get_title()
        section.figures.append((title, plots.figure_png(fig)))
    page = render_html(f"cappuccino_ray backtest: {Path(s['checkpoint']).name}", [section])
    return write_bytes_atomic(out, page.encode("utf-8"))
