"""A golden rollout tied to the env id: any change to the mechanics must bump ``CryptoTrading-v1``.

Fixed generated markets, seeds and action sequences, through ``gymnasium.make``,
give exactly the recorded observations, rewards, fees, forced sales and fee
tiers of ``golden_rollout.json`` (tiered fees, flat fees with forced sales at
the taker rate and default episodes, and a drawn starting volume). If a change to fees, fills, rewards or the
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

#: The rollouts pinned: what v1 changed is in them (flat forced sales pay taker, training episodes
#: twice the holding limit by default, a drawn starting volume).
ROLLOUTS: dict[str, dict[str, Any]] = {
    "tiered": {
        "fee_model": "tiered",
        "starting_volume_30d": 9_000.0,  # a tier change within the rollout
        "max_hold_days": 2.0,  # forced sales after 12 bars
        "lookback": 2,
        "rolling_features": True,
        "episode_bars": STEPS,
        "no_trade_band": 0.02,
    },
    "flat": {"fee_model": "flat", "max_hold_days": 1.0},  # default episodes: 2 x 6 bars
    "drawn_volume": {"fee_model": "tiered", "max_hold_days": 1.0, "starting_volume_max": 300_000.0},
}


def _rollout(settings: dict[str, Any]) -> dict[str, Any]:
    register_envs()
    market = generate_market(300, n_assets=3, interval="4h", seed=21, planted_signal=0.5)
    env = gym.make(ENV_ID, env_config={"market": market, "mode": "train", "settings": settings})
    obs, info = env.reset(seed=5)
    rng = np.random.default_rng(9)
    digest = hashlib.sha256(np.asarray(obs, dtype=np.float32).tobytes())
    rewards, fees, forced, tiers, rates = [], [], [], [], []
    for _ in range(STEPS):
        action = rng.uniform(-0.2, 1.0, 3).astype(np.float32)  # mostly long: positions age
        obs, reward, terminated, truncated, info = env.step(action)
        digest.update(np.asarray(obs, dtype=np.float32).tobytes())
        rewards.append(float(reward))
        fees.append(float(info["fees"]))
        forced.append(int(info["forced_sales"]))
        tiers.append(int(info["fee_tier"]))
        rates.append(float(info["fee_rate"]))
        if terminated or truncated:
            obs, info = env.reset()  # a new episode (a new starting volume where one is drawn)
            digest.update(np.asarray(obs, dtype=np.float32).tobytes())
    return {
        "obs_sha256": digest.hexdigest(),
        "last_obs": [float(x) for x in np.asarray(obs, dtype=np.float32)[:12]],
        "rewards": rewards,
        "fees": fees,
        "forced_sales": forced,
        "fee_tiers": tiers,
        "fee_rates": rates,
    }


def test_golden_rollouts_are_unchanged() -> None:
    got = {"env_id": ENV_ID, "rollouts": {name: _rollout(s) for name, s in ROLLOUTS.items()}}
    if os.environ.get("CAPPUCCINO_RECORD_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=1) + "\n")
    want = json.loads(GOLDEN.read_text())
    assert got["env_id"] == want["env_id"], "the env id changed: re-record the golden rollouts"
    # The rollouts exercise what the id promises: fees, forced sales, tier changes, drawn volumes.
    tiered, flat, drawn = (want["rollouts"][k] for k in ("tiered", "flat", "drawn_volume"))
    assert sum(tiered["forced_sales"]) > 0 and len(set(tiered["fee_tiers"])) > 1
    assert sum(flat["forced_sales"]) > 0 and set(flat["fee_rates"]) == {0.006}
    assert len({t for t, r in zip(drawn["fee_tiers"], drawn["fee_rates"], strict=True) if r}) > 1
    for name in ROLLOUTS:
        for key, value in want["rollouts"][name].items():
            assert got["rollouts"][name][key] == value, (
                f"{name}: {key} changed; the mechanics changed, bump {ENV_ID}"
            )
