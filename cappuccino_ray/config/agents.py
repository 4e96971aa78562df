"""Agent and trial configuration: PPO and double-DQN hyperparameters, one CPCV trial's settings.

A Tune trial receives one flat dict (Optuna's sampled values plus the run's
fixed keys). :func:`parse_trial_config` splits it into a :class:`TrialConfig`
(run keys) and the algorithm's :class:`PPOParams` or :class:`DDQNParams`
(hyperparameters), checking every key, type and range with the project's
loader: an unknown key or an out-of-range value is a :class:`ConfigError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from cappuccino_ray.config._loader import bounds, check_cpcv_groups, from_mapping
from cappuccino_ray.errors import ConfigError
from cappuccino_ray.intervals import INTERVALS

__all__ = ["RUN_KEYS", "DDQNParams", "PPOParams", "TrialConfig", "parse_trial_config"]


@dataclass(frozen=True)
class PPOParams:
    """PPO hyperparameters (RLlib's PPO on the new API stack, the project's actor-critic module)."""

    lr: float = field(default=3e-4, metadata=bounds(gt=0.0, lt=1.0))
    """Adam learning rate."""
    train_batch_size: int = field(default=4096, metadata=bounds(ge=16))
    """Env steps collected per training iteration."""
    minibatch_size: int = field(default=1024, metadata=bounds(ge=8))
    """SGD minibatch size (at most ``train_batch_size``)."""
    num_epochs: int = field(default=2, metadata=bounds(ge=1, le=100))
    """Passes over each training batch."""
    gamma: float = field(default=0.99, metadata=bounds(gt=0.0, le=1.0))
    """Discount factor."""
    lambda_: float = field(default=0.95, metadata=bounds(ge=0.0, le=1.0))
    """GAE lambda."""
    clip_param: float = field(default=0.2, metadata=bounds(gt=0.0, le=1.0))
    """PPO ratio clip."""
    entropy_coeff: float = field(default=0.0, metadata=bounds(ge=0.0, le=1.0))
    """Entropy bonus coefficient."""
    vf_loss_coeff: float = field(default=0.5, metadata=bounds(ge=0.0, le=10.0))
    """Value-loss coefficient."""
    vf_clip_param: float = field(default=10.0, metadata=bounds(gt=0.0))
    """Value-loss clip (in reward units)."""
    kl_coeff: float = field(default=0.0, metadata=bounds(ge=0.0))
    """Initial KL-penalty coefficient (0 turns the KL loss off, as in CleanRL's PPO)."""
    grad_clip: float = field(default=0.5, metadata=bounds(gt=0.0))
    """Global gradient-norm clip."""
    hidden_size: int = field(default=64, metadata=bounds(ge=4, le=4096))
    """Width of the actor's and the critic's hidden layers."""
    n_layers: int = field(default=2, metadata=bounds(ge=1, le=6))
    """Hidden layers of the actor and of the critic."""
    lookback: int = field(default=1, metadata=bounds(ge=1, le=64))
    """Bars of features per asset in the observation (an env setting searched with the agent)."""
    num_envs: int = field(default=64, metadata=bounds(ge=1, le=1024))
    """Env copies stepped together by the (single, in-process) env runner."""

    def validate(self) -> None:
        """A minibatch cannot exceed the batch it is cut from."""
        if self.minibatch_size > self.train_batch_size:
            raise ConfigError(
                f"minibatch_size ({self.minibatch_size}) exceeds train_batch_size "
                f"({self.train_batch_size}); lower it or raise train_batch_size"
            )


@dataclass(frozen=True)
class DDQNParams:
    """Double-DQN hyperparameters (RLlib's DQN learner with ``double_q``, the project's Q-module)."""

    lr: float = field(default=5e-4, metadata=bounds(gt=0.0, lt=1.0))
    """Adam learning rate."""
    train_batch_size: int = field(default=256, metadata=bounds(ge=8))
    """Transitions per gradient step, sampled from the replay buffer."""
    gamma: float = field(default=0.99, metadata=bounds(gt=0.0, le=1.0))
    """Discount factor."""
    hidden_size: int = field(default=128, metadata=bounds(ge=4, le=4096))
    """Width of the Q-network's hidden layers."""
    n_layers: int = field(default=2, metadata=bounds(ge=1, le=6))
    """Hidden layers of the Q-network."""
    lookback: int = field(default=1, metadata=bounds(ge=1, le=64))
    """Bars of features per asset in the observation."""
    buffer_size: int = field(default=100_000, metadata=bounds(ge=100))
    """Replay buffer capacity in transitions."""
    learning_starts: int = field(default=1000, metadata=bounds(ge=0))
    """Transitions collected before the first gradient step."""
    target_update_freq: int = field(default=1000, metadata=bounds(ge=1))
    """Env steps between target-network syncs."""
    tau: float = field(default=1.0, metadata=bounds(gt=0.0, le=1.0))
    """Target sync weight (1.0 copies the online network; below 1 is Polyak averaging)."""
    epsilon_initial: float = field(default=1.0, metadata=bounds(ge=0.0, le=1.0))
    """Exploration rate at the start of each split's training."""
    epsilon_final: float = field(default=0.05, metadata=bounds(ge=0.0, le=1.0))
    """Exploration rate after the decay."""
    epsilon_timesteps: int | None = field(default=None, metadata=bounds(ge=1))
    """Env steps of the linear decay; ``None`` uses ``epsilon_fraction * train_steps``."""
    epsilon_fraction: float = field(default=0.3, metadata=bounds(gt=0.0, le=1.0))
    """Fraction of a split's ``train_steps`` over which epsilon decays (if no ``epsilon_timesteps``)."""
    n_step: int = field(default=1, metadata=bounds(ge=1, le=20))
    """N-step return length."""
    dueling: bool = False
    """Dueling heads (``Q = V + A - mean A``)."""
    grad_clip: float = field(default=10.0, metadata=bounds(gt=0.0))
    """Global gradient-norm clip."""
    training_intensity: float = field(default=1.0, metadata=bounds(gt=0.0))
    """Replayed transitions per sampled transition (RLlib's ``training_intensity``)."""
    rollout_fragment_length: int = field(default=16, metadata=bounds(ge=1))
    """Steps per env copy sampled between learner updates."""
    num_envs: int = field(default=32, metadata=bounds(ge=1, le=1024))
    """Env copies stepped together by the env runner."""
    flat_replay: bool = True
    """Replay through the project's flat numpy buffer (``False``: RLlib's episode replay, ~3x slower)."""

    def validate(self) -> None:
        """Epsilon decays downwards."""
        if self.epsilon_final > self.epsilon_initial:
            raise ConfigError(
                f"epsilon_final ({self.epsilon_final}) is above epsilon_initial "
                f"({self.epsilon_initial}); exploration must decay"
            )

    def epsilon_steps(self, train_steps: int) -> int:
        """Env steps of the epsilon decay for a split of ``train_steps`` steps."""
        if self.epsilon_timesteps is not None:
            return self.epsilon_timesteps
        return max(1, int(self.epsilon_fraction * train_steps))


@dataclass(frozen=True)
class TrialConfig:
    """The run keys of one CPCV trial (everything that is not a hyperparameter)."""

    algo: Literal["ppo", "ddqn"] = "ppo"
    """``ppo`` (continuous actions) or ``ddqn`` (discrete actions)."""
    interval: str = field(default="1h", metadata=bounds(choices=tuple(INTERVALS)))
    """Candle interval of the market the trial trains on."""
    max_hold_days: float = field(default=7.0, metadata=bounds(gt=0.0))
    """Holding deadline: a position older than this is sold."""
    phase: int = field(default=1, metadata=bounds(choices=(1, 2)))
    """1: flat fees, base features; 2: tiered fees and the rolling features."""
    seed: int = field(default=0, metadata=bounds(ge=0))
    """Seeds the env, torch, numpy and RLlib; same seed, same test actions on CPU."""
    train_steps: int = field(default=20_000, metadata=bounds(ge=1))
    """Env steps of training per CPCV split (each split trains a fresh agent)."""
    n_groups: int = field(default=6, metadata=bounds(ge=2))
    """CPCV groups."""
    n_test_groups: int = field(default=2, metadata=bounds(ge=1))
    """Test groups per split."""
    max_splits: int | None = field(default=None, metadata=bounds(ge=1))
    """Evaluate only the first N splits (``None``: all ``C(n_groups, n_test_groups)``)."""
    embargo_bars: int | None = field(default=None, metadata=bounds(ge=0))
    """Bars dropped after each test group; ``None``: 1 % of the bars, at least ``lookback``."""
    episode_bars: int | None = field(default=None, metadata=bounds(ge=8))
    """Steps of a training episode; ``None``: the env's default, capped by the shortest segment."""
    no_trade_band: float = field(default=0.02, metadata=bounds(ge=0.0, lt=1.0))
    """Env setting: weight changes smaller than this are not traded (stops fee churn on drift)."""
    fee_mode: Literal["static", "progressive"] = "progressive"
    """Phase-2 tier mode."""
    objective: str = "sharpe_excess"
    """Name of the objective in ``cappuccino_ray.validation.OBJECTIVES``."""
    warm_start_checkpoint: str | None = None
    """PPO only: a checkpoint folder whose weights start every split (shapes mapped, new inputs at 0)."""
    num_cpus: float = field(default=1.0, metadata=bounds(gt=0.0))
    """CPUs of the trial: torch threads = ``max(1, int(num_cpus))``."""
    num_gpus: float = field(default=0.0, metadata=bounds(ge=0.0))
    """GPUs (fractions allowed) for the learner."""
    synthetic_bars: int = field(default=4000, metadata=bounds(ge=500))
    """Bars of the synthetic market generated when the trial gets no markets."""
    planted_signal: float = field(default=0.0, metadata=bounds(ge=0.0))
    """Learnable pattern of that synthetic market (0 = none)."""
    trial_index: int | None = None
    """Index the searcher gave the trial (recorded, not used)."""

    def validate(self) -> None:
        """At least one group must stay for training; the objective must be a known one."""
        check_cpcv_groups(self.n_groups, self.n_test_groups)
        from cappuccino_ray.validation import get_objective  # late: keeps config free of numpy/scipy

        get_objective(self.objective)  # a ConfigError naming the choices for an unknown name
        if self.warm_start_checkpoint and self.algo != "ppo":
            raise ConfigError("warm_start_checkpoint is for PPO only; drop it for ddqn trials")


#: Keys of a flat trial config that are run settings (:class:`TrialConfig`'s fields); every
#: other key is a hyperparameter of the algorithm.
RUN_KEYS: frozenset[str] = frozenset(f.name for f in fields(TrialConfig))


def parse_trial_config(
    config: Mapping[str, Any], *, source: str = "trial config"
) -> tuple[TrialConfig, PPOParams | DDQNParams]:
    """Split and validate a flat trial config.

    Args:
        config: Run keys (:class:`TrialConfig`'s fields) and the algorithm's
            hyperparameters (:class:`PPOParams` or :class:`DDQNParams` fields).
        source: Where the config came from, for messages.

    Returns:
        The run settings and the hyperparameters.

    Raises:
        ConfigError: On an unknown key (with a "did you mean" hint), a wrong type or
            an out-of-range value.
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"{source}: a trial config must be a mapping, got {type(config).__name__}")
    run = {k: v for k, v in config.items() if k in RUN_KEYS}
    trial = from_mapping(TrialConfig, run, source=source)
    hyper = {k: v for k, v in config.items() if k not in RUN_KEYS}
    params_cls: type[PPOParams] | type[DDQNParams] = PPOParams if trial.algo == "ppo" else DDQNParams
    params = from_mapping(params_cls, hyper, source=f"{source} ({trial.algo} hyperparameters)")
    return trial, params
