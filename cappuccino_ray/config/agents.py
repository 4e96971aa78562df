"""Agent and trial configuration: PPO and double-DQN hyperparameters, one CPCV trial's settings.

Each hyperparameter is declared once, as a field of :class:`PPOParams` or
:class:`DDQNParams`: its name, type, default, docstring, allowed range and, in
the field's metadata (:func:`hp`), the RLlib ``.training()`` keyword it feeds.
Everything else is derived from that declaration: the builders' keyword
arguments (:func:`rllib_training`), the check of a phase's search space and
``fixed:`` keys when its file loads (:func:`check_space`), and the validation
of each trial's sampled values (:func:`parse_trial_config`).

A Tune trial receives one flat dict: Optuna's sampled values, the run's fixed
keys and ``env`` (the phase's :class:`~cappuccino_ray.config.env.EnvSettings`,
serialised once). :func:`parse_trial_config` splits it into a
:class:`TrialConfig` (run keys) and the algorithm's params.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal

from cappuccino_ray.config._loader import bounds, check_cpcv_groups, check_field, from_mapping, suggest
from cappuccino_ray.config.env import EnvSettings
from cappuccino_ray.errors import ConfigError
from cappuccino_ray.intervals import INTERVALS

__all__ = [
    "PARAMS",
    "RUN_KEYS",
    "DDQNParams",
    "PPOParams",
    "TrialConfig",
    "check_space",
    "drawable",
    "hp",
    "parse_trial_config",
    "rllib_training",
]


def hp(*, rllib: str | None = None, **limits: Any) -> dict[str, Any]:
    """Metadata of a hyperparameter field: its bounds and the RLlib ``.training()`` keyword it sets.

    Args:
        rllib: RLlib's keyword for the value (``None``: the project's builder uses it itself).
        **limits: :func:`~cappuccino_ray.config._loader.bounds` keywords (``ge``, ``le``, ...).
    """
    return {**bounds(**limits), "rllib": rllib}


def _check_ordered(params: Any) -> None:
    for a, b in params.ORDERED:
        va, vb = getattr(params, a), getattr(params, b)
        if va > vb:
            raise ConfigError(f"{a} ({va}) exceeds {b} ({vb}); lower {a} or raise {b}")


@dataclass(frozen=True)
class PPOParams:
    """PPO hyperparameters (RLlib's PPO on the new API stack, the project's actor-critic module)."""

    #: Pairs ``(a, b)`` that must hold ``a <= b`` for every value the search can draw.
    ORDERED: ClassVar[tuple[tuple[str, str], ...]] = (("minibatch_size", "train_batch_size"),)

    lr: float = field(default=3e-4, metadata=hp(rllib="lr", gt=0.0, lt=1.0))
    """Adam learning rate."""
    train_batch_size: int = field(default=4096, metadata=hp(rllib="train_batch_size_per_learner", ge=16))
    """Env steps collected per training iteration."""
    minibatch_size: int = field(default=1024, metadata=hp(rllib="minibatch_size", ge=8))
    """SGD minibatch size (at most ``train_batch_size``)."""
    num_epochs: int = field(default=2, metadata=hp(rllib="num_epochs", ge=1, le=100))
    """Passes over each training batch."""
    gamma: float = field(default=0.99, metadata=hp(rllib="gamma", gt=0.0, le=1.0))
    """Discount factor."""
    lambda_: float = field(default=0.95, metadata=hp(rllib="lambda_", ge=0.0, le=1.0))
    """GAE lambda."""
    clip_param: float = field(default=0.2, metadata=hp(rllib="clip_param", gt=0.0, le=1.0))
    """PPO ratio clip."""
    entropy_coeff: float = field(default=0.0, metadata=hp(rllib="entropy_coeff", ge=0.0, le=1.0))
    """Entropy bonus coefficient."""
    vf_loss_coeff: float = field(default=0.5, metadata=hp(rllib="vf_loss_coeff", ge=0.0, le=10.0))
    """Value-loss coefficient."""
    vf_clip_param: float = field(default=10.0, metadata=hp(rllib="vf_clip_param", gt=0.0))
    """Value-loss clip (in reward units)."""
    kl_coeff: float = field(default=0.0, metadata=hp(rllib="kl_coeff", ge=0.0))
    """Initial KL-penalty coefficient (0 turns the KL loss off, as in CleanRL's PPO)."""
    grad_clip: float = field(default=0.5, metadata=hp(rllib="grad_clip", gt=0.0))
    """Global gradient-norm clip."""
    hidden_size: int = field(default=64, metadata=hp(ge=4, le=4096))
    """Width of the actor's and the critic's hidden layers."""
    n_layers: int = field(default=2, metadata=hp(ge=1, le=6))
    """Hidden layers of the actor and of the critic."""
    lookback: int = field(default=1, metadata=hp(ge=1, le=64))
    """Bars of features per asset in the observation (an env setting searched with the agent)."""
    num_envs: int = field(default=64, metadata=hp(ge=1, le=1024))
    """Env copies stepped together by the (single, in-process) env runner."""

    def validate(self) -> None:
        """A minibatch cannot exceed the batch it is cut from (:attr:`ORDERED`)."""
        _check_ordered(self)


@dataclass(frozen=True)
class DDQNParams:
    """Double-DQN hyperparameters (RLlib's DQN learner with ``double_q``, the project's Q-module)."""

    #: Pairs ``(a, b)`` that must hold ``a <= b`` for every value the search can draw.
    ORDERED: ClassVar[tuple[tuple[str, str], ...]] = (("epsilon_final", "epsilon_initial"),)

    lr: float = field(default=5e-4, metadata=hp(rllib="lr", gt=0.0, lt=1.0))
    """Adam learning rate."""
    train_batch_size: int = field(default=256, metadata=hp(rllib="train_batch_size_per_learner", ge=8))
    """Transitions per gradient step, sampled from the replay buffer."""
    gamma: float = field(default=0.99, metadata=hp(rllib="gamma", gt=0.0, le=1.0))
    """Discount factor."""
    hidden_size: int = field(default=128, metadata=hp(ge=4, le=4096))
    """Width of the Q-network's hidden layers."""
    n_layers: int = field(default=2, metadata=hp(ge=1, le=6))
    """Hidden layers of the Q-network."""
    lookback: int = field(default=1, metadata=hp(ge=1, le=64))
    """Bars of features per asset in the observation."""
    buffer_size: int = field(default=100_000, metadata=hp(ge=100))
    """Replay buffer capacity in transitions."""
    learning_starts: int = field(
        default=1000, metadata=hp(rllib="num_steps_sampled_before_learning_starts", ge=0)
    )
    """Transitions collected before the first gradient step."""
    target_update_freq: int = field(default=1000, metadata=hp(rllib="target_network_update_freq", ge=1))
    """Env steps between target-network syncs."""
    tau: float = field(default=1.0, metadata=hp(rllib="tau", gt=0.0, le=1.0))
    """Target sync weight (1.0 copies the online network; below 1 is Polyak averaging)."""
    epsilon_initial: float = field(default=1.0, metadata=hp(ge=0.0, le=1.0))
    """Exploration rate at the start of each split's training."""
    epsilon_final: float = field(default=0.05, metadata=hp(ge=0.0, le=1.0))
    """Exploration rate after the decay."""
    epsilon_timesteps: int | None = field(default=None, metadata=hp(ge=1))
    """Env steps of the linear decay; ``None`` uses ``epsilon_fraction * train_steps``."""
    epsilon_fraction: float = field(default=0.3, metadata=hp(gt=0.0, le=1.0))
    """Fraction of a split's ``train_steps`` over which epsilon decays (if no ``epsilon_timesteps``)."""
    n_step: int = field(default=1, metadata=hp(rllib="n_step", ge=1, le=20))
    """N-step return length."""
    dueling: bool = field(default=False, metadata=hp(rllib="dueling"))
    """Dueling heads (``Q = V + A - mean A``)."""
    grad_clip: float = field(default=10.0, metadata=hp(rllib="grad_clip", gt=0.0))
    """Global gradient-norm clip."""
    training_intensity: float = field(default=1.0, metadata=hp(rllib="training_intensity", gt=0.0))
    """Replayed transitions per sampled transition (RLlib's ``training_intensity``)."""
    rollout_fragment_length: int = field(default=16, metadata=hp(ge=1))
    """Steps per env copy sampled between learner updates."""
    num_envs: int = field(default=32, metadata=hp(ge=1, le=1024))
    """Env copies stepped together by the env runner."""
    flat_replay: bool = True
    """Replay through the project's flat numpy buffer (``False``: RLlib's episode replay, ~3x slower)."""

    def validate(self) -> None:
        """Epsilon decays downwards (:attr:`ORDERED`)."""
        _check_ordered(self)

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
    env: EnvSettings = field(default_factory=EnvSettings)
    """How the env trades (holding limit, fees, observation): the phase's settings, with the
    combination's ``max_hold_days``; ``lookback`` and ``action_mode`` are set from the algorithm's
    params by :meth:`env_settings`."""
    phase: int = field(default=1, metadata=bounds(choices=(1, 2)))
    """The search phase the trial belongs to (a label for reports; the env settings decide mechanics)."""
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
    """Bars dropped after each test group; ``None``: the features' warm-up plus ``lookback``, at least
    1 % of the bars (:func:`cappuccino_ray.search.splits.default_embargo`)."""
    max_lookback: int | None = field(default=None, metadata=bounds(ge=1))
    """The largest lookback any trial of the run can draw: the CPCV partition starts after it, so
    every trial of both phases cuts the same groups (``None``: this trial's own lookback)."""
    objective: str = "sharpe_excess"
    """Name of the objective in ``cappuccino_ray.validation.OBJECTIVES``."""
    warm_start_checkpoint: str | None = None
    """PPO only: a checkpoint folder whose weights start every split (shapes mapped, new inputs at 0)."""
    num_cpus: float = field(default=1.0, metadata=bounds(gt=0.0))
    """CPUs of the trial: torch threads = ``max(1, int(num_cpus))``."""
    fast_runner: bool = True
    """Sample with the project's vector env runner (``False``: RLlib's own runner, ~3x slower)."""
    num_gpus: float = field(default=0.0, metadata=bounds(ge=0.0))
    """GPUs (fractions allowed) for the learner."""
    synthetic_bars: int = field(default=4000, metadata=bounds(ge=500))
    """Bars of the synthetic market generated when the trial gets no markets."""
    planted_signal: float = field(default=0.0, metadata=bounds(ge=0.0))
    """Learnable pattern of that synthetic market (0 = none)."""
    trial_index: int | None = None
    """Index the searcher gave the trial (recorded, not used)."""
    curve_every_s: float = field(default=0.0, metadata=bounds(ge=0.0))
    """Inside Tune, report a learning-curve row at most this often while a split trains
    (0: only the per-split rows); the job's ``tracking.curve_every_s`` sets it."""

    def validate(self) -> None:
        """At least one group must stay for training; the objective must be a known one."""
        check_cpcv_groups(self.n_groups, self.n_test_groups)
        from cappuccino_ray.validation import get_objective  # late: keeps config free of numpy/scipy

        get_objective(self.objective)  # a ConfigError naming the choices for an unknown name
        if self.warm_start_checkpoint and self.algo != "ppo":
            raise ConfigError("warm_start_checkpoint is for PPO only; drop it for ddqn trials")

    def env_settings(self, params: PPOParams | DDQNParams) -> EnvSettings:
        """The settings every env of this trial runs with.

        ``env`` with the params' lookback and the algorithm's action space: the one
        place a trial's settings are completed.
        """
        action_mode: Literal["continuous", "discrete"] = "continuous" if self.algo == "ppo" else "discrete"
        return dataclasses.replace(self.env, lookback=params.lookback, action_mode=action_mode)


#: Keys of a flat trial config that are run settings (:class:`TrialConfig`'s fields); every
#: other key is a hyperparameter of the algorithm.
RUN_KEYS: frozenset[str] = frozenset(f.name for f in fields(TrialConfig))

#: Algorithm name -> its hyperparameter declarations.
PARAMS: dict[str, type[PPOParams] | type[DDQNParams]] = {"ppo": PPOParams, "ddqn": DDQNParams}


def rllib_training(params: PPOParams | DDQNParams) -> dict[str, Any]:
    """RLlib ``.training()`` keyword arguments of every field declared with an ``rllib`` key."""
    return {f.metadata["rllib"]: getattr(params, f.name) for f in fields(params) if f.metadata.get("rllib")}


def drawable(spec: Any, fixed: Mapping[str, Any], name: str, default: Any) -> list[Any]:
    """The values a search can give ``name``: range ends or choices, the fixed value, or the default."""
    if spec is not None:
        if spec.type == "categorical":
            return list(spec.choices or ())
        ends = [spec.low, spec.high]
        return [int(v) for v in ends] if spec.type == "int" else ends
    return [fixed[name] if name in fixed else default]


def check_space(
    algo: str,
    space: Mapping[str, Any],
    fixed: Mapping[str, Any],
    *,
    space_key: str = "space",
    fixed_key: str = "fixed",
) -> None:
    """Check a phase's searched and fixed hyperparameters against ``algo``'s declarations, at load.

    Every name must be a declared hyperparameter of the algorithm (with a "did you
    mean" hint); every fixed value, categorical choice and range end must have the
    declared type and lie in the declared range; and every ordered pair of the
    declarations (a minibatch within its batch) must hold for all values the search
    can draw.

    Args:
        algo: ``ppo`` or ``ddqn``.
        space: Name -> :class:`~cappuccino_ray.config.search.ParamSpec`.
        fixed: Name -> value held constant.
        space_key: The space's dotted key in that file (``space``, ``spaces.ppo``).
        fixed_key: The fixed section's dotted key (``fixed``, ``fixed.ppo``).

    Raises:
        ConfigError: Naming the key and the fix (the config loader adds the file).
    """
    cls = PARAMS[algo]
    declared = {f.name: f for f in fields(cls)}
    for key, names in ((space_key, space), (fixed_key, fixed)):
        for name in names:
            if name not in declared:
                raise ConfigError(
                    f"{key}.{name} is not a {algo} hyperparameter{suggest(name, list(declared))}"
                )
    for name, value in fixed.items():
        check_field(cls, name, value, source="", key=f"{fixed_key}.{name}")
    for name, spec in space.items():
        key = f"{space_key}.{name}"
        wants_int = str(declared[name].type).startswith("int")
        if spec.type != "categorical" and wants_int != (spec.type == "int"):
            want = "int" if wants_int else "float"
            raise ConfigError(
                f"{key} is a {spec.type} range but {name} is declared {want}; write type: {want}"
            )
        for value in drawable(spec, fixed, name, None):
            check_field(cls, name, value, source="", key=f"{space_key}.{name}")
    for a, b in cls.ORDERED:
        high_a = max(drawable(space.get(a), fixed, a, declared[a].default))
        low_b = min(drawable(space.get(b), fixed, b, declared[b].default))
        if high_a > low_b:
            raise ConfigError(
                f"{a} can be drawn as {high_a}, above {b} {low_b} ({space_key}/{fixed_key}); "
                f"every {a} must be <= every {b}: narrow one of the two"
            )


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
    params = from_mapping(PARAMS[trial.algo], hyper, source=f"{source} ({trial.algo} hyperparameters)")
    return trial, params
