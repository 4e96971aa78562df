"""Search configuration: the two phases' grids, search spaces, budgets and Tune settings.

Ranges live in ``configs/phase1.yaml`` and ``configs/phase2.yaml``; ``configs/mini.yaml``
holds overrides (per phase) for the small end-to-end run. Every space entry is a
:class:`ParamSpec`; the searcher turns them into Optuna distributions. Each
phase's ``env:`` section overrides ``configs/env.yaml``, and the merged
:class:`~cappuccino_ray.config.env.EnvSettings` is the phase's ``env``. Spaces and
``fixed:`` keys are checked against the algorithm's declared hyperparameters
(:func:`~cappuccino_ray.config.agents.check_space`) when the file loads.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cappuccino_ray.config._loader import bounds, check_cpcv_groups, from_mapping, load_yaml, to_dict
from cappuccino_ray.config.agents import check_space, drawable
from cappuccino_ray.config.env import EnvSettings, deep_merge, load_env_settings
from cappuccino_ray.config.tracking import TrackingConfig
from cappuccino_ray.errors import ConfigError
from cappuccino_ray.intervals import INTERVALS

__all__ = [
    "NETWORK_KEYS",
    "PBO_PARTITIONS",
    "AshaConfig",
    "ParamSpec",
    "Phase1Config",
    "Phase2Config",
    "ResourcesConfig",
    "RunConfig",
    "TrialBudget",
    "load_search_configs",
    "with_resources",
]

#: The PPO network's shape keys: what ``phase2.keep_phase1_network`` takes from phase 1's winner.
NETWORK_KEYS = ("hidden_size", "n_layers")

Algo = Literal["ppo", "ddqn"]
#: Where the deflated Sharpe's null variance comes from (``search.paths.deflated_sharpe``).
DsrVariance = Literal["sampling", "trials"]

#: CSCV partitions of a phase's probability of backtest overfitting, unless its file says otherwise.
PBO_PARTITIONS = 8


@dataclass(frozen=True)
class ParamSpec:
    """One searched hyperparameter: a float or int range, or a list of choices."""

    type: Literal["float", "int", "categorical"]
    """``float`` and ``int`` take ``low``/``high`` (and ``log``); ``categorical`` takes ``choices``."""
    low: float | None = None
    """Lower bound (inclusive)."""
    high: float | None = None
    """Upper bound (inclusive)."""
    log: bool = False
    """Sample on a log scale (needs ``low > 0``)."""
    choices: tuple[Any, ...] | None = None
    """The values of a categorical parameter."""

    def validate(self) -> None:
        """Consistency rules: a range for numbers, choices for categoricals."""
        if self.type == "categorical":
            if not self.choices:
                raise ConfigError("a categorical parameter needs a non-empty 'choices' list")
            return
        if self.low is None or self.high is None:
            raise ConfigError(f"a {self.type} parameter needs 'low' and 'high'")
        if self.low >= self.high:
            raise ConfigError(f"low ({self.low}) must be below high ({self.high}); swap or widen them")
        if self.log and self.low <= 0:
            raise ConfigError(f"a log-scale parameter needs low > 0, got {self.low}")
        if self.type == "int" and (self.low != int(self.low) or self.high != int(self.high)):
            raise ConfigError("an int parameter needs whole-number low and high")


@dataclass(frozen=True)
class TrialBudget:
    """What one trial does: training length and the CPCV splits it is scored on."""

    train_steps: int = field(default=20_000, metadata=bounds(ge=1))
    """Environment steps of training per CPCV split."""
    n_groups: int = field(default=6, metadata=bounds(ge=2))
    """CPCV groups the search data is cut into."""
    n_test_groups: int = field(default=2, metadata=bounds(ge=1))
    """Groups held out for testing in each split."""
    max_splits: int = field(default=6, metadata=bounds(ge=1))
    """Most CPCV splits a trial is scored on (ASHA's ``max_t``): a whole number of backtest paths
    (``max_splits * n_test_groups`` a multiple of ``n_groups``), or all ``C(n_groups, n_test_groups)``."""

    def validate(self) -> None:
        """At least one training group; ``max_splits`` completes whole backtest paths."""
        check_cpcv_groups(self.n_groups, self.n_test_groups)
        n, k, m = self.n_groups, self.n_test_groups, self.max_splits
        total = math.comb(n, k)
        if m < total and (m * k) % n:
            per_path = n // math.gcd(n, k)
            whole = [p for p in range(per_path, total, per_path)] + [total]
            raise ConfigError(
                f"max_splits ({m}) is not a whole number of backtest paths for {n} groups, {k} tested "
                f"per split; use one of {', '.join(map(str, whole[:6]))}"
            )


@dataclass(frozen=True)
class ResourcesConfig:
    """Resources per trial and how many trials run at once."""

    cpus_per_trial: float = field(default=1.0, metadata=bounds(gt=0))
    """CPUs Tune reserves for one trial."""
    gpus_per_trial: float = field(default=0.0, metadata=bounds(ge=0))
    """GPUs (fractions allowed) Tune reserves for one trial."""
    max_concurrent: int = field(default=0, metadata=bounds(ge=0))
    """Most trials at once (``ConcurrencyLimiter``); 0 = as many as the resources allow."""

    def validate(self) -> None:
        """Ray shares a GPU only in fractions of one: above 1, GPUs come whole."""
        g = self.gpus_per_trial
        if g > 1 and g != int(g):
            raise ConfigError(
                f"gpus_per_trial is {g}; use a fraction up to 1 (e.g. 0.25: four trials share a GPU) "
                "or a whole number"
            )


@dataclass(frozen=True)
class AshaConfig:
    """Tune's ASHA scheduler, fed by the trainable's per-split reports."""

    enabled: bool = True
    """Stop weak trials early; off runs every trial to ``max_splits``."""
    grace_period: int = field(default=1, metadata=bounds(ge=1))
    """Splits every trial gets before it can be stopped."""
    reduction_factor: float = field(default=3.0, metadata=bounds(gt=1))
    """Keep the best ``1/reduction_factor`` at each rung."""


@dataclass(frozen=True)
class Phase1Config:
    """Phase 1: the holding-time x interval grid, each cell with its own Optuna study."""

    holding_days: tuple[int, ...] = (3, 5, 7, 10, 14)
    """Most days a position may be held (forced sale after)."""
    intervals: tuple[str, ...] = field(
        default=("5m", "15m", "30m", "1h", "4h"), metadata=bounds(choices=tuple(INTERVALS))
    )
    """Candle intervals; each combination trains on data resampled to its interval."""
    trials_per_combo: int = field(default=20, metadata=bounds(ge=1))
    """Trials each combination gets (exactly)."""
    algo: Algo = "ppo"
    """Algorithm used in phase 1."""
    pbo_partitions: int = field(default=PBO_PARTITIONS, metadata=bounds(ge=2))
    """Partitions of the CSCV used for phase 1's probability of backtest overfitting (even)."""
    seed: int = field(default=0, metadata=bounds(ge=0))
    """Base seed of the samplers and trials."""
    env: EnvSettings = field(default_factory=EnvSettings)
    """``configs/env.yaml`` with this file's ``env:`` on top (each combination sets ``max_hold_days``)."""
    budget: TrialBudget = field(default_factory=TrialBudget)
    """Training length and CPCV splits of a trial."""
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)
    """Resources per trial and concurrency."""
    asha: AshaConfig = field(default_factory=AshaConfig)
    """Early stopping."""
    max_failures: int = field(default=2, metadata=bounds(ge=0))
    """Retries of a failed trial from its last checkpoint (e.g. a lost node)."""
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    """Learning-curve rows and optional MLflow tracking of this Tune job."""
    fixed: dict[str, Any] = field(default_factory=dict)
    """Hyperparameters held constant (not searched)."""
    space: dict[str, ParamSpec] = field(default_factory=dict)
    """The searched hyperparameters."""

    def validate(self) -> None:
        """Non-empty grid without duplicates; a non-empty space."""
        _check_unique("holding_days", self.holding_days)
        _check_unique("intervals", self.intervals)
        if self.pbo_partitions % 2:
            raise ConfigError(f"pbo_partitions must be even, got {self.pbo_partitions}")
        if any(d <= 0 for d in self.holding_days):
            raise ConfigError("holding_days must all be positive")
        if not self.space:
            raise ConfigError("space is empty; list the searched hyperparameters (see configs/phase1.yaml)")
        _check_overlap(self.fixed, self.space, "fixed", "space")
        check_space(self.algo, self.space, self.fixed)
        _check_grace(self.asha, self.budget)

    @property
    def max_lookback(self) -> int:
        """The largest lookback a phase-1 trial can draw."""
        return _max_lookback(self.space, self.fixed)

    @property
    def n_trials(self) -> int:
        """Total trials: combinations x trials per combination."""
        return len(self.holding_days) * len(self.intervals) * self.trials_per_combo


@dataclass(frozen=True)
class Phase2Config:
    """Phase 2: PPO against double-DQN on the phase-1 winner's time frame."""

    algos: tuple[Algo, ...] = ("ppo", "ddqn")
    """Algorithms that compete; each gets its own Optuna study and ``trials_per_algo`` trials."""
    trials_per_algo: int = field(default=200, metadata=bounds(ge=1))
    """Trials per algorithm (exactly)."""
    seed: int = field(default=1, metadata=bounds(ge=0))
    """Base seed of the samplers and trials."""
    warm_start: bool = True
    """Start PPO trials from phase 1's best checkpoint."""
    keep_phase1_network: bool = True
    """With ``warm_start``: PPO trials take phase 1's winning width and depth instead of searching
    them, so every one starts from its weights (a shape under ``fixed.ppo`` still wins)."""
    seed_with_phase1_best: bool = True
    """Evaluate phase 1's best hyperparameters first (``points_to_evaluate``)."""
    pbo_partitions: int = field(default=PBO_PARTITIONS, metadata=bounds(ge=2))
    """Partitions of the CSCV used for the probability of backtest overfitting (even)."""
    dsr_variance: DsrVariance = "sampling"
    """The deflated Sharpe's null variance: ``sampling`` (a zero-skill Sharpe's over the winner's
    bars) or ``trials`` (the competing trials' Sharpes); both are reported."""
    env: EnvSettings = field(default_factory=EnvSettings)
    """``configs/env.yaml`` with this file's ``env:`` on top (``max_hold_days`` comes from phase 1)."""
    budget: TrialBudget = field(default_factory=TrialBudget)
    """Training length and CPCV splits of a trial."""
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)
    """Resources per trial and concurrency."""
    asha: AshaConfig = field(default_factory=AshaConfig)
    """Early stopping."""
    max_failures: int = field(default=2, metadata=bounds(ge=0))
    """Retries of a failed trial from its last checkpoint."""
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    """Learning-curve rows and optional MLflow tracking of this Tune job."""
    fixed: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per algorithm, hyperparameters held constant."""
    spaces: dict[str, dict[str, ParamSpec]] = field(default_factory=dict)
    """Per algorithm (``ppo``, ``ddqn``), the searched hyperparameters."""

    def validate(self) -> None:
        """Each algorithm has a space; partitions even."""
        _check_unique("algos", self.algos)
        for algo in self.algos:
            if not self.spaces.get(algo):
                raise ConfigError(f"spaces.{algo} is missing or empty; add its search space")
            _check_overlap(self.fixed.get(algo, {}), self.spaces[algo], f"fixed.{algo}", f"spaces.{algo}")
        for key in (*self.spaces, *self.fixed):
            if key not in ("ppo", "ddqn"):
                raise ConfigError(f"unknown algorithm {key!r} in spaces/fixed; use ppo or ddqn")
        for algo in self.algos:
            fixed = self.fixed.get(algo, {})
            if not isinstance(fixed, Mapping):
                raise ConfigError(f"fixed.{algo} must be a mapping of hyperparameter: value")
            check_space(algo, self.spaces[algo], fixed, space_key=f"spaces.{algo}", fixed_key=f"fixed.{algo}")
        _check_grace(self.asha, self.budget)
        if self.pbo_partitions % 2:
            raise ConfigError(f"pbo_partitions must be even, got {self.pbo_partitions}")
        ppo = self.spaces.get("ppo", {})
        if "ppo" in self.algos and self.warm_start and self.keep_phase1_network and ppo:
            if not set(ppo) - set(NETWORK_KEYS):
                raise ConfigError(
                    "spaces.ppo searches only hidden_size and n_layers, which keep_phase1_network takes "
                    "from phase 1; search another PPO hyperparameter or set keep_phase1_network: false"
                )

    @property
    def max_lookback(self) -> int:
        """The largest lookback a phase-2 trial of any algorithm can draw."""
        return max(_max_lookback(self.spaces.get(a, {}), self.fixed.get(a, {})) for a in self.algos)

    @property
    def n_trials(self) -> int:
        """Total trials: algorithms x trials per algorithm."""
        return len(self.algos) * self.trials_per_algo


@dataclass(frozen=True)
class RunConfig:
    """How a search job runs: where results go, the hold-out share, Ray's address."""

    results_dir: str = "results"
    """Root folder of every run (Tune's ``storage_path``, made absolute)."""
    holdout_fraction: float = field(default=0.15, metadata=bounds(gt=0.0, lt=0.5))
    """Share of the latest bars kept out of the search for the final evaluation."""
    address: str | None = None
    """Ray cluster address; ``None`` uses ``RAY_ADDRESS`` or starts Ray locally."""
    verbose: bool = True
    """Print the live progress table."""
    trial_logs: bool | None = None
    """Forward the trials' stdout/stderr to the driver (Ray's ``log_to_driver``); ``None``: on when
    connecting to a cluster (``ray submit``/``ray job logs`` show them), off for a local Ray (quiet)."""
    optuna_storage: str | None = None
    """SQLAlchemy URL of the Optuna studies (``optuna-dashboard`` opens it); ``None``: a SQLite file
    ``optuna.db`` in a local run folder, in memory (the searcher's pickle only) for a remote one."""


def _max_lookback(space: Mapping[str, ParamSpec], fixed: Mapping[str, Any]) -> int:
    return int(max(drawable(space.get("lookback"), fixed, "lookback", 1)))


def _check_grace(asha: AshaConfig, budget: TrialBudget) -> None:
    if asha.enabled and asha.grace_period > budget.max_splits:
        raise ConfigError(
            f"asha.grace_period ({asha.grace_period}) exceeds budget.max_splits ({budget.max_splits}); "
            "lower it (one whole path is a good grace period) or turn asha off"
        )


def _check_unique(name: str, values: tuple[Any, ...]) -> None:
    if not values:
        raise ConfigError(f"{name} is empty; list at least one value")
    if len(set(values)) != len(values):
        raise ConfigError(f"{name} has duplicates; list each value once")


def _check_overlap(fixed: Mapping[str, Any], space: Mapping[str, Any], a: str, b: str) -> None:
    both = sorted(set(fixed) & set(space))
    if both:
        raise ConfigError(f"{', '.join(both)} appear in both {a} and {b}; keep each in one place")


#: Presets shipped in ``configs/``: an overlay file ``<name>.yaml`` with ``phase1:`` and ``phase2:`` sections.
PRESETS = ("mini", "small")


def load_search_configs(
    config_dir: str | Path = "configs", *, mini: bool = False, preset: str | None = None
) -> tuple[Phase1Config, Phase2Config]:
    """Load ``phase1.yaml`` and ``phase2.yaml`` from ``config_dir``, with ``mini.yaml`` on top if asked.

    ``env.yaml`` is read once; each phase's ``env:`` section is merged onto it and the
    result validated as that phase's :class:`~cappuccino_ray.config.env.EnvSettings`.

    Args:
        config_dir: Folder holding the YAML files.
        mini: Apply the ``phase1:`` and ``phase2:`` sections of ``mini.yaml`` as overrides
            (the same as ``preset="mini"``).
        preset: Apply ``<preset>.yaml``'s sections (``mini``: the smoke test; ``small``: enough
            trials and steps that PBO and the deflated Sharpe mean something).

    Returns:
        The validated phase configs.

    Raises:
        ConfigError: On a missing file or an invalid value (the message names file and key).
    """
    root = Path(config_dir)
    p1 = load_yaml(root / "phase1.yaml")
    p2 = load_yaml(root / "phase2.yaml")
    source1, source2 = str(root / "phase1.yaml"), str(root / "phase2.yaml")
    name = "mini" if mini else preset
    if name is not None:
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; use one of {', '.join(PRESETS)}")
        extra = load_yaml(root / f"{name}.yaml")
        unknown = set(extra) - {"phase1", "phase2"}
        if unknown:
            raise ConfigError(
                f"{root / f'{name}.yaml'}: unknown sections {sorted(unknown)}; use phase1, phase2"
            )
        p1 = deep_merge(p1, extra.get("phase1") or {})
        p2 = deep_merge(p2, extra.get("phase2") or {})
        source1 += f" + {name}.yaml"
        source2 += f" + {name}.yaml"
    env = load_yaml(root / "env.yaml")  # once; each phase's env: section goes on top of it
    for doc, source in ((p1, source1), (p2, source2)):
        section = doc.get("env") or {}
        if not isinstance(section, Mapping):
            raise ConfigError(f"{source}: env must be a mapping of env.yaml keys to override")
        doc["env"] = load_env_settings(root, section, source=source, base=env)
    return (
        from_mapping(Phase1Config, p1, source=source1),
        from_mapping(Phase2Config, p2, source=source2),
    )


def with_resources(
    p1: Phase1Config, p2: Phase2Config, *, gpus_per_trial: float | None = None, source: str = "command line"
) -> tuple[Phase1Config, Phase2Config]:
    """Both phases with ``resources.gpus_per_trial`` replaced (``None`` keeps the files' values).

    Raises:
        ConfigError: If the value is out of range (negative, or a fraction above 1).
    """
    if gpus_per_trial is None:
        return p1, p2
    out = []
    for cfg in (p1, p2):
        data = {**to_dict(cfg.resources), "gpus_per_trial": gpus_per_trial}
        res = from_mapping(ResourcesConfig, data, source=source, prefix="resources.")
        out.append(dataclasses.replace(cfg, resources=res))
    return out[0], out[1]  # type: ignore[return-value]
