"""The pure, vectorised market core: B independent accounts stepped in one numpy call.

State per account ``b`` (arrays of shape ``(B,)`` or ``(B, n_assets)``):
cash, holdings in units, position age in bars, the bar just marked, the last
bar of its episode, the value at that bar's close, and its trailing fill
volume (a running sum over a ring buffer of the last ``W`` bars' traded USD,
``W`` = the fee window in bars), plus the buy-and-hold benchmark's cash and
units (kept only when the core tracks the benchmark: it feeds the info dict alone).

One step, for an account whose last marked bar is ``t``:

1. Targets were decided on bar ``t``'s observation. ``NaN`` means "keep the
   current weight" (no order).
2. The fee tier in force is read from the trailing volume of fills over the
   previous ``W`` bars plus the starting volume.
3. Positions whose age reached ``max_hold_bars`` are force-sold in full
   (target 0, taker rate). A forced sale on a non-tradable bar waits.
4. Orders fill at bar ``t+1``'s open: sells first at ``open * (1 - slip)``,
   then buys at ``open * (1 + slip)``, scaled down together if cash (after
   fees) is short. Orders on a non-tradable bar are dropped (the agent
   decides again on the next bar); orders under ``min_order_usd`` or with a
   weight change under ``no_trade_band`` (closes excepted) are skipped.
5. Age: ``age + 1`` for held assets, 0 for flat ones (so a position opened
   at bar ``f0`` is force-sold at bar ``f0 + max_hold_bars``'s open).
6. The account is marked at bar ``t+1``'s close; reward
   ``= reward_scale * log(V_{t+1} / V_t)``.

The single Gymnasium env is ``B = 1`` of this class, the vector env is
``B = num_envs``. The rules above run as compiled loops, one account and one
asset at a time (:mod:`cappuccino_ray.env.kernel`): an account's numbers come
from the same operations in the same order whatever ``B`` is, so both give
identical results. The per-asset state is shown asset-major, ``(n_assets, B)``
(views of the account-major arrays the kernel keeps).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cappuccino_ray.env.fees import FeeModel
from cappuccino_ray.env.kernel import fill_batch, step_accounts
from cappuccino_ray.errors import ConfigError

__all__ = ["CoreParams", "Fills", "MarketCore", "StepBuffers", "StepResult", "execute_orders"]


@dataclass(frozen=True)
class CoreParams:
    """Numbers the core needs, derived from :class:`~cappuccino_ray.config.env.EnvSettings`.

    Attributes:
        initial_cash: Starting USD.
        slippage: Slippage as a fraction (bps / 10,000).
        min_order_usd: Smallest order filled (forced sales excepted).
        no_trade_band: Smallest weight change filled (closes, forced sales excepted).
        max_hold_bars: Age (bars) at which a position is force-sold.
        window_bars: Trailing fee-volume window in bars.
        starting_volume: Volume added to the trailing volume (from elsewhere).
        reward_scale: Multiplier of the log return.
    """

    initial_cash: float
    slippage: float
    min_order_usd: float
    no_trade_band: float
    max_hold_bars: int
    window_bars: int
    starting_volume: float = 0.0
    reward_scale: float = 1.0


@dataclass
class Fills:
    """What one fill of a batch of accounts did; per-asset arrays are ``(n, B)``."""

    cash: np.ndarray
    units: np.ndarray
    fees: np.ndarray
    traded: np.ndarray
    n_trades: np.ndarray


@dataclass
class StepResult:
    """Per-account outcome of one step: ``(B,)`` arrays, per-asset ones ``(n, B)``.

    ``benchmark`` is the buy-and-hold benchmark marked at the same close (the
    initial cash where the core does not track it); ``n_forced`` counts
    ``forced``'s sales per account.
    """

    reward: np.ndarray
    value: np.ndarray
    cash: np.ndarray
    weights: np.ndarray
    fees: np.ndarray
    traded: np.ndarray
    n_trades: np.ndarray
    forced: np.ndarray
    tier: np.ndarray
    rate: np.ndarray
    volume_30d: np.ndarray
    bar: np.ndarray
    done: np.ndarray
    benchmark: np.ndarray
    n_forced: np.ndarray


def _params_array(p: CoreParams, progressive: bool) -> np.ndarray:
    """The kernel's ``params`` array (:data:`~cappuccino_ray.env.kernel.PARAM_FIELDS` order)."""
    return np.array([p.slippage, p.min_order_usd, p.no_trade_band, p.max_hold_bars, float(progressive)])


def execute_orders(
    cash: np.ndarray,
    units: np.ndarray,
    price: np.ndarray,
    tradable: np.ndarray,
    target: np.ndarray,
    rate: np.ndarray,
    *,
    params: CoreParams,
    forced: np.ndarray | None = None,
    taker: np.ndarray | None = None,
) -> Fills:
    """Fill target weights at ``price`` (the fill bar's open) for a batch of accounts.

    The step's own fill (rule 4 of the module docstring), for accounts each
    given their fill bar's prices.

    Args:
        cash: USD per account, ``(B,)``.
        units: Holdings, ``(n, B)``.
        price: Fill bar's open, ``(n, B)``.
        tradable: Whether each asset accepts fills on the fill bar, ``(n, B)``.
        target: Target weights of the value at ``price``, ``(n, B)``; ``NaN`` = keep current.
        rate: Fee rate of ordinary fills, ``(B,)``.
        params: Core parameters (slippage, minimum order, band).
        forced: Positions sold in full at the taker rate, ``(n, B)`` bool.
        taker: Taker rate, ``(B,)``; needed when any position is forced.

    Returns:
        The accounts' new cash and units, and the fees, traded USD and fills count.
    """
    new_cash = np.array(cash, dtype=np.float64)
    new_units = np.array(np.asarray(units, dtype=np.float64).T, order="C")  # account-major for the kernel
    rate = np.ascontiguousarray(rate, dtype=np.float64)
    by_account = np.zeros(new_units.shape, dtype=bool) if forced is None else np.asarray(forced, dtype=bool).T
    out = np.empty((2, len(new_cash)))
    n_trades = np.empty(len(new_cash), dtype=np.int64)
    fill_batch(
        new_cash,
        new_units,
        np.ascontiguousarray(np.asarray(price, dtype=np.float64).T),
        np.ascontiguousarray(np.asarray(tradable, dtype=bool).T),
        np.ascontiguousarray(np.asarray(target, dtype=np.float64).T),
        rate,
        rate if taker is None else np.ascontiguousarray(taker, dtype=np.float64),
        np.ascontiguousarray(by_account),
        _params_array(params, False),
        out,
        n_trades,
    )
    return Fills(cash=new_cash, units=new_units.T, fees=out[0], traded=out[1], n_trades=n_trades)


class StepBuffers:
    """Where :meth:`MarketCore.advance` writes one step's outcome for ``B`` accounts.

    Attributes:
        out: The :data:`~cappuccino_ray.env.kernel.OUT_FIELDS`, ``(8, B)``; after
            :meth:`MarketCore.advance` its first row is the reward.
        out_int: Fills, fee tier and forced sales, ``(3, B)``.
        done: Whether each account marked its episode's last bar, ``(B,)``.
    """

    def __init__(self, n_assets: int, n_copies: int) -> None:
        """Allocate the arrays (contents undefined until a step)."""
        self.out = np.empty((8, n_copies))
        self.out_int = np.empty((3, n_copies), dtype=np.int64)
        self._forced = np.empty((n_copies, n_assets), dtype=bool)  # account-major for the kernel
        self.done = np.empty(n_copies, dtype=bool)

    @property
    def forced(self) -> np.ndarray:
        """Forced sales, ``(n, B)``: a view of the kernel's account-major array (a view survives pickling)."""
        return self._forced.T


class MarketCore:
    """``B`` trading accounts over one market, stepped together.

    The state arrays (``cash``, ``value``, ``vol_sum``, ``start_volume``,
    ``bar``, ``end``, ``units``, ``weights``, ``age``, ``ring``) are updated
    in place: assign into them, never rebind them.

    Args:
        open_: Open prices, ``(T, n)``.
        close: Close prices, ``(T, n)``.
        tradable: Tradable mask, ``(T, n)``.
        fee_model: Rates from trailing volume.
        params: Core parameters.
        n_copies: Number of accounts ``B``.
        benchmark: Whether to track the buy-and-hold benchmark (``StepResult.benchmark``).
    """

    def __init__(
        self,
        open_: np.ndarray,
        close: np.ndarray,
        tradable: np.ndarray,
        fee_model: FeeModel,
        params: CoreParams,
        n_copies: int,
        benchmark: bool = True,
    ) -> None:
        """Allocate the state arrays (bar-major copies of the prices)."""
        if n_copies < 1:
            raise ConfigError(f"the number of env copies must be >= 1, got {n_copies}")
        if params.max_hold_bars < 1 or params.window_bars < 1:
            raise ConfigError("max_hold_bars and window_bars must be >= 1")
        self._prices = np.ascontiguousarray(
            np.stack([np.asarray(open_, dtype=np.float64), np.asarray(close, dtype=np.float64)])
        )
        self._tradable = np.ascontiguousarray(tradable, dtype=bool)
        self.fee_model = fee_model
        self.params = params
        self._params = _params_array(params, fee_model.progressive)
        self._fee_table = np.ascontiguousarray(fee_model.table, dtype=np.float64)
        self.benchmark = benchmark
        self.n_copies = b = n_copies
        self.n_bars, self.n_assets = self._tradable.shape
        n = self.n_assets
        self._acct = np.zeros((4, b))
        self._bars = np.zeros((2, b), dtype=np.int64)
        self._units = np.zeros((b, n))
        self._age = np.zeros((b, n), dtype=np.int64)
        self._weights = np.zeros((b, n))
        self._bench_units = np.zeros((b, n))
        self._bind_views()
        self.cash[:] = params.initial_cash
        self.value[:] = params.initial_cash
        #: Each account's trailing volume from elsewhere (the fee tier's starting point).
        self.start_volume[:] = params.starting_volume
        self.ring = np.zeros((params.window_bars, b))
        self.ring_pos = 0
        self.bench_cash = np.full(b, params.initial_cash)

    _VIEWS = (
        "open",
        "close",
        "tradable",
        "cash",
        "value",
        "vol_sum",
        "start_volume",
        "bar",
        "end",
        "units",
        "age",
        "weights",
        "bench_units",
    )

    def _bind_views(self) -> None:
        """Name the rows of the packed arrays the kernel takes (views: they share memory).

        Prices are kept bar-major and the per-asset state account-major for
        the kernel (:mod:`cappuccino_ray.env.kernel`); ``open``, ``close``,
        ``tradable``, ``units``, ``age``, ``weights`` and ``bench_units`` are
        their asset-major ``(n, T)`` and ``(n, B)`` views.
        """
        self.open, self.close = self._prices[0].T, self._prices[1].T
        self.tradable = self._tradable.T
        self.cash, self.value, self.vol_sum, self.start_volume = self._acct
        self.bar, self.end = self._bars
        self.units, self.age = self._units.T, self._age.T
        self.weights, self.bench_units = self._weights.T, self._bench_units.T

    def __getstate__(self) -> dict[str, Any]:
        """The state without the views (a pickle would turn them into copies)."""
        return {k: v for k, v in self.__dict__.items() if k not in self._VIEWS}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore the state and name the packed arrays' rows again."""
        self.__dict__.update(state)
        self._bind_views()

    def volume_30d(self) -> np.ndarray:
        """Trailing fee-window volume of each account, including the starting volume."""
        return self.vol_sum + self.start_volume

    def reset_copies(
        self, rows: np.ndarray, start: np.ndarray, end: np.ndarray, start_volume: np.ndarray | None = None
    ) -> None:
        """Start new episodes for ``rows``: all cash, decision bar ``start``, last bar ``end``.

        ``start_volume`` sets each episode's trailing volume from elsewhere (default: the params').

        The benchmark (if tracked) buys equal weights at bar ``start + 1``'s
        open with the same :func:`execute_orders` and the entry rate in force.
        """
        p = self.params
        rows = np.asarray(rows, dtype=np.int64)
        start = np.asarray(start, dtype=np.int64)
        end = np.asarray(end, dtype=np.int64)
        if np.any(start < 0) or np.any(end <= start) or np.any(end >= self.n_bars):
            raise ConfigError(f"episode bars {start}..{end} are outside 0..{self.n_bars - 1}")
        k = len(rows)
        self.cash[rows] = p.initial_cash
        self.units[:, rows] = 0.0
        self.age[:, rows] = 0
        self.bar[rows] = start
        self.end[rows] = end
        self.value[rows] = p.initial_cash
        self.weights[:, rows] = 0.0
        self.ring[:, rows] = 0.0
        self.vol_sum[rows] = 0.0
        self.start_volume[rows] = p.starting_volume if start_volume is None else start_volume
        if not self.benchmark:
            return
        f = start + 1
        rates = self.fee_model.rates(self.start_volume[rows])
        bench = execute_orders(
            np.full(k, p.initial_cash),
            np.zeros((self.n_assets, k)),
            self._prices[0][f].T,
            self._tradable[f].T,
            np.full((self.n_assets, k), 1.0 / self.n_assets),
            rates.rate,
            params=p,
        )
        self.bench_cash[rows] = bench.cash
        self.bench_units[:, rows] = bench.units

    def advance(self, target: np.ndarray, buffers: StepBuffers) -> None:
        """Fill every account's targets at the next bar's open and mark at its close.

        Args:
            target: Target weights, account-major ``(B, n)`` C-contiguous float64
                (as the action mappings write them), long-only, sum <= 1;
                ``NaN`` keeps the current weight.
            buffers: Where the step's outcome is written.
        """
        step_accounts(
            self._prices,
            self._tradable,
            self._fee_table,
            self._params,
            self._acct,
            self._bars,
            self._units,
            self._weights,
            self._age,
            self.ring,
            self.ring_pos,
            self.bench_cash,
            self._bench_units,
            target,
            buffers.out,
            buffers.out_int,
            buffers._forced,
            buffers.done,
        )
        self.ring_pos = (self.ring_pos + 1) % self.params.window_bars
        reward = buffers.out[0]
        np.log(reward, out=reward)
        if self.params.reward_scale != 1.0:
            reward *= self.params.reward_scale

    def step(self, target: np.ndarray) -> StepResult:
        """:meth:`advance` into fresh arrays, returned as a :class:`StepResult`.

        Args:
            target: Target weights ``(n, B)``, long-only, sum <= 1; ``NaN`` keeps
                the current weight.

        Returns:
            The step's per-account outcome (arrays of its own). ``done`` marks
            accounts that just marked their episode's last bar.
        """
        buf = StepBuffers(self.n_assets, self.n_copies)
        self.advance(np.ascontiguousarray(np.asarray(target, dtype=np.float64).T), buf)
        return self.result(buf)

    def result(self, buffers: StepBuffers) -> StepResult:
        """The outcome in ``buffers`` (views of them) with copies of the weights and bars.

        The weights are a copy of the account-major state, shown ``(n, B)`` as
        the state is (its transpose is the vector env's C-contiguous ``(B, n)``).
        """
        out, out_int = buffers.out, buffers.out_int
        return StepResult(
            reward=out[0],
            value=out[1],
            cash=out[2],
            weights=self._weights.copy().T,
            fees=out[3],
            traded=out[4],
            n_trades=out_int[0],
            forced=buffers.forced,
            tier=out_int[1],
            rate=out[5],
            volume_30d=out[6],
            bar=self.bar.copy(),
            done=buffers.done,
            benchmark=out[7],
            n_forced=out_int[2],
        )

    def age_fraction(self) -> np.ndarray:
        """Each position's age as a fraction of the holding limit, clipped to [0, 1], ``(n, B)``."""
        frac = self.age * (1.0 / self.params.max_hold_bars)
        return np.minimum(frac, 1.0, out=frac)
