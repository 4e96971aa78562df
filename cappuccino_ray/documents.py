"""The documents one phase hands to the next, typed: phase 1's winner, phase 2's comparison, a warm start.

Each is a frozen dataclass with :meth:`to_json` (what the run folder's JSON file
holds) and ``from_json`` (checked with the config loader: a missing key, a wrong
type or an unknown key is one line naming the file and the key). The pipeline,
phase 2, the hold-out and the report read attributes, not string keys.

No heavy import: the report, the scheduler and the CLI may use this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cappuccino_ray.config._loader import from_mapping, to_dict
from cappuccino_ray.errors import ConfigError
from cappuccino_ray.run_files import read_json

__all__ = ["DeflatedSharpe", "Pbo", "Phase1Winner", "Phase2Comparison", "WarmStart", "read_typed"]

D = TypeVar("D")


class _Document:
    """Shared JSON round trip of the documents."""

    def to_json(self) -> dict[str, Any]:
        """The document as plain JSON data (tuples as lists)."""
        return to_dict(self)

    @classmethod
    def from_json(cls: type[D], doc: Mapping[str, Any], *, source: str = "document") -> D:
        """Build and check the document from JSON data.

        Raises:
            ConfigError: On a missing or unknown key or a wrong type (the config loader's checks),
                naming ``source`` and the key.
        """
        if not isinstance(doc, Mapping):
            raise ConfigError(
                f"{source}: holds a JSON {type(doc).__name__}, not an object; pass the file the phase wrote"
            )
        return from_mapping(cls, doc, source=source)


@dataclass(frozen=True)
class WarmStart(_Document):
    """Where a PPO trial's first weights come from, and how to widen them to its observation."""

    checkpoint: str
    """The PPO checkpoint folder whose ``weights.pt`` is read."""
    n_assets: int
    """Assets in both observations."""
    old_features: int
    """Features per bar in the checkpoint's observation."""
    new_features: int
    """Features per bar in the trial's observation."""
    old_lookback: int
    """Lookback of the checkpoint."""
    lookback: int
    """Lookback of the trial."""


@dataclass(frozen=True)
class Pbo(_Document):
    """The probability of backtest overfitting of a phase (CSCV over its trials' test returns)."""

    value: float | None = None
    """PBO; ``None`` when it could not be computed (see ``reason``)."""
    n_trials: int = 0
    """Trials in the return matrix."""
    n_bars: int = 0
    """Calendar bars in the return matrix (rows)."""
    n_paths: int = 0
    """Complete backtest paths each trial's column averages."""
    repeated_bars: int = 0
    """Calendar bars that appear in more than one row (0 by construction)."""
    by_paths: tuple[dict[str, Any], ...] = ()
    """PBO at each number of complete paths over the trials that reached it (``n_paths``,
    ``n_trials``, ``n_bars``, ``value``): how early-stopped trials enter."""
    n_partitions: int | None = None
    """CSCV partitions."""
    prob_oos_loss: float | None = None
    """Share of CSCV combinations whose in-sample best lost out of sample."""
    logits: tuple[float, ...] = ()
    """The CSCV logits."""
    reason: str | None = None
    """Why ``value`` is ``None``."""


@dataclass(frozen=True)
class DeflatedSharpe(_Document):
    """The winner's deflated Sharpe ratio against the trials that competed for it."""

    value: float | None = None
    """DSR; ``None`` when it could not be computed (see ``reason``)."""
    trial_id: str = ""
    """The winner's trial id."""
    sharpe_per_bar: float | None = None
    """The winner's per-bar Sharpe ratio."""
    sharpe_variance: float | None = None
    """The null variance ``value`` used, on the winner's per-bar scale (see ``null_variance``)."""
    null_variance: str | None = None
    """Where ``sharpe_variance`` comes from: ``sampling`` or ``trials`` (phase 2's ``dsr_variance``)."""
    by_variance: dict[str, Any] = field(default_factory=dict)
    """Both estimates: ``{"sampling": {"value", "sharpe_variance"}, "trials": {...}}``."""
    n_trials: int | None = None
    """Trials deflated for: every trial of both phases that competed for the winner."""
    n_obs: int | None = None
    """Bars behind the winner's Sharpe ratio."""
    reason: str | None = None
    """Why ``value`` is ``None``."""


@dataclass(frozen=True)
class Phase1Winner(_Document):
    """``phase1_winner.json``: the best phase-1 trial, its time frame and the trial counts."""

    holding_days: float
    """The winner's holding limit in days (its env settings' ``max_hold_days``)."""
    interval: str
    """The winner's candle interval."""
    hyperparameters: dict[str, Any]
    """The winner's sampled and fixed hyperparameters."""
    algo: str = "ppo"
    """The phase-1 algorithm."""
    trial_id: str = ""
    """Tune's id of the winning trial."""
    objective: float | None = None
    """The winner's objective (mean over its scored splits)."""
    bot_sharpe: float | None = None
    """The winner's Sharpe on its last split's test groups."""
    bh_sharpe: float | None = None
    """Buy-and-hold's Sharpe on the same groups."""
    splits_done: int = 0
    """CPCV splits the winner was scored on."""
    config: dict[str, Any] = field(default_factory=dict)
    """The winner's whole trial config (its ``env`` included)."""
    checkpoint_path: str | None = None
    """The winner's last checkpoint folder."""
    trial_counts: dict[str, Any] = field(default_factory=dict)
    """Per combination: trials by status."""
    n_trials: int = 0
    """Trials the phase ran."""
    n_trials_planned: int | None = None
    """Trials the phase planned."""
    experiment_path: str = ""
    """The phase-1 Tune experiment folder."""
    written_at: str = ""
    """When the document was written (UTC, ISO 8601)."""
    cpcv: dict[str, Any] = field(default_factory=dict)
    """``n_groups``, ``n_test_groups``, ``n_splits_scored``, ``tests_per_group``."""
    pbo: Pbo = field(default_factory=Pbo)
    """The phase's probability of backtest overfitting over its trials' backtest paths."""
    trial_sharpes: tuple[float, ...] = ()
    """Annualised Sharpe ratio of every phase-1 trial with a backtest path (for the deflated Sharpe)."""
    phase: int = 1
    """Always 1."""


@dataclass(frozen=True)
class Phase2Comparison(_Document):
    """``phase2_comparison.json``: PPO against the double-DQN, the winner, PBO and deflated Sharpe."""

    winner_algorithm: str
    """The algorithm of the best phase-2 trial."""
    holding_days: float
    """Phase 1's holding limit (days)."""
    interval: str
    """Phase 1's interval."""
    checkpoint_path: str | None
    """The winner's last checkpoint folder."""
    objective: float | None
    """The winner's objective."""
    bot_sharpe: float | None = None
    """The winner's Sharpe on its last split's test groups."""
    bh_sharpe: float | None = None
    """Buy-and-hold's Sharpe on the same groups."""
    winner: dict[str, Any] = field(default_factory=dict)
    """The winner's summary row."""
    config: dict[str, Any] = field(default_factory=dict)
    """The winner's whole trial config."""
    algorithms: dict[str, Any] = field(default_factory=dict)
    """Per algorithm: trials and best row."""
    trial_counts: dict[str, Any] = field(default_factory=dict)
    """Per algorithm: trials by status."""
    n_trials: int = 0
    """Trials the phase ran."""
    n_trials_planned: int | None = None
    """Trials the phase planned."""
    pbo: Pbo = field(default_factory=Pbo)
    """The phase's probability of backtest overfitting."""
    deflated_sharpe: DeflatedSharpe = field(default_factory=DeflatedSharpe)
    """The winner's deflated Sharpe ratio."""
    phase1_checkpoint: str | None = None
    """Phase 1's winning checkpoint (the PPO warm start)."""
    cpcv: dict[str, Any] = field(default_factory=dict)
    """``n_groups``, ``n_test_groups``, ``n_splits_scored``, ``tests_per_group``."""
    warm_start: dict[str, Any] = field(default_factory=dict)
    """PPO trials warm-started on their last split, and the reasons of those that were not."""
    experiment_path: str = ""
    """The phase-2 Tune experiment folder."""
    written_at: str = ""
    """When the document was written (UTC, ISO 8601)."""
    phase: int = 2
    """Always 2."""


def read_typed(cls: type[D], path: str | Path) -> D:
    """Read a document file into ``cls`` (a class of this module).

    Raises:
        ConfigError: If the file is absent or a key is missing, unknown or of the wrong type.
        DataError: If the file is not valid JSON.
    """
    doc = read_json(path)
    if doc is None:
        raise ConfigError(f"{path}: no such file; expected a {cls.__name__} document")
    return cls.from_json(doc, source=str(path))  # type: ignore[attr-defined]
