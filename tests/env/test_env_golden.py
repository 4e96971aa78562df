"""A golden rollout tied to the env id: any change to the mechanics must bump ``CryptoTrading-v1``.

A fixed generated market, seed and action sequence, through ``gymnasium.make``,
give exactly the recorded observations, rewards, fees, forced sales and fee
tiers of ``golden_rollout.json``. If a change to fees, fills, rewards or the
observation alters one bit of them, this fails: bump ``ENV_ID`` (old
checkpoints were trained on the old mechanics), then re-record with
``CAPPUCCINO_RECORD_GOLDEN=1 pytest tests/env/test_env_golden.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from cappuccino_ray.data.synthetic import generate_market
from cappuccino_ray.env import ENV_ID, register_envs

GOLDEN = Path(__file__).with_name("golden_rollout.json")
STEPS = 80


def _rollout() -> dict[str, Any]:
    register_envs()
    market = generate_market(300, n_assets=3, interval="4h", seed=21, planted_signal=0.5)
    settings = {
        "fee_model": "tiered",
        "starting_volume_30d": 9_000.0,  # a tier change within the rollout
        "max_hold_days": 2.0,  # forced sales after 12 bars
        "lookback": 2,
        "rolling_features": True,
        "episode_bars": STEPS,
        "no_trade_band": 0.02,
    }
    env = gym.make(ENV_ID, env_config={"market": market, "mode": "train", "settings": settings})
    obs, _ = env.reset(seed=5)
    rng = np.random.default_rng(9)
    digest = hashlib.sha256(np.asarray(obs, dtype=np.float32).tobytes())
    rewards, fees, forced, tiers = [], [], [], []
    for _ in range(STEPS):
        action = rng.uniform(-0.2, 1.0, 3).astype(np.float32)  # mostly long: positions age
        obs, reward, terminated, truncated, info = env.step(action)
        digest.update(np.asarray(obs, dtype=np.float32).tobytes())
        rewards.append(float(reward))
        fees.append(float(info["fees"]))
        forced.append(int(info["forced_sales"]))
        tiers.append(int(info["fee_tier"]))
        if terminated or truncated:
            break
    return {
        "env_id": ENV_ID,
        "obs_sha256": digest.hexdigest(),
        "first_obs": [float(x) for x in np.asarray(obs, dtype=np.float32)[:12]],
        "rewards": rewards,
        "fees": fees,
        "forced_sales": forced,
        "fee_tiers": tiers,
    }


def test_golden_rollout_is_unchanged() -> None:
    got = _rollout()
    if os.environ.get("CAPPUCCINO_RECORD_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=1) + "\n")
    want = json.loads(GOLDEN.read_text())
    assert got["env_id"] == want["env_id"], "the env id changed: re-record the golden rollout"
    # The rollout exercises what the id promises: fees, forced sales and a tier change.
    assert sum(want["forced_sales"]) > 0 and len(set(want["fee_tiers"])) > 1 and sum(want["fees"]) > 0
    for key in ("rewards", "fees", "forced_sales", "fee_tiers", "first_obs", "obs_sha256"):
        assert got[key] == want[key], f"{key} changed: the mechanics changed, bump {ENV_ID}"
