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
        "max_hold_days": 7,
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
    cfg = build_ppo_config(params, env="CryptoTrading-v0", env_config={}, seed=7, num_gpus=0.25)
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
    cfg = build_ddqn_config(params, env="CryptoTrading-v0", env_config={}, seed=1, train_steps=1000)
    assert cfg.double_q is True and cfg.dueling is False
    assert cfg.replay_buffer_config["capacity"] == 5000
    assert cfg.replay_buffer_config["type"] == "EpisodeReplayBuffer"
    assert cfg.target_network_update_freq == 300
    assert cfg.num_steps_sampled_before_learning_starts == 50
    assert cfg.rl_module_spec.module_class is DDQNModule
    assert cfg.rl_module_spec.model_config["epsilon_timesteps"] == 500
