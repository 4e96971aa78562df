"""The order step behind one small interface: paper fills through the market core today.

:class:`OrderRouter` is all the engine asks of an order step: given the
account after the last bar and the targets decided on it, fill them on the
next bar and return the account after that bar's close. :class:`CoreRouter`
fills on paper through :class:`~cappuccino_ray.env.core.MarketCore` itself (a
one-account core over the decision bar and the fill bar, loaded with the
account's state), so paper fills, fees, tiers and forced sales are the env's
to the last bit. An exchange adapter (ccxt) would implement the same method
with real orders and report the fills it got.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from cappuccino_ray.env.core import CoreParams, MarketCore, StepResult
from cappuccino_ray.env.fees import FeeModel
from cappuccino_ray.paper.book import Account, Fill

__all__ = ["CoreRouter", "Execution", "OrderRouter", "fresh_account"]


@dataclass(frozen=True, eq=False)
class Execution:
    """One bar's outcome: the account after the fill bar's close and what happened on it."""

    account: Account
    result: StepResult
    benchmark: float
    fills: tuple[Fill, ...]
    age_fraction: np.ndarray


class OrderRouter(Protocol):
    """Fills the targets decided on the last bar on the next one."""

    def execute(
        self,
        account: Account | None,
        target: np.ndarray,
        prices: tuple[np.ndarray, np.ndarray, np.ndarray],
        symbols: tuple[str, ...],
    ) -> Execution:
        """Fill ``target`` at the fill bar's open and mark at its close.

        Args:
            account: The state after the decision bar (None: a new account, all cash).
            target: Target weights ``(n,)`` decided on the decision bar (``NaN`` = keep).
            prices: ``(open, close, tradable)`` of the decision bar and the fill bar, each ``(2, n)``.
            symbols: Asset names.
        """
        ...


def fresh_account(n_assets: int, params: CoreParams) -> Account:
    """An all-cash account as the core starts one (used for the first decision)."""
    return Account(
        cash=params.initial_cash,
        units=np.zeros(n_assets),
        age=np.zeros(n_assets, dtype=np.int64),
        value=params.initial_cash,
        weights=np.zeros(n_assets),
        ring=np.zeros(params.window_bars),
        ring_pos=0,
        vol_sum=0.0,
        bench_cash=params.initial_cash,
        bench_units=np.zeros(n_assets),
    )


class CoreRouter:
    """Paper fills through a one-account :class:`MarketCore` loaded with the account's state.

    Args:
        fee_model: The checkpoint's fee model.
        params: The checkpoint's core parameters.
    """

    def __init__(self, fee_model: FeeModel, params: CoreParams) -> None:
        """Keep the mechanics."""
        self.fee_model = fee_model
        self.params = params

    def execute(
        self,
        account: Account | None,
        target: np.ndarray,
        prices: tuple[np.ndarray, np.ndarray, np.ndarray],
        symbols: tuple[str, ...],
    ) -> Execution:
        """Fill through the core (see :class:`OrderRouter`)."""
        open_, close, tradable = prices
        core = MarketCore(open_, close, tradable, self.fee_model, self.params, n_copies=1, benchmark=True)
        rows = np.zeros(1, dtype=np.int64)
        if account is None:
            core.reset_copies(rows, np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.int64))
        else:
            _load(core, account)
        before = core.units[:, 0].copy()
        res = core.step(np.asarray(target, dtype=np.float64).reshape(-1, 1))
        fills = self._fills(before, core, res, open_[1], symbols)
        return Execution(
            account=_export(core),
            result=res,
            benchmark=float(res.benchmark[0]),
            fills=fills,
            age_fraction=core.age_fraction()[:, 0].copy(),
        )

    def _fills(
        self,
        before: np.ndarray,
        core: MarketCore,
        res: StepResult,
        price: np.ndarray,
        symbols: tuple[str, ...],
    ) -> tuple[Fill, ...]:
        """Per-asset fills read off the units the core moved (fees at the rate each side paid)."""
        slip = self.params.slippage
        taker = float(self.fee_model.rates(res.volume_30d).taker[0])
        rate = float(res.rate[0])
        out = []
        for j, sym in enumerate(symbols):
            delta = float(core.units[j, 0] - before[j])
            if delta == 0.0:
                continue
            forced = bool(res.forced[j, 0])
            if delta < 0.0:
                px = float(price[j]) * (1.0 - slip)
                usd = -delta * px
                out.append(Fill(sym, "sell", -delta, px, usd, usd * (taker if forced else rate), forced))
            else:
                px = float(price[j]) * (1.0 + slip)
                usd = delta * px
                out.append(Fill(sym, "buy", delta, px, usd, usd * rate, False))
        return tuple(out)


def _load(core: MarketCore, a: Account) -> None:
    """Put an account's state into account 0 of ``core``, whose decision bar is row 0."""
    core.cash[0] = a.cash
    core.units[:, 0] = a.units
    core.age[:, 0] = a.age
    core.value[0] = a.value
    core.weights[:, 0] = a.weights
    core.ring[:, 0] = a.ring
    core.ring_pos = a.ring_pos
    core.vol_sum[0] = a.vol_sum
    core.bench_cash[0] = a.bench_cash
    core.bench_units[:, 0] = a.bench_units
    core.bar[0] = 0
    core.end[0] = 1


def _export(core: MarketCore) -> Account:
    """Account 0 of ``core`` as an :class:`Account` (copies)."""
    return Account(
        cash=float(core.cash[0]),
        units=core.units[:, 0].copy(),
        age=core.age[:, 0].copy(),
        value=float(core.value[0]),
        weights=core.weights[:, 0].copy(),
        ring=core.ring[:, 0].copy(),
        ring_pos=int(core.ring_pos),
        vol_sum=float(core.vol_sum[0]),
        bench_cash=float(core.bench_cash[0]),
        bench_units=core.bench_units[:, 0].copy(),
    )
