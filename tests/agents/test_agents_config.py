from types import SimpleNamespace

import pytest

from cappuccino_ray.config.agents import DDQNParams, PPOParams, TrialConfig, parse_trial_config
from cappuccino_ray.errors import ConfigError
from cappuccino_ray.search.trainable import mini_trial_config


def test_mini_configs_parse_for_both_algorithms():
    trial, params = parse_trial_config(mini_trial_config(algo="ppo"))
    assert isinstance(trial, TrialConfig) and isinstance(params, PPOParams)
    assert params.hidden_size == 32
    trial, params = parse_trial_config(mini_trial_config(algo="ddqn"))
    assert isinstance(params, DDQNParams) and trial.algo == "ddqn"


def test_search_space_names_are_accepted():
    cfg = {
        "algo": "ddqn",
        "interval": "4h",
        "env": {"max_hold_days": 7, "fee_model": "tiered"},
        "phase": 2,
        "seed": 3,
        "trial_index": 5,
        "lr": 1e-4,
        "train_batch_size": 64,
        "gamma": 0.95,
        "hidden_size": 64,
        "n_layers": 1,
        "lookback": 3,
        "buffer_size": 10_000,
        "learning_starts": 100,
        "target_update_freq": 200,
        "epsilon_final": 0.02,
        "epsilon_fraction": 0.1,
        "n_step": 3,
        "dueling": True,
    }
    trial, params = parse_trial_config(cfg)
    assert isinstance(params, DDQNParams)
    assert params.epsilon_steps(20_000) == 2000
    assert trial.phase == 2 and params.dueling
    settings = trial.env_settings(params)
    assert (settings.max_hold_days, settings.fee_model, settings.lookback, settings.action_mode) == (
        7.0,
        "tiered",
        3,
        "discrete",
    )


def test_unknown_key_names_the_key_and_suggests():
    with pytest.raises(ConfigError, match="unknown key 'learning_rate'"):
        parse_trial_config({"algo": "ppo", "learning_rate": 1e-3})
    with pytest.raises(ConfigError, match="did you mean 'clip_param'"):
        parse_trial_config({"algo": "ppo", "clip_parm": 0.2})


def test_ddqn_key_is_unknown_for_ppo():
    with pytest.raises(ConfigError, match="buffer_size"):
        parse_trial_config({"algo": "ppo", "buffer_size": 1000})


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"algo": "ppo", "lr": -1.0}, "lr is -1.0"),
        ({"algo": "ppo", "train_batch_size": 256, "minibatch_size": 512}, "minibatch_size"),
        ({"algo": "ppo", "hidden_size": "big"}, "whole number"),
        ({"algo": "sac"}, "algo"),
        ({"algo": "ppo", "interval": "7m"}, "interval"),
        ({"algo": "ppo", "phase": 3}, "phase"),
        ({"algo": "ppo", "n_groups": 4, "n_test_groups": 4}, "n_test_groups"),
        ({"algo": "ddqn", "epsilon_initial": 0.1, "epsilon_final": 0.5}, "epsilon_final"),
        ({"algo": "ddqn", "warm_start_checkpoint": "/x"}, "PPO only"),
        ({"algo": "ppo", "num_gpus": -0.5}, "num_gpus"),
    ],
)
def test_invalid_values_raise_config_error(cfg, message):
    with pytest.raises(ConfigError, match=message):
        parse_trial_config(cfg)


def test_not_a_mapping():
    with pytest.raises(ConfigError, match="mapping"):
        parse_trial_config([("algo", "ppo")])  # type: ignore[arg-type]


def test_ppo_builder_translates_hyperparameters():
    from cappuccino_ray.agents.ppo import PPOModule, build_ppo_config

    params = PPOParams(
        lr=1e-4, train_batch_size=2048, minibatch_size=256, num_epochs=3, lambda_=0.9, num_envs=16
    )
    cfg = build_ppo_config(params, env="CryptoTrading-v1", env_config={}, seed=7, num_gpus=0.25)
    assert cfg.lr == 1e-4
    assert cfg.train_batch_size_per_learner == 2048
    assert cfg.minibatch_size == 256 and cfg.num_epochs == 3 and cfg.lambda_ == 0.9
    assert cfg.num_envs_per_env_runner == 16 and cfg.num_env_runners == 0
    assert cfg.rollout_fragment_length == 128
    assert cfg.num_gpus_per_learner == 0.25
    assert cfg.seed == 7
    assert cfg.use_kl_loss is False
    assert cfg.gym_env_vectorize_mode == "vector_entry_point"
    assert cfg.rl_module_spec.module_class is PPOModule


def test_ddqn_builder_uses_double_q_and_uniform_replay():
    from cappuccino_ray.agents.ddqn import DDQNModule, build_ddqn_config

    params = DDQNParams(buffer_size=5000, target_update_freq=300, learning_starts=50, epsilon_fraction=0.5)
    cfg = build_ddqn_config(params, env="CryptoTrading-v1", env_config={}, seed=1, train_steps=1000)
    assert cfg.double_q is True and cfg.dueling is False
    assert cfg.replay_buffer_config["capacity"] == 5000
    assert cfg.replay_buffer_config["type"] == "EpisodeReplayBuffer"
    assert cfg.target_network_update_freq == 300
    assert cfg.num_steps_sampled_before_learning_starts == 50
    assert cfg.rl_module_spec.module_class is DDQNModule
    assert cfg.rl_module_spec.model_config["epsilon_timesteps"] == 500
    # The flat replay path is the default; RLlib's episode buffer only with flat_replay=False.
    from cappuccino_ray.agents.lean_dqn import LeanDQN

    assert cfg.algo_class is LeanDQN
    rllib_replay = build_ddqn_config(
        DDQNParams(flat_replay=False), env="CryptoTrading-v1", env_config={}, seed=1, train_steps=1000
    )
    assert rllib_replay.algo_class is not LeanDQN


class _Metrics:
    """Collects what RLlib's learner logs (the learner's own metrics logger needs a whole Learner)."""

    def __init__(self) -> None:
        self.values: dict = {}

    def log_value(self, key, value, **_kw) -> None:
        self.values[key] = value

    def log_dict(self, values, **_kw) -> None:
        self.values.update(values)


def test_the_project_config_makes_rllibs_learner_use_double_q_targets():
    # RLlib's own DQN loss, run with the project's config on hand-made Q-values: the online
    # net prefers action 1 at s' while the target net's max is action 2 (30); a double-Q
    # target values action 1 with the target net (20), a plain DQN target would use 30.
    import torch

    from cappuccino_ray.agents import rllib_names as rl
    from cappuccino_ray.agents.ddqn import build_ddqn_config

    cfg = build_ddqn_config(
        DDQNParams(gamma=0.9), env="CryptoTrading-v1", env_config={}, seed=1, train_steps=1000
    )
    batch = {
        rl.ACTIONS: torch.tensor([0, 0, 0]),
        "rewards": torch.tensor([1.0, 0.5, -1.0]),
        "terminateds": torch.tensor([False, True, False]),
        "n_step": torch.ones(3),
        "weights": torch.ones(3),
    }
    fwd_out = {
        rl.QF_PREDS: torch.zeros(3, 3),  # Q(s, a) = 0, so |TD error| = |target|
        rl.QF_NEXT_PREDS: torch.tensor([[1.0, 3.0, 2.0], [0.0, 0.0, 9.0], [5.0, 4.0, 3.0]]),
        rl.QF_TARGET_NEXT_PREDS: torch.tensor([[10.0, 20.0, 30.0], [7.0, 7.0, 7.0], [2.0, 8.0, 9.0]]),
    }
    learner = SimpleNamespace(config=cfg, metrics=_Metrics())
    rl.DQNTorchLearner.compute_loss_for_module(
        learner, module_id="m", config=cfg, batch=batch, fwd_out=fwd_out
    )
    td_error = learner.metrics.values[("m", rl.TD_ERROR_KEY)]
    torch.testing.assert_close(td_error, torch.tensor([1.0 + 0.9 * 20.0, 0.5, abs(-1.0 + 0.9 * 2.0)]))
