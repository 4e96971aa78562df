"""One account of the market core stepped with Python floats: the single env's fast path.

:class:`~cappuccino_ray.env.core.MarketCore` steps ``B`` accounts with about
fifty numpy calls; for the single env (``B = 1``: evaluation, live inference,
paper trading) their fixed cost is the whole step. :func:`step_one` runs the
same mechanics (the steps listed in :mod:`.core`, in that order) on one
account with Python floats and the same order of operations as the
vectorised code, so every number is the same to the bit (the single env is
tested against the vector env under every fee and order setting). The
account's state stays in the core's arrays: it is read at the start of a step
and written back at its end, so resets, the benchmark and the info dict are
the core's own.

Sums over assets add them one by one, as :func:`~.core.sum_assets` does for
up to 7 assets; :func:`fast_path_ok` says when this path applies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cappuccino_ray.env.core import MarketCore, StepResult
from cappuccino_ray.env.fees import FlatFees

__all__ = ["OneStep", "continuous_targets", "discrete_targets", "fast_path_ok", "step_one"]


def fast_path_ok(core: MarketCore) -> bool:
    """Whether :func:`step_one` reproduces ``core.step`` exactly (one account, at most 7 assets)."""
    return core.n_copies == 1 and core.n_assets < 8


@dataclass
class OneStep:
    """One account's step outcome as Python numbers (see :class:`~.core.StepResult`)."""

    reward: float
    value: float
    cash: float
    weights: list[float]
    fees: float
    traded: float
    n_trades: int
    forced: list[bool]
    tier: int
    rate: float
    volume_30d: float
    bar: int
    done: bool

    def as_result(self) -> StepResult:
        """The same outcome as a one-account :class:`~.core.StepResult` (for the info dict)."""
        return StepResult(
            reward=np.array([self.reward]),
            value=np.array([self.value]),
            cash=np.array([self.cash]),
            weights=np.array(self.weights)[:, None],
            fees=np.array([self.fees]),
            traded=np.array([self.traded]),
            n_trades=np.array([self.n_trades], dtype=np.int64),
            forced=np.array(self.forced, dtype=bool)[:, None],
            tier=np.array([self.tier], dtype=np.int64),
            rate=np.array([self.rate]),
            volume_30d=np.array([self.volume_30d]),
            bar=np.array([self.bar], dtype=np.int64),
            done=np.array([self.done]),
        )


def _sum(xs: list[float]) -> float:
    total = xs[0]
    for x in xs[1:]:
        total += x
    return total


def continuous_targets(action: object, n_assets: int) -> list[float]:
    """:func:`~.spaces.continuous_to_weights` of one action, as a list."""
    # numpy's fmax/fmin: NaN maps to 0, the bounds as (a >= 0 ? a : 0), (w <= 1 ? w : 1).
    w = [x if x >= 0.0 else 0.0 for x in np.asarray(action, dtype=np.float64).reshape(n_assets).tolist()]
    w = [x if x <= 1.0 else 1.0 for x in w]
    total = max(_sum(w), 1.0)
    return [x / total for x in w]


def discrete_targets(action: object, n_assets: int, levels: int) -> list[float]:
    """:func:`~.spaces.discrete_to_weights` of one action, as a list (``NaN`` = hold).

    Raises:
        ValueError: If the action is not a single integer in range (the caller
            then uses the vectorised mapping, which raises the project's error).
    """
    a = np.asarray(action, dtype=np.int64).reshape(-1)
    if a.size != 1 or not 0 <= int(a[0]) < n_assets * levels:
        raise ValueError("not a single in-range discrete action")
    asset, level = divmod(int(a[0]), levels)
    out = [math.nan] * n_assets
    if level > 0:
        out[asset] = (level - 1) / (levels - 2)
    return out


def _fee_rates(
    core: MarketCore, vol: float, cache: dict[float, tuple[float, float, int]]
) -> tuple[float, float, int]:
    """(rate, taker, tier) at trailing volume ``vol``, from ``cache`` when seen before."""
    key = 0.0 if isinstance(core.fee_model, FlatFees) else vol  # flat rates ignore the volume
    rates = cache.get(key)
    if rates is None:
        fr = core.fee_model.rates(np.array([vol]))
        rates = (float(fr.rate[0]), float(fr.taker[0]), int(fr.tier[0]))
        if len(cache) > 4096:
            cache.clear()
        cache[key] = rates
    return rates


@dataclass
class _Orders:
    """Per-asset orders of one account at the open (the lists of ``execute_orders``)."""

    usd: list[float]
    keep: list[bool]
    sold: list[float]
    proceeds: list[float]
    sell_fee: list[float]
    notional: list[float]
    buy_fee: list[float]
    rate: list[float]
    cash1: float
    cost: float


def _orders(
    core: MarketCore,
    cash: float,
    units: list[float],
    price: list[float],
    tradable: list[bool],
    target: list[float],
    rates: tuple[float, float, int],
    forced: list[bool],
) -> _Orders:
    """Orders, sells filled: ``execute_orders`` up to the buys' cost, one account.

    Sums over assets start from -0.0 and add in asset order, as numpy's reduction does.
    """
    p = core.params
    n = len(units)
    posv = [units[i] * price[i] for i in range(n)]
    total = -0.0
    for x in posv:
        total += x
    vopen = cash + total
    min_order, band, any_forced = p.min_order_usd, p.no_trade_band, any(forced)
    zeros = [0.0] * n
    o = _Orders(
        usd=zeros.copy(),
        keep=[False] * n,
        sold=zeros.copy(),
        proceeds=zeros.copy(),
        sell_fee=zeros.copy(),
        notional=zeros.copy(),
        buy_fee=zeros.copy(),
        rate=[rates[0]] * n,
        cash1=0.0,
        cost=0.0,
    )
    slip_sell = 1.0 - p.slippage
    net = cost = -0.0
    for i in range(n):
        w = posv[i] / vopen
        t = target[i]
        if t != t:  # NaN: keep the current weight
            t = w
        if any_forced and forced[i]:
            t = 0.0
            o.rate[i] = rates[1]
        d = t - w
        u = d * vopen
        k = (abs(u) >= min_order if min_order > 0.0 else u != 0.0) and tradable[i]
        if band > 0.0:
            k = k and (abs(d) >= band or t == 0.0)
        k = k or (any_forced and forced[i])
        u = u * (1.0 if k else 0.0)
        sd = (units[i] - t * vopen / price[i]) * (1.0 if u < 0.0 else 0.0)
        pr = sd * price[i] * slip_sell
        sf = pr * o.rate[i]
        x = 0.0 if u < 0.0 else u  # numpy's maximum(u, 0.0)
        bf = x * o.rate[i]
        net += pr - sf
        cost += x + bf
        o.usd[i], o.keep[i], o.sold[i], o.proceeds[i] = u, k, sd, pr
        o.sell_fee[i], o.notional[i], o.buy_fee[i] = sf, x, bf
    o.cash1, o.cost = cash + net, cost
    return o


def _scale_buys(o: _Orders, min_order: float) -> None:
    """Scale the buys down together when their cost exceeds the cash (in place)."""
    scale = o.cash1 / o.cost
    for i in range(len(o.usd)):
        x = o.notional[i] * scale
        if x < min_order:
            x = 0.0
        o.notional[i] = x
        o.keep[i] = o.keep[i] and (x > 0.0 or o.usd[i] <= 0.0)
        o.buy_fee[i] = x * o.rate[i]


def step_one(
    core: MarketCore, target: list[float], rates_cache: dict[float, tuple[float, float, int]]
) -> OneStep:
    """Step account 0 of a one-account core (``core.step`` of one account, with Python floats).

    Args:
        core: A core for which :func:`fast_path_ok` holds.
        target: Target weights (``NaN`` = keep the current weight).
        rates_cache: Fee rates by trailing volume (rate, taker, tier), filled as it goes.

    Returns:
        The step's outcome; the core's arrays hold the new state.
    """
    p = core.params
    n = core.n_assets
    f = min(int(core.bar[0]) + 1, core.n_bars - 1)
    price = core.open[:, f].tolist()
    tradable = core.tradable[:, f].tolist()
    units = core.units[:, 0].tolist()
    age = core.age[:, 0].tolist()
    vol = float(core.vol_sum[0]) + float(core.start_volume[0])
    rates = _fee_rates(core, vol, rates_cache)
    forced = [age[i] >= p.max_hold_bars and tradable[i] and units[i] > 0.0 for i in range(n)]
    core.forced_sales_total += sum(forced)
    o = _orders(core, float(core.cash[0]), units, price, tradable, target, rates, forced)
    if o.cost > o.cash1:
        _scale_buys(o, p.min_order_usd)
    spent = fees = traded = -0.0
    slip_buy = 1.0 + p.slippage
    new_units = [0.0] * n
    for i in range(n):
        spent += o.notional[i] + o.buy_fee[i]
        new_units[i] = units[i] - o.sold[i] + o.notional[i] / (price[i] * slip_buy)
        fees += o.buy_fee[i] + o.sell_fee[i]
        traded += o.proceeds[i] + o.notional[i]
    new_cash = o.cash1 - spent
    if new_cash < 0.0:  # numpy's maximum(new_cash, 0.0)
        new_cash = 0.0
    n_trades = sum(o.keep)
    rate, _, tier = rates

    # Trailing volume, ages, marking (MarketCore.step after the fill).
    pos = core.ring_pos
    vol_sum = float(core.vol_sum[0]) + traded
    vol_sum -= float(core.ring[pos, 0])
    if vol_sum < 0.0:  # numpy's maximum(vol_sum, 0.0)
        vol_sum = 0.0
    core.ring[pos, 0] = traded
    core.ring_pos = (pos + 1) % p.window_bars
    new_age = [(age[i] + 1) * (new_units[i] > 0.0) for i in range(n)]
    close = core.close[:, f].tolist()
    posc = [new_units[i] * close[i] for i in range(n)]
    held = -0.0
    for x in posc:
        held += x
    value = new_cash + held
    weights = [x / value for x in posc]
    reward = float(np.log(value / float(core.value[0])))
    if p.reward_scale != 1.0:
        reward *= p.reward_scale
    core.cash[0] = new_cash
    core.units[:, 0] = new_units
    core.age[:, 0] = new_age
    core.value[0] = value
    core.weights[:, 0] = weights
    core.vol_sum[0] = vol_sum
    core.bar[0] = f
    return OneStep(
        reward=reward,
        value=value,
        cash=new_cash,
        weights=weights,
        fees=fees,
        traded=traded,
        n_trades=n_trades,
        forced=forced,
        tier=tier,
        rate=rate,
        volume_30d=vol,
        bar=f,
        done=f >= int(core.end[0]),
    )
