"""RLlib builds PPO on the registered id and samples through the vector env."""

from __future__ import annotations

import numpy as np
import pytest

from cappuccino_ray.data.synthetic import generate_market
from cappuccino_ray.env import ENV_ID, CryptoTradingVectorEnv, register_envs


@pytest.mark.slow
def test_rllib_ppo_samples_through_the_vector_env():
    ray = pytest.importorskip("ray")
    from ray.rllib.algorithms.ppo import PPOConfig

    register_envs()
    md = generate_market(400, seed=1)
    env_config = {
        "market": md,
        "features": np.zeros((400, 7, 7), dtype=np.float32),
        "settings": {"episode_bars": 50},
    }
    cfg = (
        PPOConfig()
        .environment(ENV_ID, env_config=env_config)
        .env_runners(
            num_env_runners=0, num_envs_per_env_runner=4, gym_env_vectorize_mode="vector_entry_point"
        )
        .training(train_batch_size_per_learner=200, minibatch_size=100, num_epochs=1)
    )
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        algo = cfg.build_algo()
        assert isinstance(algo.env_runner.env.unwrapped, CryptoTradingVectorEnv)
        result = algo.train()
        assert result["env_runners"]["num_env_steps_sampled"] >= 200
        algo.stop()
    finally:
        ray.shutdown()
