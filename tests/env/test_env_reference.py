"""The vectorised core agrees with the plain per-asset loop of bench/bench_env.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from env_helpers import causal_features

from cappuccino_ray.config.env import COINBASE_ADVANCED
from cappuccino_ray.data.synthetic import generate_market
from cappuccino_ray.env import CryptoTradingEnv

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_env.py"


def _reference_module():
    spec = importlib.util.spec_from_file_location("bench_env_reference", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize(
    "settings",
    [
        {"fee_model": "flat", "flat_fee": 0.006},
        {"fee_model": "tiered", "fee_mode": "static", "no_trade_band": 0.02, "min_order_usd": 500.0},
        {
            "fee_model": "tiered",
            "fee_mode": "progressive",
            "fee_liquidity": "taker",
            "starting_volume_30d": 2e4,
        },
    ],
)
def test_core_matches_reference_loop(settings):
    ref_mod = _reference_module()
    md = generate_market(700, seed=9, halt_prob=0.05)
    feats = causal_features(md)
    cfg = {
        "market": md,
        "features": feats,
        "segments": [(10, 700)],
        "mode": "eval",
        "settings": {"max_hold_days": 0.25, "initial_cash": 50_000.0, **settings},
    }
    env = CryptoTradingEnv(cfg)
    if settings["fee_model"] == "flat":
        tiers = [(0.0, settings["flat_fee"], settings.get("flat_taker_fee", 0.012))]
    else:
        sched = COINBASE_ADVANCED
        liq = settings.get("fee_liquidity", "maker")
        tiers = [(t.min_volume_usd, t.maker if liq == "maker" else t.taker, t.taker) for t in sched.tiers]
    ref = ref_mod.ReferenceAccount(
        md, feats.tolist(), env.setup.params, tiers, progressive=settings.get("fee_mode") == "progressive"
    )
    obs, _ = env.reset(seed=0)
    ref_obs = ref.reset(10, 699)
    assert np.allclose(obs, np.array(ref_obs, dtype=np.float32))
    rng = np.random.default_rng(1)
    n_forced = 0
    trunc = False
    while not trunc:
        a = rng.uniform(-1, 1, 7) * rng.choice([0.5, 1.0, 2.0])
        w = np.clip(a, 0, 1)
        w = w / max(1.0, w.sum())
        obs, r, _, trunc, info = env.step(a)
        ref_obs, ref_r, ref_done, ref_info = ref.step(w.tolist())
        assert trunc == ref_done
        assert np.allclose(obs, np.array(ref_obs, dtype=np.float32), rtol=1e-5, atol=1e-6)
        assert r == pytest.approx(ref_r, rel=1e-7, abs=1e-12)
        for key, value in ref_info.items():
            assert info[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
        n_forced += info["forced_sales"]
    assert n_forced > 0
