"""The market core's compiled loops: one account at a time, one asset at a time.

Everything here is plain scalar arithmetic over numpy arrays, compiled once by
numba (cached beside this file) and called from :mod:`cappuccino_ray.env.core`,
which documents the rules. An account's numbers depend on that account alone
and on the same operations in the same order whatever the batch size, so one
copy and 1,024 copies give identical results.

Layouts: per-asset state account-major, ``units``, ``weights``, ``age``,
``bench_units``, ``forced`` and ``target`` ``(B, n)`` (one account's assets
are then adjacent; asset-major rows of a power-of-two ``B`` would fall in the
same cache sets); ``acct`` ``(4, B)`` rows cash, value, trailing volume,
starting volume; ``bars`` ``(2, B)`` rows last marked bar, last bar of the
episode; bar-major ``prices`` ``(2, T, n)`` open and close and ``tradable``
``(T, n)`` (one account's bar is one cache line); ``fee_table`` ``(3, K)``
rows tier thresholds, ordinary rate, taker rate; ``params`` the
:data:`PARAM_FIELDS`. The core exposes the per-asset state asset-major
``(n, B)``, as transposed views of these arrays.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "OUT_FIELDS",
    "PARAM_FIELDS",
    "continuous_weights",
    "fee_rates",
    "fee_rates_batch",
    "fill_batch",
    "observe",
    "step_accounts",
]

#: The order of the numbers in the ``params`` array.
PARAM_FIELDS = ("slippage", "min_order_usd", "no_trade_band", "max_hold_bars", "progressive")
_SLIP, _MIN_ORDER, _BAND, _MAX_HOLD, _PROGRESSIVE = range(5)

#: The rows of the float outcome array ``out`` of :func:`step_accounts`.
OUT_FIELDS = ("growth", "value", "cash", "fees", "traded", "rate", "volume_30d", "benchmark")
_GROWTH, _VALUE, _CASH, _FEES, _TRADED, _RATE, _VOLUME, _BENCH = range(8)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def fee_rates(fee_table: np.ndarray, progressive: bool, volume: float) -> tuple[float, float, int]:
    """The ordinary rate, the taker rate and the tier index in force at ``volume``.

    The tier is the last threshold ``<= volume`` (``searchsorted(side="right") - 1``;
    the first threshold is 0 and volumes are never negative). Progressive
    rates interpolate to the next tier's as ``np.interp`` does; above the last
    threshold they are the last tier's.
    """
    k = fee_table.shape[1]
    tier = 0
    while tier + 1 < k and fee_table[0, tier + 1] <= volume:
        tier += 1
    rate = fee_table[1, tier]
    taker = fee_table[2, tier]
    if progressive and tier + 1 < k:
        x0 = fee_table[0, tier]
        span = fee_table[0, tier + 1] - x0
        rate = (fee_table[1, tier + 1] - rate) / span * (volume - x0) + rate
        taker = (fee_table[2, tier + 1] - taker) / span * (volume - x0) + taker
    return rate, taker, tier


@njit(cache=True, nogil=True, error_model="numpy")
def fee_rates_batch(
    fee_table: np.ndarray,
    progressive: bool,
    volume: np.ndarray,
    rate: np.ndarray,
    taker: np.ndarray,
    tier: np.ndarray,
) -> None:
    """:func:`fee_rates` for each of the ``(B,)`` volumes, written to the three ``(B,)`` outputs."""
    for b in range(volume.shape[0]):
        rate[b], taker[b], tier[b] = fee_rates(fee_table, progressive, volume[b])


#: Rows of ``_fill``'s per-asset scratch array.
_SOLD, _NOTIONAL, _RATE_PAID, _PROCEEDS, _SELL_FEE = range(5)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _fill(  # noqa: C901 (one loop body for the compiler: see the skips below)
    b: int,
    cash: float,
    units: np.ndarray,
    price: np.ndarray,
    tradable: np.ndarray,
    f: int,
    target: np.ndarray,
    rate: float,
    taker: float,
    forced: np.ndarray,
    params: np.ndarray,
    work: np.ndarray,
) -> tuple[float, float, float, int]:
    """Fill account ``b``'s targets at bar ``f``'s open; ``units[b]`` is updated in place.

    ``price`` and ``tradable`` are bar-major ``(T, n)``; ``units``,
    ``target`` and ``forced`` are ``(B, n)``; ``work`` is ``(5, n)`` scratch.
    Sums over assets run in asset order.

    Returns:
        The new cash, the fees, the traded USD and the number of fills.
    """
    n = units.shape[1]
    slip = params[_SLIP]
    min_order = params[_MIN_ORDER]
    band = params[_BAND]
    held = 0.0
    for i in range(n):
        held += units[b, i] * price[f, i]
    vopen = cash + held
    cash1 = 0.0
    cost = 0.0
    n_trades = 0
    for i in range(n):
        w = units[b, i] * price[f, i] / vopen
        tgt = w if math.isnan(target[b, i]) else target[b, i]
        r = rate
        if forced[b, i]:
            tgt = 0.0
            r = taker
        work[_RATE_PAID, i] = r
        work[_SOLD, i] = work[_NOTIONAL, i] = work[_PROCEEDS, i] = work[_SELL_FEE, i] = 0.0
        delta = tgt - w
        usd = delta * vopen  # signed order size in USD at the open
        # Rule 4's skips, written out here: a helper function, even inlined, doubles the step's cost.
        keep = abs(usd) >= min_order if min_order > 0.0 else usd != 0.0
        keep = keep and tradable[f, i]
        if band > 0.0:
            keep = keep and (abs(delta) >= band or tgt == 0.0)
        if not (keep or forced[b, i]):
            continue
        n_trades += 1
        if usd < 0.0:  # sells first: down to the target units (exactly 0 for a close)
            sold = units[b, i] - tgt * vopen / price[f, i]
            proceeds = sold * price[f, i] * (1.0 - slip)
            work[_SOLD, i] = sold
            work[_PROCEEDS, i] = proceeds
            work[_SELL_FEE, i] = proceeds * r
            cash1 += proceeds - proceeds * r
        elif usd > 0.0:
            work[_NOTIONAL, i] = usd
            cost += usd + usd * r
    cash1 += cash
    if cost > cash1:  # buys scaled down together when their cost with fees exceeds the cash
        scale = cash1 / cost
        cost = 0.0
        for i in range(n):
            if work[_NOTIONAL, i] > 0.0:
                x = work[_NOTIONAL, i] * scale
                if x < min_order or x == 0.0:  # too small once scaled: dropped
                    x = 0.0
                    n_trades -= 1
                work[_NOTIONAL, i] = x
                cost += x + x * work[_RATE_PAID, i]
    fees = 0.0
    traded = 0.0
    for i in range(n):
        x = work[_NOTIONAL, i]
        fees += x * work[_RATE_PAID, i] + work[_SELL_FEE, i]
        traded += work[_PROCEEDS, i] + x
        units[b, i] = units[b, i] - work[_SOLD, i] + x / (price[f, i] * (1.0 + slip))
    return max(cash1 - cost, 0.0), fees, traded, n_trades


@njit(cache=True, nogil=True, error_model="numpy")
def fill_batch(
    cash: np.ndarray,
    units: np.ndarray,
    price: np.ndarray,
    tradable: np.ndarray,
    target: np.ndarray,
    rate: np.ndarray,
    taker: np.ndarray,
    forced: np.ndarray,
    params: np.ndarray,
    out: np.ndarray,
    n_trades: np.ndarray,
) -> None:
    """:func:`_fill` for every account; ``price``/``tradable`` hold one bar per account (``B`` rows).

    ``cash`` and ``units`` are updated in place; ``out`` ``(2, B)`` receives
    the fees and the traded USD, ``n_trades`` ``(B,)`` the fills.
    """
    work = np.empty((5, units.shape[1]))
    for b in range(cash.shape[0]):
        cash[b], out[0, b], out[1, b], n_trades[b] = _fill(
            b, cash[b], units, price, tradable, b, target, rate[b], taker[b], forced, params, work
        )


@njit(cache=True, nogil=True, error_model="numpy")
def step_accounts(
    prices: np.ndarray,
    tradable: np.ndarray,
    fee_table: np.ndarray,
    params: np.ndarray,
    acct: np.ndarray,
    bars: np.ndarray,
    units: np.ndarray,
    weights: np.ndarray,
    age: np.ndarray,
    ring: np.ndarray,
    ring_pos: int,
    bench_cash: np.ndarray,
    bench_units: np.ndarray,
    target: np.ndarray,
    out: np.ndarray,
    out_int: np.ndarray,
    forced: np.ndarray,
    done: np.ndarray,
) -> None:
    """One step of every account (the rules in :mod:`cappuccino_ray.env.core`), state updated in place.

    The reward's log is left to the caller: ``growth`` is ``V_{t+1} / V_t``,
    and numpy's vectorised log (not the C library's, which differs in the
    last bit for a few percent of inputs) turns it into the reward.

    Writes the :data:`OUT_FIELDS` to ``out`` ``(8, B)`` (the benchmark
    marked at the new bar's close from ``bench_cash`` ``(B,)`` and
    ``bench_units``), the fills, the fee tier and the number of forced sales
    to ``out_int`` ``(3, B)``, the forced sales to ``forced``, and whether
    each account marked its episode's last bar to ``done`` ``(B,)``.
    """
    n_copies, n = units.shape
    last = prices.shape[1] - 1
    open_ = prices[0]
    close = prices[1]
    max_hold = params[_MAX_HOLD]
    progressive = params[_PROGRESSIVE] != 0.0
    work = np.empty((5, n))
    for b in range(n_copies):
        f = min(bars[0, b] + 1, last)  # accounts past their end are discarded by the caller
        volume = acct[2, b] + acct[3, b]
        rate, taker, tier = fee_rates(fee_table, progressive, volume)
        n_forced = 0
        for i in range(n):
            forced[b, i] = age[b, i] >= max_hold and tradable[f, i] and units[b, i] > 0.0
            n_forced += forced[b, i]
        cash, fees, traded, n_trades = _fill(
            b, acct[0, b], units, open_, tradable, f, target, rate, taker, forced, params, work
        )
        # Trailing volume: drop the fill that leaves the window, add this one.
        acct[2, b] = max(acct[2, b] + traded - ring[ring_pos, b], 0.0)
        ring[ring_pos, b] = traded
        held = 0.0
        bench = 0.0
        for i in range(n):
            bench += bench_units[b, i] * close[f, i]
            age[b, i] = age[b, i] + 1 if units[b, i] > 0.0 else 0
            weights[b, i] = units[b, i] * close[f, i]
            held += weights[b, i]
        value = cash + held
        for i in range(n):
            weights[b, i] /= value
        growth = value / acct[1, b]
        acct[0, b] = cash
        acct[1, b] = value
        bars[0, b] = f
        out[_GROWTH, b] = growth
        out[_VALUE, b] = value
        out[_CASH, b] = cash
        out[_FEES, b] = fees
        out[_TRADED, b] = traded
        out[_RATE, b] = rate
        out[_VOLUME, b] = volume
        out_int[0, b] = n_trades
        out_int[1, b] = tier
        out_int[2, b] = n_forced
        out[_BENCH, b] = bench_cash[b] + bench
        done[b] = f >= bars[1, b]


@njit(cache=True, nogil=True, error_model="numpy")
def observe(
    table: np.ndarray,
    bar: np.ndarray,
    weights: np.ndarray,
    age: np.ndarray,
    max_hold: float,
    per: int,
    out: np.ndarray,
) -> None:
    """Observations ``out`` ``(B, obs_size)`` of the accounts at ``bar``.

    Each account's row of ``table`` (the features), then per asset its
    weight and ``min(age / max_hold, 1)``: the layout of
    :mod:`cappuccino_ray.env.spaces`.
    """
    n = weights.shape[1]
    width = table.shape[1]
    inv = 1.0 / max_hold
    for b in range(out.shape[0]):
        row = bar[b]
        for j in range(width):
            out[b, j] = table[row, j]
        for i in range(n):
            out[b, i * per] = weights[b, i]
            out[b, i * per + 1] = min(age[b, i] * inv, 1.0)


@njit(cache=True, nogil=True, error_model="numpy")
def continuous_weights(actions: np.ndarray, out: np.ndarray) -> None:
    """``out[b, i] = clip(a[b, i], 0, 1) / max(1, sum_i clip(a[b, i], 0, 1))``; ``NaN`` counts as 0.

    Both arrays are ``(B, n)``; the sum runs in asset order.
    """
    n_copies, n = actions.shape
    for b in range(n_copies):
        total = 0.0
        for i in range(n):
            # min/max compile to branch-free instructions: a branch on the action's sign was
            # mispredicted about half the time (3x the cost on random actions). They pass NaN
            # and -0.0 through, so ``+ 0.0`` turns -0.0 into 0.0 and NaN is set to 0 after.
            x = min(max(float(actions[b, i]), 0.0), 1.0) + 0.0
            x = 0.0 if x != x else x
            out[b, i] = x
            total += x
        total = max(total, 1.0)
        for i in range(n):
            out[b, i] /= total
