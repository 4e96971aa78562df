"""Hand-computed scenarios: tiny candle tables, the orders, and the exact fills expected."""

from __future__ import annotations

import math

import numpy as np
import pytest
from env_helpers import make_market

from cappuccino_ray.env import CryptoTradingEnv

REL = 1e-12


def env_for(md, n_features=7, **settings):
    cfg = {
        "market": md,
        "features": np.zeros((md.n_bars, md.n_assets, n_features), dtype=np.float32),
        "segments": [(0, md.n_bars)],
        "mode": "eval",
        "settings": {"initial_cash": 1000.0, "min_order_usd": 0.0, **settings},
    }
    return CryptoTradingEnv(cfg)


def test_buy_then_close_and_trim_flat_fees():
    # Two assets; slippage 1 %, flat fee 1 %; close = buy price on bar 1 so values are easy.
    md = make_market(
        open_=[[100, 50], [100, 50], [110, 60], [120, 40]],
        close=[[100, 50], [101, 50.5], [108, 59], [121, 41]],
    )
    env = env_for(md, slippage_bps=100.0, flat_fee=0.01)
    _obs, info = env.reset(seed=0)
    assert info["bar"] == 0 and info["portfolio_value"] == 1000.0

    # Step 1 (decided on bar 0, filled at bar 1's open): 50 % A, 25 % B.
    _, r1, term, trunc, i1 = env.step(np.array([0.5, 0.25], dtype=np.float32))
    ua, ub = 500 / 101, 250 / 50.5  # buy price = open * 1.01
    cash = 1000 - 750 * 1.01
    v1 = cash + ua * 101 + ub * 50.5
    assert i1["bar"] == 1 and i1["n_trades"] == 2
    assert i1["fees"] == pytest.approx(7.5, rel=REL)
    assert i1["traded_value"] == pytest.approx(750, rel=REL)
    assert i1["cash"] == pytest.approx(242.5, rel=REL)
    assert i1["portfolio_value"] == pytest.approx(v1, rel=REL) and v1 == pytest.approx(992.5)
    assert r1 == pytest.approx(math.log(v1 / 1000), rel=REL)
    assert i1["weights"] == pytest.approx([500 / v1, 250 / v1], rel=REL)
    # Benchmark: equal weights at bar 1's open, same 1 % fee: 1000 / 2 / 1.01 per asset.
    bench = 1000 / 2 / 1.01
    assert i1["benchmark_value"] == pytest.approx(bench / 101 * 101 + bench / 50.5 * 50.5, rel=1e-12)
    assert not term and not trunc

    # Step 2 (filled at bar 2's open, A 110, B 60): close A, trim B to 25 %.
    _, r2, _, trunc, i2 = env.step(np.array([-0.3, 0.25], dtype=np.float32))
    vopen = cash + ua * 110 + ub * 60
    proceeds_a = ua * 110 * 0.99
    sold_b = ub - 0.25 * vopen / 60
    proceeds_b = sold_b * 60 * 0.99
    fees = 0.01 * (proceeds_a + proceeds_b)
    cash2 = cash + proceeds_a + proceeds_b - fees
    ub2 = 0.25 * vopen / 60
    v2 = cash2 + ub2 * 59
    assert i2["n_trades"] == 2
    assert i2["fees"] == pytest.approx(fees, rel=REL)
    assert i2["traded_value"] == pytest.approx(proceeds_a + proceeds_b, rel=REL)
    assert i2["cash"] == pytest.approx(cash2, rel=REL)
    assert i2["portfolio_value"] == pytest.approx(v2, rel=REL)
    assert i2["weights"][0] == 0.0
    assert r2 == pytest.approx(math.log(v2 / v1), rel=1e-10)
    assert i2["benchmark_value"] == pytest.approx(bench / 101 * 108 + bench / 50.5 * 59, rel=REL)

    # Step 3 is the segment's last bar: truncation, never termination.
    _, _, term, trunc, i3 = env.step(np.array([0.0, 0.25], dtype=np.float32))
    assert i3["bar"] == 3 and trunc and not term


def test_buys_are_scaled_to_the_cash_and_weights_capped_at_one():
    md = make_market(open_=[[10, 10]] * 3, close=[[10, 10]] * 3)
    env = env_for(md, slippage_bps=0.0, flat_fee=0.01)
    env.reset(seed=0)
    # Actions sum to 2 -> weights 0.5 each; cost 1000 * 1.01 > 1000 -> scaled by 1 / 1.01.
    _, _, _, _, info = env.step(np.array([1.0, 1.0], dtype=np.float32))
    assert info["cash"] == pytest.approx(0.0, abs=1e-9)
    assert info["traded_value"] == pytest.approx(1000 / 1.01, rel=REL)
    assert info["fees"] == pytest.approx(1000 / 1.01 * 0.01, rel=REL)
    assert info["portfolio_value"] == pytest.approx(1000 / 1.01, rel=REL)


def test_tier_changes_with_trailing_volume_and_expires(tmp_path):
    # Two tiers: below $1,000 of 2-day volume 1 % maker / 2 % taker, from $1,000 0.5 % / 1 %.
    sched = {
        "name": "test",
        "window_days": 2,
        "tiers": [
            {"min_volume_usd": 0, "maker": 0.01, "taker": 0.02},
            {"min_volume_usd": 1000, "maker": 0.005, "taker": 0.01},
        ],
    }
    px = [[100.0]] * 8
    md = make_market(open_=px, close=px, interval="1d")  # window = 2 daily bars
    env = env_for(
        md, n_features=7, fee_model="tiered", fee_schedule=sched, slippage_bps=0.0, max_hold_days=30
    )
    env.reset(seed=0)
    _, _, _, _, i1 = env.step(np.array([0.9]))  # buy $900 at 1 %
    assert (i1["fee_tier"], i1["fee_rate"]) == (0, 0.01)
    assert i1["fees"] == pytest.approx(9.0, rel=REL)
    cash = 1000 - 909.0
    _, _, _, _, i2 = env.step(np.array([0.0], dtype=np.float32))  # volume 900: still tier 0
    assert (i2["fee_tier"], i2["volume_30d"]) == (0, pytest.approx(900.0))
    assert i2["fees"] == pytest.approx(9.0, rel=REL)
    cash += 900 - 9.0  # 982
    _, _, _, _, i3 = env.step(np.array([0.5], dtype=np.float32))  # volume 1,800: tier 1
    assert i3["fee_tier"] == 1 and i3["fee_rate"] == 0.005
    assert i3["volume_30d"] == pytest.approx(1800.0)
    assert i3["fees"] == pytest.approx(0.5 * cash * 0.005, rel=REL)
    # Next: the window holds bars 2 (900) and 3 (491): 1,391 -> still tier 1.
    _, _, _, _, i4 = env.step(np.array([-1.0], dtype=np.float32))  # sell all at 0.5 %
    assert i4["fee_tier"] == 1 and i4["volume_30d"] == pytest.approx(900 + 491.0)
    assert i4["traded_value"] == pytest.approx(491.0) and i4["fees"] == pytest.approx(491 * 0.005)
    # Window now holds bars 3 and 4: 491 + 491 < 1,000 -> back to tier 0.
    _, _, _, _, i5 = env.step(np.array([0.0], dtype=np.float32))
    assert i5["volume_30d"] == pytest.approx(491.0 + i4["traded_value"])
    assert i5["fee_tier"] == 0 and i5["n_trades"] == 0 and i5["fees"] == 0.0
    _, _, _, _, i6 = env.step(np.array([0.0]))
    assert i6["volume_30d"] == pytest.approx(i4["traded_value"])  # bar 3 left the window


def test_forced_sale_at_max_hold_pays_taker(tmp_path):
    sched = {"tiers": [{"min_volume_usd": 0, "maker": 0.01, "taker": 0.03}]}
    px = [[100.0, 20.0]] * 6
    md = make_market(open_=px, close=px)
    # 2 hours -> 2 bars: a position opened at bar 1's open is sold at bar 3's open.
    env = env_for(
        md,
        fee_model="tiered",
        fee_schedule=sched,
        slippage_bps=0.0,
        max_hold_days=2 / 24,
        min_order_usd=10.0,
    )
    obs, _ = env.reset(seed=0)
    per = 2 + 7
    _, _, _, _, i1 = env.step(np.array([0.5, 0.0], dtype=np.float32))
    units = 500 / 100
    cash = 1000 - 500 * 1.01
    assert i1["forced_sales"] == 0
    obs, _, _, _, i2 = env.step(np.array([0.5, 0.0], dtype=np.float32))  # hold (no change)
    assert i2["n_trades"] == 0
    assert obs[1] == 1.0 and obs[per + 1] == 0.0  # age fraction: limit reached, sale next bar
    obs, _, _, _, i3 = env.step(np.array([0.5, 0.0], dtype=np.float32))  # the agent wants to keep it
    assert i3["forced_sales"] == 1
    assert i3["forced_assets"].tolist() == [True, False]
    assert i3["fees"] == pytest.approx(units * 100 * 0.03, rel=REL)  # taker, not maker
    assert i3["cash"] == pytest.approx(cash + units * 100 * 0.97, rel=REL)
    assert i3["weights"].tolist() == [0.0, 0.0]
    assert obs[0] == 0.0 and obs[1] == 0.0  # flat again, age reset
    # Re-opening is allowed on the next bar, with a fresh age.
    obs, _, _, _, i4 = env.step(np.array([0.5, 0.0], dtype=np.float32))
    assert i4["n_trades"] == 1 and i4["forced_sales"] == 0 and obs[1] == pytest.approx(0.5)


def test_flat_fees_forced_sale_pays_the_flat_taker_rate():
    px = [[100.0]] * 6
    md = make_market(open_=px, close=px)
    env = env_for(md, slippage_bps=0.0, max_hold_days=2 / 24, flat_fee=0.01, flat_taker_fee=0.03)
    env.reset(seed=0)
    *_, i1 = env.step(np.array([0.5], dtype=np.float32))  # $500 at the 1 % maker rate
    assert i1["fees"] == pytest.approx(5.0, rel=REL)
    env.step(np.array([0.5], dtype=np.float32))
    *_, i3 = env.step(np.array([0.5], dtype=np.float32))  # forced: 5 units at $100, 3 % taker
    assert i3["forced_sales"] == 1 and i3["fees"] == pytest.approx(15.0, rel=REL)
    assert i3["cash"] == pytest.approx(1000 - 505 + 500 - 15, rel=REL)


def test_adding_does_not_reset_age():
    px = [[100.0]] * 6
    md = make_market(open_=px, close=px)
    env = env_for(md, slippage_bps=0.0, max_hold_days=3 / 24)
    env.reset(seed=0)
    env.step(np.array([0.2], dtype=np.float32))
    obs, *_ = env.step(np.array([0.6], dtype=np.float32))
    assert obs[1] == pytest.approx(2 / 3)
    obs, *_, i3 = env.step(np.array([0.6], dtype=np.float32))
    assert obs[1] == 1.0 and i3["forced_sales"] == 0
    *_, i4 = env.step(np.array([0.6], dtype=np.float32))
    assert i4["forced_sales"] == 1


def test_orders_on_a_non_tradable_bar_are_dropped():
    px = [[100.0, 10.0]] * 4
    tradable = [[True, True], [False, True], [True, True], [True, True]]
    md = make_market(open_=px, close=px, tradable=tradable)
    env = env_for(md, slippage_bps=0.0, flat_fee=0.0)
    env.reset(seed=0)
    _, _, _, _, i1 = env.step(np.array([0.5, 0.5], dtype=np.float32))
    assert i1["n_trades"] == 1 and i1["weights"].tolist() == [0.0, 0.5]
    # Dropped, not queued: holding the current weights the next bar trades nothing.
    _, _, _, _, i2 = env.step(np.array([0.0, 0.5], dtype=np.float32))
    assert i2["n_trades"] == 0 and i2["weights"].tolist() == [0.0, 0.5]


def test_min_order_and_no_trade_band():
    px = [[100.0, 100.0]] * 5
    md = make_market(open_=px, close=px)
    env = env_for(md, slippage_bps=0.0, flat_fee=0.0, no_trade_band=0.05)
    env.reset(seed=0)
    env.step(np.array([0.5, 0.3], dtype=np.float32))
    # 0.5 -> 0.53 is inside the 5 % band: skipped; 0.3 -> 0.2 is outside: traded.
    _, _, _, _, i2 = env.step(np.array([0.53, 0.2], dtype=np.float32))
    assert i2["n_trades"] == 1
    assert i2["weights"] == pytest.approx([0.5, 0.2])
    # A full close is never blocked by the band.
    _, _, _, _, i3 = env.step(np.array([0.5, 0.0], dtype=np.float32))
    assert i3["n_trades"] == 1 and i3["weights"][1] == 0.0
    env2 = env_for(md, slippage_bps=0.0, flat_fee=0.0, min_order_usd=60.0)
    env2.reset(seed=0)
    _, _, _, _, j1 = env2.step(np.array([0.05, 0.5], dtype=np.float32))  # $50 < $60: skipped
    assert j1["n_trades"] == 1 and j1["weights"] == pytest.approx([0.0, 0.5])


def test_discrete_actions_hold_and_levels():
    px = [[100.0, 100.0]] * 5
    md = make_market(open_=px, close=px)
    env = env_for(md, slippage_bps=0.0, flat_fee=0.0, action_mode="discrete", discrete_levels=10)
    assert env.action_space.n == 20
    env.reset(seed=0)
    _, _, _, _, i1 = env.step(9)  # asset 0, level 9 -> weight 1.0
    assert i1["weights"] == pytest.approx([1.0, 0.0])
    _, _, _, _, i2 = env.step(10)  # asset 1, level 0 -> hold: nothing at all
    assert i2["n_trades"] == 0
    _, _, _, _, i3 = env.step(5)  # asset 0 level 5 -> weight 0.5
    assert i3["weights"] == pytest.approx([0.5, 0.0])
    _, _, _, _, i4 = env.step(19)  # asset 1 to 1.0: limited by the cash (0.5)
    assert i4["weights"] == pytest.approx([0.5, 0.5])


def test_buys_without_cash_are_dropped_not_counted():
    """No cash and nothing sold: a buy scales to 0 USD and is dropped (no fill, no fee, not counted)."""
    from cappuccino_ray.env.core import CoreParams, execute_orders

    params = CoreParams(1000.0, 0.0, 0.0, 0.0, max_hold_bars=5, window_bars=3)
    price = np.array([[100.0, 100.0], [50.0, 50.0]])  # (n, B): two accounts, each holding 2 A
    tradable = np.array([[False, True], [True, True]])  # account 0 cannot sell A on this bar
    target = np.array([[0.5, 0.5], [0.5, 0.5]])
    units = np.array([[2.0, 2.0], [0.0, 0.0]])
    fills = execute_orders(np.zeros(2), units, price, tradable, target, np.array([0.01, 0.01]), params=params)
    assert fills.n_trades.tolist() == [0, 2] and fills.fees[0] == 0.0 and fills.traded[0] == 0.0
    assert fills.units[:, 0].tolist() == [2.0, 0.0] and fills.cash[0] == 0.0
    # Account 1 sells 1 A for 100, keeps 99 after the 1 % fee and buys B with it: 99 / 1.01 USD.
    assert fills.units[0, 1] == 1.0 and fills.units[1, 1] == pytest.approx(99 / 1.01 / 50, rel=REL)
    assert fills.cash[1] == pytest.approx(0.0, abs=1e-12)
    assert fills.fees[1] == pytest.approx(1.0 + 99 / 1.01 * 0.01, rel=REL)
