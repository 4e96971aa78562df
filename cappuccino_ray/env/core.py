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
``B = num_envs``; every per-account number comes from the same elementwise
operations and the same sequential sums over assets, so both give identical
results. Arrays are asset-major, ``(n_assets, B)``: sums over assets are
then adds of contiguous rows, the fastest layout numpy offers here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cappuccino_ray.env.fees import FeeModel
from cappuccino_ray.errors import ConfigError

__all__ = ["CoreParams", "Fills", "MarketCore", "StepResult", "execute_orders", "sum_assets"]


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

    Info-only figures derived from the state (the benchmark's value, the number
    of forced sales) are not here: the env computes them when it reports them.
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


def sum_assets(a: np.ndarray) -> np.ndarray:
    """Sum ``(n, B)`` over assets, adding rows in order (the same result for any ``B``).

    numpy's reduction adds rows sequentially for up to 8 rows whatever ``B``
    is; beyond that its pairwise summation depends on the shape, so larger
    ``n`` adds the rows one by one.
    """
    if a.shape[0] <= 8:
        return np.add.reduce(a, axis=0)
    out = a[0].copy()
    for row in a[1:]:
        out += row
    return out


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
    posv = units * price
    vopen = cash + sum_assets(posv)
    wcur = posv / vopen
    tgt = np.where(np.isnan(target), wcur, target)
    rate_a: np.ndarray = rate
    if forced is not None and taker is not None and forced.any():
        tgt[forced] = 0.0
        rate_a = np.where(forced, taker, rate)
    else:
        forced = None
    delta = tgt - wcur
    usd = delta * vopen  # signed order size in USD at the open
    keep = np.abs(usd) >= params.min_order_usd if params.min_order_usd > 0.0 else usd != 0.0
    keep &= tradable
    if params.no_trade_band > 0.0:
        keep &= (np.abs(delta) >= params.no_trade_band) | (tgt == 0.0)
    if forced is not None:
        keep |= forced
    usd *= keep
    # Sells first: down to the target units (exactly 0 for a close).
    sold = units - tgt * vopen / price
    sold *= usd < 0.0
    proceeds = sold * price
    proceeds *= 1.0 - params.slippage
    sell_fee = proceeds * rate_a
    cash1 = cash + sum_assets(proceeds - sell_fee)
    # Buys: scaled down together if their cost with fees exceeds the cash.
    notional = np.maximum(usd, 0.0)
    buy_fee = notional * rate_a
    cost = sum_assets(notional + buy_fee)
    short = cost > cash1
    if short.any():
        notional *= np.where(short, cash1 / np.where(short, cost, 1.0), 1.0)
        notional[notional < params.min_order_usd] = 0.0
        keep &= (notional > 0.0) | (usd <= 0.0)
        buy_fee = notional * rate_a
    new_cash = np.maximum(cash1 - sum_assets(notional + buy_fee), 0.0)
    new_units = units - sold
    new_units += notional / (price * (1.0 + params.slippage))
    buy_fee += sell_fee
    return Fills(
        cash=new_cash,
        units=new_units,
        fees=sum_assets(buy_fee),
        traded=sum_assets(proceeds + notional),
        n_trades=np.add.reduce(keep, axis=0, dtype=np.int64),
    )


class MarketCore:
    """``B`` trading accounts over one market, stepped together.

    Args:
        open_: Open prices, ``(T, n)``.
        close: Close prices, ``(T, n)``.
        tradable: Tradable mask, ``(T, n)``.
        fee_model: Rates from trailing volume.
        params: Core parameters.
        n_copies: Number of accounts ``B``.
        benchmark: Whether to track the buy-and-hold benchmark (for :meth:`benchmark_value`).
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
        """Allocate the state arrays (asset-major copies of the prices)."""
        if n_copies < 1:
            raise ConfigError(f"the number of env copies must be >= 1, got {n_copies}")
        if params.max_hold_bars < 1 or params.window_bars < 1:
            raise ConfigError("max_hold_bars and window_bars must be >= 1")
        self.open = np.ascontiguousarray(np.asarray(open_, dtype=np.float64).T)
        self.close = np.ascontiguousarray(np.asarray(close, dtype=np.float64).T)
        self.tradable = np.ascontiguousarray(np.asarray(tradable, dtype=bool).T)
        self.fee_model = fee_model
        self.params = params
        self.benchmark = benchmark
        self.n_copies = b = n_copies
        self.n_assets, self.n_bars = self.open.shape
        n = self.n_assets
        self.cash = np.full(b, params.initial_cash)
        self.units = np.zeros((n, b))
        self.age = np.zeros((n, b), dtype=np.int64)
        self.bar = np.zeros(b, dtype=np.int64)
        self.end = np.zeros(b, dtype=np.int64)
        self.value = np.full(b, params.initial_cash)
        self.weights = np.zeros((n, b))
        self.ring = np.zeros((params.window_bars, b))
        self.ring_pos = 0
        self.vol_sum = np.zeros(b)
        self.bench_cash = np.full(b, params.initial_cash)
        self.bench_units = np.zeros((n, b))
        #: Each account's trailing volume from elsewhere (the fee tier's starting point).
        self.start_volume = np.full(b, params.starting_volume)

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
            self.open[:, f],
            self.tradable[:, f],
            np.full((self.n_assets, k), 1.0 / self.n_assets),
            rates.rate,
            params=p,
        )
        self.bench_cash[rows] = bench.cash
        self.bench_units[:, rows] = bench.units

    def step(self, target: np.ndarray) -> StepResult:
        """Fill every account's targets at the next bar's open and mark at its close.

        Args:
            target: Target weights ``(n, B)``, long-only, sum <= 1; ``NaN`` keeps
                the current weight.

        Returns:
            The step's per-account outcome. ``done`` marks accounts that just
            marked their episode's last bar.
        """
        p = self.params
        f = self.bar + 1
        np.minimum(f, self.n_bars - 1, out=f)  # accounts past their end are discarded by the caller
        price = np.take(self.open, f, axis=1)
        tradable = np.take(self.tradable, f, axis=1)
        vol = self.volume_30d()
        rates = self.fee_model.rates(vol)
        forced = self.age >= p.max_hold_bars
        forced &= tradable
        forced &= self.units > 0.0
        fills = execute_orders(
            self.cash,
            self.units,
            price,
            tradable,
            target,
            rates.rate,
            params=p,
            forced=forced,
            taker=rates.taker,
        )
        # Trailing volume: drop the fill that leaves the window, add this one.
        slot = self.ring[self.ring_pos]
        self.vol_sum += fills.traded
        self.vol_sum -= slot
        np.maximum(self.vol_sum, 0.0, out=self.vol_sum)
        slot[:] = fills.traded
        self.ring_pos = (self.ring_pos + 1) % p.window_bars
        units = fills.units
        held = units > 0.0
        self.age += 1
        self.age *= held
        close = np.take(self.close, f, axis=1)
        posc = units * close
        value = fills.cash + sum_assets(posc)
        posc /= value
        reward = np.log(value / self.value)
        if p.reward_scale != 1.0:
            reward *= p.reward_scale
        self.cash = fills.cash
        self.units = units
        self.value = value
        self.weights = posc
        self.bar = f
        return StepResult(
            reward=reward,
            value=value,
            cash=fills.cash,
            weights=posc,
            fees=fills.fees,
            traded=fills.traded,
            n_trades=fills.n_trades,
            forced=forced,
            tier=rates.tier,
            rate=rates.rate,
            volume_30d=vol,
            bar=f,
            done=f >= self.end,
        )

    def benchmark_value(self) -> np.ndarray:
        """The buy-and-hold benchmark of each account marked at its last marked bar's close, ``(B,)``.

        Raises:
            ConfigError: If the core was built without the benchmark.
        """
        if not self.benchmark:
            raise ConfigError("this core does not track the benchmark; build it with benchmark=True")
        close = np.take(self.close, self.bar, axis=1)
        return self.bench_cash + sum_assets(self.bench_units * close)

    def age_fraction(self) -> np.ndarray:
        """Each position's age as a fraction of the holding limit, clipped to [0, 1], ``(n, B)``."""
        frac = self.age * (1.0 / self.params.max_hold_bars)
        return np.minimum(frac, 1.0, out=frac)
