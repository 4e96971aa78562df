"""The vector env equals the single env stepped separately, with next-step autoreset."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from cappuccino_ray.env import ENV_ID, CryptoTradingEnv, CryptoTradingVectorEnv, env_creator, register_envs
from cappuccino_ray.env.setup import Observer


@pytest.mark.parametrize(
    ("mode", "volume_max"), [("continuous", None), ("discrete", None), ("continuous", 3e5)]
)
def test_vector_equals_single_envs_exactly(small_config, mode, volume_max):
    settings = {
        "action_mode": mode,
        "episode_bars": 25,
        "fee_model": "tiered",
        "starting_volume_max": volume_max,
    }
    cfg = {**small_config, "settings": {**small_config["settings"], **settings}}
    n = 4
    venv = CryptoTradingVectorEnv(num_envs=n, env_config=cfg)
    forced_singles = 0
    singles = [CryptoTradingEnv(cfg) for _ in range(n)]
    obs, vinfo = venv.reset(seed=10)
    arrays = [v for k, v in vinfo.items() if not k.startswith("_")]  # the reset's info arrays are its own too
    assert not any(np.shares_memory(a, b) for j, a in enumerate(arrays) for b in arrays[:j])
    for i, env in enumerate(singles):
        o, info = env.reset(seed=10 + i)
        assert np.array_equal(obs[i], o) and vinfo["bar"][i] == info["bar"]
    rng = np.random.default_rng(0)
    ended = np.zeros(n, dtype=bool)
    n_resets = 0
    kept: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for _ in range(120):
        if mode == "continuous":
            acts = rng.uniform(-1, 1, (n, 7)).astype(np.float32)
        else:
            acts = rng.integers(0, 70, n)
        obs, rew, term, trunc, info = venv.step(acts)
        # A step's info arrays are its own: the next step changes none of them, and no two share memory.
        for key, (array, then) in kept.items():
            assert np.array_equal(array, then), key
        kept = {k: (v, v.copy()) for k, v in info.items() if not k.startswith("_")}
        arrays = [v for v, _ in kept.values()] + [rew, trunc]
        assert not any(np.shares_memory(a, b) for j, a in enumerate(arrays) for b in arrays[:j])
        for i, env in enumerate(singles):
            if ended[i]:
                o, si = env.reset()
                r, te, tr = 0.0, False, False
                n_resets += 1
            else:
                o, r, te, tr, si = env.step(acts[i])
                forced_singles += si["forced_sales"]
            assert np.array_equal(obs[i], o)
            assert rew[i] == r and term[i] == te and trunc[i] == tr
            assert set(si) == {k for k in info if not k.startswith("_")}
            for key, value in si.items():  # the single env's own info builder, key by key
                assert np.array_equal(info[key][i], value), key
                want = np.ndarray if key in ("weights", "forced_assets") else (int, float)
                assert isinstance(value, want) and not isinstance(value, np.generic), key
        ended = term | trunc
    assert n_resets >= n
    assert venv.forced_sales_total == forced_singles  # real steps only, not the autoreset ones


def test_a_returned_truncation_array_is_left_alone_by_a_reset(small_config):
    cfg = {**small_config, "settings": {**small_config["settings"], "episode_bars": 5}}
    venv = CryptoTradingVectorEnv(num_envs=3, env_config=cfg)
    venv.reset(seed=0)
    for _ in range(10):
        trunc = venv.step(np.zeros((3, 7), dtype=np.float32))[3]
        if trunc.any():
            break
    assert trunc.any()
    kept = trunc.copy()
    venv.reset(seed=1)
    assert np.array_equal(trunc, kept)


def test_forced_sales_total_counts_real_steps_only(small_config):
    """Held positions are force-sold; the total counts each copy's real steps, not its autoresets."""
    # 1h bars and a 1-day limit: a position held from an episode's start is force-sold at its 25th bar.
    cfg = {**small_config, "settings": {**small_config["settings"], "episode_bars": 40}}
    n = 3
    venv = CryptoTradingVectorEnv(num_envs=n, env_config=cfg)
    singles = [CryptoTradingEnv(cfg) for _ in range(n)]
    venv.reset(seed=4)
    for i, env in enumerate(singles):
        env.reset(seed=4 + i)
    acts = np.full((n, 7), 0.1, dtype=np.float32)  # hold everything: positions age until forced out
    ended = np.zeros(n, dtype=bool)
    total = 0
    for _ in range(100):
        *_, term, trunc, _ = venv.step(acts)
        for i, env in enumerate(singles):
            if ended[i]:
                env.reset()
            else:
                total += env.step(acts[i])[4]["forced_sales"]
        ended = term | trunc
    assert venv.forced_sales_total == total > 0


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


def test_info_off_gives_the_same_steps_and_empty_infos(small_config):
    """``info: False`` (training) changes nothing but the infos, single and vector, resets included."""
    cfg = {**small_config, "settings": {**small_config["settings"], "episode_bars": 25}}
    n = 3
    on, off = (CryptoTradingVectorEnv(num_envs=n, env_config={**cfg, "info": flag}) for flag in (True, False))
    s_on, s_off = CryptoTradingEnv(cfg), CryptoTradingEnv({**cfg, "info": False})
    (o1, i1), (o2, i2) = on.reset(seed=5), off.reset(seed=5)
    (so1, si1), (so2, si2) = s_on.reset(seed=5), s_off.reset(seed=5)
    assert np.array_equal(o1, o2) and np.array_equal(so1, so2)
    assert i2 == {} and si2 == {} and "portfolio_value" in i1 and "portfolio_value" in si1
    rng = np.random.default_rng(1)
    n_ends = 0
    for _ in range(80):
        acts = rng.uniform(-1, 1, (n, 7)).astype(np.float32)
        *a, info_on = on.step(acts)
        *b, info_off = off.step(acts)
        for x, y in zip(a, b, strict=True):
            assert np.array_equal(x, y)
        assert info_off == {} and info_on["bar"].shape == (n,)
        *sa, sinfo_on = s_on.step(acts[0])
        *sb, sinfo_off = s_off.step(acts[0])
        assert np.array_equal(sa[0], sb[0]) and sa[1:] == sb[1:]
        assert sinfo_off == {} and "benchmark_value" in sinfo_on
        if sa[3]:
            n_ends += 1
            (so1, si1), (so2, si2) = s_on.reset(), s_off.reset()
            assert np.array_equal(so1, so2) and si2 == {} and si1["n_trades"] == 0
    assert n_ends >= 2  # the comparison ran through autoresets and resets


def test_gym_make_vec_passes_the_info_flag(small_config):
    register_envs()
    venv = gym.make_vec(
        ENV_ID, num_envs=2, vectorization_mode="vector_entry_point", **small_config, info=False
    )
    assert venv.reset(seed=0)[1] == {}
    assert venv.step(venv.action_space.sample())[4] == {}


@pytest.mark.parametrize("lookback", [1, 4])
def test_observer_without_the_table_gives_the_same_observations(small_config, lookback):
    features = small_config["features"]
    table = Observer(features, lookback)
    direct = Observer(features, lookback, max_table_bytes=0)  # gathered on the fly
    assert table.table is not None and direct.table is None
    rng = np.random.default_rng(2)
    bars = rng.integers(lookback - 1, len(features), 64)
    weights, ages = rng.random((7, 64)), rng.random((7, 64))
    got = direct.build(bars, weights, ages)
    assert got.dtype == np.float32 and np.array_equal(got, table.build(bars, weights, ages))


def test_training_episodes_start_in_higher_fee_tiers_when_the_volume_is_drawn(small_config):
    settings = {**small_config["settings"], "fee_model": "tiered", "starting_volume_max": 3e5}
    venv = CryptoTradingVectorEnv(num_envs=32, env_config={**small_config, "settings": settings})
    _, info = venv.reset(seed=1)
    tiers = set(np.asarray(info["fee_tier"]).tolist())
    assert len(tiers) >= 3 and max(tiers) >= 3  # $0..$300K: tiers 0 to 4
    # Evaluation always starts as a new account.
    one = CryptoTradingEnv({**small_config, "settings": settings, "mode": "eval", "segments": [(100, 300)]})
    _, info = one.reset(seed=1)
    assert info["fee_tier"] == 0 and info["volume_30d"] == 0.0
