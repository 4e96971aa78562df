"""The deployment gate: hold-out checks a winner must pass before it goes live.

The checks read the two-phase report (``two_phase_training_report.json``):

* ``beats_buy_and_hold``: ``holdout.bot.sharpe > holdout.buy_and_hold.sharpe + sharpe_margin``;
* ``pbo``: probability of backtest overfitting ``<= max_pbo``;
* ``deflated_sharpe``: deflated Sharpe probability ``>= min_deflated_sharpe``;
* ``max_drawdown``: ``|holdout.bot.max_drawdown| <= max_drawdown``;
* ``min_trades``: ``holdout.bot.n_trades >= min_trades``.

A missing or non-finite value fails its check (unless ``allow_missing`` for
PBO and deflated Sharpe), so a malformed report can never deploy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from cappuccino_ray.config.ops import GateConfig

__all__ = ["GateCheck", "GateResult", "evaluate_gate", "report_number"]


@dataclass(frozen=True)
class GateCheck:
    """One check: its value, the rule, and whether it passed."""

    name: str
    value: float | None
    rule: str
    passed: bool
    reason: str


@dataclass(frozen=True)
class GateResult:
    """All checks and the decision."""

    passed: bool
    checks: tuple[GateCheck, ...]

    @property
    def reasons(self) -> list[str]:
        """Why the gate failed (empty when it passed)."""
        return [c.reason for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form for manifests, state and notifications."""
        return {"passed": self.passed, "checks": [asdict(c) for c in self.checks], "reasons": self.reasons}


def report_number(value: Any, *keys: str) -> float | None:
    """A finite float from ``value``, or from the first of ``keys`` in it when it is a mapping."""
    if isinstance(value, Mapping):
        for k in keys:
            if k in value:
                return report_number(value[k])
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def _get(report: Any, *path: str) -> Any:
    """``report[path[0]][path[1]]...``, or None where a step is missing or not a mapping."""
    node: Any = report
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def _check(name: str, value: float | None, rule: str, ok: bool, missing_ok: bool = False) -> GateCheck:
    if value is None:
        passed = missing_ok
        why = f"{name}: missing from the report" + (" (allowed)" if missing_ok else "")
        return GateCheck(name, None, rule, passed, why)
    return GateCheck(name, value, rule, ok, f"{name} = {value:.4g}, needs {rule}")


def evaluate_gate(report: Mapping[str, Any], cfg: GateConfig) -> GateResult:
    """Run every check of ``cfg`` on ``report``.

    Args:
        report: The parsed two-phase report.
        cfg: Thresholds.

    Returns:
        The decision and each check's value and reason.
    """
    bot = _get(report, "holdout", "bot")
    bh = _get(report, "holdout", "buy_and_hold")
    checks: list[GateCheck] = []
    if cfg.beat_buy_and_hold:
        s_bot = report_number(_get(bot, "sharpe"))
        s_bh = report_number(_get(bh, "sharpe"))
        need = None if s_bh is None else s_bh + cfg.sharpe_margin
        rule = f"> buy-and-hold Sharpe {need:.4g}" if need is not None else "> buy-and-hold Sharpe (missing)"
        value = s_bot if need is not None else None
        checks.append(
            _check("holdout_sharpe", value, rule, value is not None and need is not None and value > need)
        )
    pbo = report_number(report.get("pbo"), "pbo", "value", "probability")
    checks.append(
        _check("pbo", pbo, f"<= {cfg.max_pbo}", pbo is not None and pbo <= cfg.max_pbo, cfg.allow_missing)
    )
    dsr = report_number(report.get("deflated_sharpe"), "probability", "dsr", "value", "deflated_sharpe")
    checks.append(
        _check(
            "deflated_sharpe",
            dsr,
            f">= {cfg.min_deflated_sharpe}",
            dsr is not None and dsr >= cfg.min_deflated_sharpe,
            cfg.allow_missing,
        )
    )
    mdd = report_number(_get(bot, "max_drawdown"))
    mdd_abs = None if mdd is None else abs(mdd)
    checks.append(
        _check(
            "max_drawdown",
            mdd_abs,
            f"<= {cfg.max_drawdown}",
            mdd_abs is not None and mdd_abs <= cfg.max_drawdown,
        )
    )
    if cfg.min_trades > 0:
        n = report_number(_get(bot, "n_trades"))
        checks.append(_check("n_trades", n, f">= {cfg.min_trades}", n is not None and n >= cfg.min_trades))
    return GateResult(all(c.passed for c in checks), tuple(checks))
