"""The Gymnasium contract: checker, seeding, pickling, registration, config validation."""

from __future__ import annotations

import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from cappuccino_ray.env import ENV_ID, CryptoTradingEnv, observation_size, register_envs
from cappuccino_ray.errors import ConfigError, TrainingError


def rollout(env, seed, n_steps=40, action_seed=0):
    rng = np.random.default_rng(action_seed)
    obs, info = env.reset(seed=seed)
    out = [(obs.copy(), 0.0, info["bar"])]
    for _ in range(n_steps):
        obs, r, term, trunc, info = env.step(rng.uniform(-1, 1, env.action_space.shape).astype(np.float32))
        out.append((obs.copy(), r, info["bar"]))
        if term or trunc:
            obs, info = env.reset()
            out.append((obs.copy(), 0.0, info["bar"]))
    return out


def same(a, b):
    return len(a) == len(b) and all(
        np.array_equal(x[0], y[0]) and x[1] == y[1] and x[2] == y[2] for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("mode", ["continuous", "discrete"])
def test_check_env_clean(small_config, mode):
    cfg = {**small_config, "settings": {**small_config["settings"], "action_mode": mode}}
    env = CryptoTradingEnv(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=True)


def test_same_seed_same_rollout_different_seed_differs(small_config):
    a = rollout(CryptoTradingEnv(small_config), seed=3, n_steps=130)
    b = rollout(CryptoTradingEnv(small_config), seed=3, n_steps=130)
    c = rollout(CryptoTradingEnv(small_config), seed=4, n_steps=130)
    assert same(a, b)
    assert not same(a, c)


def test_pickle_round_trip_continues_identically(small_config):
    env = CryptoTradingEnv(small_config)
    env.reset(seed=1)
    for _ in range(5):
        env.step(np.full(7, 0.1, dtype=np.float32))
    clone = pickle.loads(pickle.dumps(env))
    forced = 0
    for k in range(80):
        act = np.full(7, 0.1 if k % 40 else 0.0, dtype=np.float32)  # held 39 bars: forced out at 24
        r1 = env.step(act)
        r2 = clone.step(act)
        assert np.array_equal(r1[0], r2[0]) and r1[1:4] == r2[1:4]
        assert r1[4].keys() == r2[4].keys()
        for key, value in r1[4].items():  # every entry, forced sales included (buffers survive pickling)
            assert np.array_equal(value, r2[4][key]), key
        forced += r2[4]["forced_sales"]
        if r1[3]:
            assert np.array_equal(env.reset()[0], clone.reset()[0])
    assert forced > 0


def test_gym_make_default_is_phase_one_63():
    register_envs()
    register_envs()  # idempotent
    env = gym.make(ENV_ID)
    assert env.observation_space.shape == (63,)
    assert env.action_space.shape == (7,)
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float32 and env.observation_space.contains(obs)
    obs, r, *_ = env.step(env.action_space.sample())
    assert np.isfinite(r) and env.observation_space.contains(obs)


def test_phase_two_observation_is_91_and_discrete_is_70(small_market):
    rng = np.random.default_rng(0)
    feats = rng.standard_normal((small_market.n_bars, 7, 11)).astype(np.float32)
    env = CryptoTradingEnv(
        {
            "market": small_market,
            "features": feats,
            "settings": {"rolling_features": True, "action_mode": "discrete"},
        }
    )
    assert env.observation_space.shape == (91,) == (observation_size(7, 11, 1),)
    assert env.action_space.n == 70
    # An 11-feature set also serves the phase-1 observation (its first 7 columns).
    env1 = CryptoTradingEnv({"market": small_market, "features": feats, "settings": {"lookback": 3}})
    assert env1.observation_space.shape == (7 * (2 + 7 * 3),)
    obs, _ = env1.reset(seed=0)
    t = env1._core.bar[0]
    block = obs.reshape(7, 23)
    assert np.array_equal(block[:, 2:].reshape(7, 3, 7), np.transpose(feats[t - 2 : t + 1, :, :7], (1, 0, 2)))


def test_real_features_observation():
    from cappuccino_ray.data.synthetic import generate_market

    md = generate_market(400, interval="4h", seed=2)
    env = CryptoTradingEnv({"market": md, "settings": {"rolling_features": True}})
    assert env.observation_space.shape == (91,)
    assert env.setup.segments[0][0] == env.setup.warmup > 0
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)


def test_observation_clip_and_bounds(small_market):
    feats = np.full((small_market.n_bars, 7, 7), 1e6, dtype=np.float32)
    env = CryptoTradingEnv({"market": small_market, "features": feats, "settings": {"obs_clip": 5.0}})
    obs, _ = env.reset(seed=0)
    assert obs.reshape(7, 9)[:, 2:].max() == 5.0
    assert env.observation_space.contains(obs)


def test_training_episodes_stay_inside_segments(small_config):
    segs = [(20, 90), (200, 240)]
    env = CryptoTradingEnv({**small_config, "segments": segs})
    hits = set()
    for seed in range(30):
        _, info = env.reset(seed=seed)
        start = info["bar"]
        seg = next(s for s in segs if s[0] <= start < s[1])
        hits.add(seg)
        steps = 0
        while True:
            _, _, term, trunc, info = env.step(np.zeros(7, dtype=np.float32))
            steps += 1
            assert seg[0] < info["bar"] < seg[1]
            if trunc:
                break
        assert not term
        assert steps == min(60, seg[1] - seg[0] - 1)
    assert hits == set(segs)
    with pytest.raises(TrainingError, match="reset"):
        env.step(np.zeros(7, dtype=np.float32))


def test_eval_mode_runs_the_whole_segment_deterministically(small_config):
    env = CryptoTradingEnv({**small_config, "segments": [(50, 150)], "mode": "eval"})
    for seed in (0, 1):
        _, info = env.reset(seed=seed)
        assert info["bar"] == 50
        n = 0
        trunc = False
        while not trunc:
            *_, trunc, info = env.step(np.zeros(7, dtype=np.float32))
            n += 1
        assert n == 99 and info["bar"] == 149


def test_segments_are_trimmed_to_the_warmup(small_market):
    class FS:
        values = np.zeros((small_market.n_bars, 7, 7), dtype=np.float32)
        names = tuple(f"f{i}" for i in range(7))
        warmup = 30

    env = CryptoTradingEnv({"market": small_market, "features": FS(), "settings": {"lookback": 4}})
    assert env.setup.segments == ((33, small_market.n_bars),)


@pytest.mark.parametrize(
    ("cfg", "match"),
    [
        ({"markt": None}, "unknown key 'markt'"),
        ({"settings": {"lookbak": 2}}, "did you mean 'lookback'"),
        ({"settings": {"fee_model": "free"}}, "fee_model"),
        ({"settings": {"initial_cash": -1}}, "initial_cash"),
        ({"mode": "test"}, "mode"),
        ({"mode": "eval", "segments": [(0, 100), (200, 300)]}, "one segment"),
        ({"segments": [(0, 10_000)]}, "outside"),
        ({"segments": [(0, 1)]}, "no segment"),
        ({"features": np.zeros((5, 7, 7))}, "shape"),
        ({"features": np.zeros((400, 7, 7)), "settings": {"rolling_features": True}}, "rolling"),
        ({"market": "BTC"}, "MarketData"),
        ({"info": "no"}, "info"),
    ],
)
def test_config_errors_say_what_to_fix(small_market, cfg, match):
    base = {"market": small_market, "features": np.zeros((400, 7, 7), dtype=np.float32)}
    with pytest.raises(ConfigError, match=match):
        CryptoTradingEnv({**base, **cfg})


def test_tune_registry_has_the_env():
    from ray.tune.registry import ENV_CREATOR, _global_registry

    register_envs()
    assert _global_registry.contains(ENV_CREATOR, ENV_ID)
