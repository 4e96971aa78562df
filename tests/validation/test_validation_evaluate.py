"""evaluate_policy: buy-and-hold and random policies through the env in eval mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cappuccino_ray.data.market import MarketData
from cappuccino_ray.data.synthetic import generate_market
from cappuccino_ray.env import CryptoTradingEnv
from cappuccino_ray.errors import ConfigError
from cappuccino_ray.validation import (
    CombinatorialPurgedCV,
    buy_and_hold_policy,
    evaluate_policy,
    holdout_split,
    objective,
    probability_of_backtest_overfitting,
    random_policy,
)

DATA_1H = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "crypto_1h"
COINS = ("BTC", "ETH", "SOL", "LTC", "XRP", "ADA", "LINK")
NO_FORCED_SALES = {"max_hold_days": 10_000.0}
# Continuous actions have no "hold": the band keeps close-to-open drift from trading.
HOLD_BAND = {**NO_FORCED_SALES, "no_trade_band": 0.01}


def _env(cfg: dict[str, object]) -> CryptoTradingEnv:
    return CryptoTradingEnv({**cfg, "mode": "eval"})


@pytest.fixture(scope="module")
def synthetic() -> MarketData:
    return generate_market(1500, seed=11)


def test_buy_and_hold_matches_the_benchmark_exactly(synthetic: MarketData) -> None:
    cfg = {"market": synthetic, "segments": [(600, 1400)], "settings": NO_FORCED_SALES}
    res = evaluate_policy(buy_and_hold_policy(_env(cfg)), cfg)
    assert res.segment == (600, 1400)
    assert res.values.shape == res.benchmark_values.shape == (800,)
    assert res.fees.shape == res.weights[:, 0].shape == res.bars.shape == (799,)
    np.testing.assert_allclose(res.values, res.benchmark_values, rtol=1e-12)
    assert res.bot.sharpe == pytest.approx(res.benchmark.sharpe)
    assert res.bot.n_trades == synthetic.n_assets  # one entry per asset, then holds
    assert res.bot.n_forced_sales == 0
    assert res.bars.tolist() == list(range(601, 1400))
    assert res.timestamps[0] == synthetic.timestamps[600]
    np.testing.assert_allclose(res.rewards, np.diff(np.log(res.values)), atol=1e-12)
    assert objective([res.bot], [res.benchmark]) == pytest.approx(0.0, abs=1e-9)


def test_metrics_agree_with_the_series(synthetic: MarketData) -> None:
    cfg = {"market": synthetic, "segments": [(600, 1000)]}
    res = evaluate_policy(random_policy(_env(cfg), seed=1), cfg)
    v = res.values
    r = v[1:] / v[:-1] - 1
    # Each figure recomputed from the series by its textbook formula (1h bars: 8,760 a year).
    assert res.bot.total_return == pytest.approx(v[-1] / v[0] - 1, rel=1e-12)
    assert res.bot.sharpe == pytest.approx(r.mean() / r.std(ddof=1) * np.sqrt(24 * 365), rel=1e-9)
    assert res.bot.max_drawdown == pytest.approx(np.max(1 - v / np.maximum.accumulate(v)), rel=1e-12)
    assert res.bot.fees_paid == pytest.approx(res.fees.sum(), rel=1e-12)
    assert res.bot.n_trades == res.n_trades.sum() and res.bot.n_forced_sales == res.forced_sales.sum()
    assert res.bot.n_bars == len(v) - 1
    assert res.bot.fees_paid > 0 and res.bot.n_trades > 0
    assert np.allclose(res.returns, res.values[1:] / res.values[:-1] - 1)


def test_random_policy_is_deterministic_per_seed(synthetic: MarketData) -> None:
    cfg = {"market": synthetic, "segments": [(600, 900)]}
    env = _env(cfg)
    a = evaluate_policy(random_policy(env, seed=5), cfg)
    b = evaluate_policy(random_policy(env, seed=5), cfg)
    c = evaluate_policy(random_policy(env, seed=6), cfg)
    assert np.array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)


def test_forced_sales_make_buy_and_hold_rebuy(synthetic: MarketData) -> None:
    cfg = {"market": synthetic, "segments": [(600, 1000)], "settings": {"max_hold_days": 2.0}}
    res = evaluate_policy(buy_and_hold_policy(_env(cfg)), cfg)
    assert res.bot.n_forced_sales > 0
    assert res.bot.n_forced_sales % synthetic.n_assets == 0  # all assets were bought together
    # Each forced sale costs a sale and a rebuy at fees, and a bar out of the market.
    assert res.bot.fees_paid > 2 * res.bot.n_forced_sales / synthetic.n_assets * 0.005 * 90_000
    assert res.bot.total_return < res.benchmark.total_return
    invested = res.weights.sum(axis=1) > 0.5
    assert invested.mean() > 0.95  # rebuys right after every forced sale


def test_discrete_buy_and_hold_holds_every_asset(synthetic: MarketData) -> None:
    cfg = {
        "market": synthetic,
        "segments": [(600, 900)],
        "settings": {**NO_FORCED_SALES, "action_mode": "discrete"},
    }
    res = evaluate_policy(buy_and_hold_policy(_env(cfg)), cfg)
    assert np.all(res.weights[-1] > 0.05)
    assert res.bot.n_trades == synthetic.n_assets


def test_more_than_one_segment_is_an_error(synthetic: MarketData) -> None:
    cfg = {"market": synthetic, "segments": [(600, 700), (800, 900)]}
    with pytest.raises(ConfigError, match="one segment"):
        evaluate_policy(lambda obs: np.zeros(7), cfg)


def _load_crypto_1h(last: int) -> MarketData:
    frames = {c: pd.read_csv(DATA_1H / f"{c}USDT_1h.csv.gz", parse_dates=["timestamp"]) for c in COINS}
    index = frames["BTC"]["timestamp"]
    for c, f in frames.items():
        if not f["timestamp"].equals(index):
            pytest.fail(f"{c} timestamps differ from BTC's; the shared data set changed")
    ts = index.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")[-last:]

    def field(name: str) -> np.ndarray:
        return np.column_stack([frames[c][name].to_numpy(dtype=np.float64)[-last:] for c in COINS])

    volume = field("volume")
    return MarketData(
        timestamps=ts,
        symbols=tuple(f"{c}/USDT" for c in COINS),
        interval="1h",
        open=field("open"),
        high=field("high"),
        low=field("low"),
        close=field("close"),
        volume=volume,
        tradable=volume > 0,
    )


@pytest.mark.skipif(not DATA_1H.is_dir(), reason=f"shared market data not found at {DATA_1H}")
def test_real_data_cpcv_with_buy_and_hold_and_random() -> None:
    md = _load_crypto_1h(last=3000)
    assert not md.tradable.all()  # the 2023-03-24 halt is in the last 3000 hours
    search, hold = holdout_split(md.n_bars, 0.15)
    cv = CombinatorialPurgedCV(4, 1, purge=1, embargo=24)
    base = {"market": md, "settings": HOLD_BAND}
    env = _env({**base, "segments": [(search.start, search.stop)]})
    bh_policy, rnd_policy = buy_and_hold_policy(env), random_policy(env, seed=0)
    bot, bench, columns = [], [], []
    for split, (_, tests) in enumerate(cv.split(len(search))):
        (group,) = tests
        cfg = {**base, "segments": [(int(group[0]), int(group[-1]) + 1)]}
        bh = evaluate_policy(bh_policy, cfg)
        rnd = evaluate_policy(rnd_policy, cfg)
        # Buy-and-hold through the bot's path is the benchmark series.
        np.testing.assert_allclose(bh.values, bh.benchmark_values, rtol=1e-9)
        # Random trading pays fees on every bar and loses to holding.
        assert rnd.bot.fees_paid > 50 * max(bh.bot.fees_paid, 1.0)
        assert rnd.bot.total_return < bh.bot.total_return
        assert np.all(np.isfinite(rnd.values)) and rnd.values.min() > 0
        bot.append(bh.bot)
        bench.append(bh.benchmark)
        columns.append((split, bh.returns, rnd.returns))
    sharpes = np.array([m.sharpe for m in bot])
    assert objective(bot, bench) == pytest.approx(-0.1 * sharpes.std(), abs=1e-6)
    # Hold-out: evaluated once, after the search range.
    final = evaluate_policy(bh_policy, {**base, "segments": [(hold.start, hold.stop)]})
    assert final.segment[1] == md.n_bars
    n = min(len(c[1]) for c in columns)
    matrix = np.column_stack([c[1][:n] for c in columns] + [c[2][:n] for c in columns])
    res = probability_of_backtest_overfitting(matrix, n_partitions=4)
    assert 0.0 <= res.pbo <= 1.0 and len(res.logits) == 6
