"""Property tests (hypothesis) and the look-ahead test."""

from __future__ import annotations

import math

import numpy as np
from env_helpers import causal_features
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cappuccino_ray.data.market import MarketData
from cappuccino_ray.data.synthetic import generate_market
from cappuccino_ray.env import CryptoTradingEnv

MARKET = generate_market(300, seed=5, halt_prob=0.1)
FEATURES = causal_features(MARKET)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    fee_model=st.sampled_from(["flat", "tiered"]),
    fee_mode=st.sampled_from(["static", "progressive"]),
    liquidity=st.sampled_from(["maker", "taker"]),
    slippage=st.floats(0.0, 200.0),
    band=st.floats(0.0, 0.2),
    min_order=st.floats(0.0, 5_000.0),
    hold_days=st.floats(0.05, 3.0),
    start_vol=st.floats(0.0, 2e6),
    discrete=st.booleans(),
)
def test_invariants_hold_for_any_actions(
    seed, fee_model, fee_mode, liquidity, slippage, band, min_order, hold_days, start_vol, discrete
):
    env = CryptoTradingEnv(
        {
            "market": MARKET,
            "features": FEATURES,
            "settings": {
                "fee_model": fee_model,
                "fee_mode": fee_mode,
                "fee_liquidity": liquidity,
                "slippage_bps": slippage,
                "no_trade_band": band,
                "min_order_usd": min_order,
                "max_hold_days": hold_days,
                "starting_volume_30d": start_vol,
                "episode_bars": 40,
                "action_mode": "discrete" if discrete else "continuous",
            },
        }
    )
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    core = env._core
    v0 = info["portfolio_value"]
    total = 0.0
    trunc = False
    while not trunc:
        units_before = core.units[:, 0].copy()
        if discrete:
            act = int(rng.integers(0, 70))
        else:  # all-zero (close everything), in-range and out-of-range (clipped) actions
            act = rng.uniform(-1, 1, 7).astype(np.float32) * rng.choice([0.0, 1.0, 3.0])
        obs, r, _, trunc, info = env.step(act)
        total += r
        bar = info["bar"]
        units = core.units[:, 0]
        assert env.observation_space.contains(obs)
        assert info["portfolio_value"] > 0 and info["cash"] >= 0 and np.all(units >= 0)
        assert info["fees"] >= 0 and info["traded_value"] >= 0
        assert math.isclose(
            info["portfolio_value"], info["cash"] + float(units @ MARKET.close[bar]), rel_tol=1e-12
        )
        assert info["weights"].sum() <= 1 + 1e-12
        closed = ~MARKET.tradable[bar]
        assert np.array_equal(units[closed], units_before[closed]), "fill on a non-tradable bar"
        assert info["fees"] <= info["traded_value"] * 0.5
    assert math.isclose(total, math.log(info["portfolio_value"] / v0), rel_tol=1e-9, abs_tol=1e-12)


def _shifted_after(md: MarketData, t: int, seed: int) -> MarketData:
    """The same market up to bar t, different prices, volumes and halts after it."""
    rng = np.random.default_rng(seed)
    k = rng.uniform(0.5, 2.0, (md.n_bars - t - 1, md.n_assets))
    arrays = {name: getattr(md, name).copy() for name in ("open", "high", "low", "close", "volume")}
    for a in arrays.values():
        a[t + 1 :] *= k
    tradable = md.tradable.copy()
    tradable[t + 1 :] = rng.random(k.shape) < 0.5
    return MarketData(md.timestamps, md.symbols, md.interval, tradable=tradable, **arrays)


@settings(max_examples=10, deadline=None)
@given(t=st.integers(60, 150), seed=st.integers(0, 1000))
def test_no_look_ahead(t, seed):
    """Changing bars after t changes nothing observed or rewarded up to bar t."""
    other = _shifted_after(MARKET, t, seed)
    seg = [(40, 200)]
    envs = [
        CryptoTradingEnv({"market": m, "features": causal_features(m), "segments": seg, "mode": "eval"})
        for m in (MARKET, other)
    ]
    outs = []
    for env in envs:
        obs, info = env.reset(seed=0)
        seq = [(obs, 0.0, info["portfolio_value"], info["benchmark_value"])]
        r2 = np.random.default_rng(seed)
        while info["bar"] < t:
            obs, r, _, _, info = env.step(r2.uniform(-1, 1, 7).astype(np.float32))
            seq.append((obs, r, info["portfolio_value"], info["benchmark_value"]))
        outs.append(seq)
    for a, b in zip(*outs, strict=True):
        assert np.array_equal(a[0], b[0]) and a[1:] == b[1:]


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.lists(
            st.one_of(
                st.floats(allow_nan=True, allow_infinity=True, width=32),
                st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5]),
            ),
            min_size=1,
            max_size=9,
        ),
        min_size=1,
        max_size=6,
    ).filter(lambda rs: len({len(r) for r in rs}) == 1),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_continuous_actions_map_to_clipped_weights_scaled_to_at_most_one(rows, dtype):
    from cappuccino_ray.env.spaces import continuous_to_weights

    actions = np.array(rows, dtype=dtype)
    got = continuous_to_weights(actions)
    # By hand: NaN counts as 0, clip to [0, 1], divide by max(1, the sum in asset order).
    for b, row in enumerate(actions.tolist()):
        clipped = [0.0 if not x > 0.0 else min(x, 1.0) for x in row]
        total = 0.0
        for x in clipped:
            total += x
        want = [x / max(total, 1.0) for x in clipped]
        assert got[b].tolist() == want
        assert not np.signbit(got[b]).any()  # no -0.0 targets
