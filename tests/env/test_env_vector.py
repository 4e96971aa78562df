"""The vector env equals the single env stepped separately, with next-step autoreset."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from cappuccino_ray.env import ENV_ID, CryptoTradingEnv, CryptoTradingVectorEnv, env_creator, register_envs


@pytest.mark.parametrize("mode", ["continuous", "discrete"])
def test_vector_equals_single_envs_exactly(small_config, mode):
    cfg = {**small_config, "settings": {**small_config["settings"], "action_mode": mode, "episode_bars": 25}}
    n = 4
    venv = CryptoTradingVectorEnv(num_envs=n, env_config=cfg)
    singles = [CryptoTradingEnv(cfg) for _ in range(n)]
    obs, vinfo = venv.reset(seed=10)
    for i, env in enumerate(singles):
        o, info = env.reset(seed=10 + i)
        assert np.array_equal(obs[i], o) and vinfo["bar"][i] == info["bar"]
    rng = np.random.default_rng(0)
    ended = np.zeros(n, dtype=bool)
    n_resets = 0
    for _ in range(120):
        if mode == "continuous":
            acts = rng.uniform(-1, 1, (n, 7)).astype(np.float32)
        else:
            acts = rng.integers(0, 70, n)
        obs, rew, term, trunc, info = venv.step(acts)
        for i, env in enumerate(singles):
            if ended[i]:
                o, si = env.reset()
                r, te, tr = 0.0, False, False
                n_resets += 1
            else:
                o, r, te, tr, si = env.step(acts[i])
            assert np.array_equal(obs[i], o)
            assert rew[i] == r and term[i] == te and trunc[i] == tr
            for key in ("portfolio_value", "benchmark_value", "fees", "cash", "fee_rate", "bar", "n_trades"):
                assert info[key][i] == si[key], key
            assert np.array_equal(info["weights"][i], si["weights"])
            assert np.array_equal(info["forced_assets"][i], si["forced_assets"])
        ended = term | trunc
    assert n_resets >= n


def test_make_vec_uses_the_vector_entry_point(small_config):
    register_envs()
    venv = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode="vector_entry_point", **small_config)
    assert isinstance(venv.unwrapped, CryptoTradingVectorEnv)
    obs, info = venv.reset(seed=0)
    assert obs.shape == (3, 63) and venv.observation_space.contains(obs)
    obs, rew, _term, _trunc, info = venv.step(venv.action_space.sample())
    assert rew.shape == (3,) and info["weights"].shape == (3, 7) and info["_fees"].all()


def test_rllib_creator_builds_vector_or_single(small_config):
    assert isinstance(env_creator(small_config), CryptoTradingEnv)
    v = env_creator({**small_config, "num_envs": 2})
    assert isinstance(v, CryptoTradingVectorEnv) and v.num_envs == 2
