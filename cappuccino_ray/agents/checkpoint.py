"""Agent checkpoints: weights, network shape, env settings and feature scaling in one folder.

Layout of a checkpoint folder (what a trial reports to Tune, what phase 2
warm-starts from and what a deployment loads)::

    agent.json        AgentSpec: algorithm, network shape, the whole env settings (fee tiers
                      inline), the feature spec, run info
    weights.pt        torch state dict (PPO: pi.*, vf.*; DDQN: q.*, target_q.*)
    test_returns.npz  per-bar returns of every evaluated test group (written by the trial)

A checkpoint is self-contained: it evaluates the same way anywhere, with no
``configs/`` beside it, and editing ``configs/env.yaml`` later does not change how
it re-evaluates. Format 2 (this version) carries the settings inline; format 1
stored a path to the fee table and is refused with a message naming the version.

Every file is written through :func:`cappuccino_ray.atomic.atomic_write` (temp file, fsync, ``os.replace``).
No Ray import: :mod:`cappuccino_ray.agents.inference` reads these files with torch only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from cappuccino_ray.atomic import atomic_write, write_json_atomic
from cappuccino_ray.config._loader import from_mapping
from cappuccino_ray.config.env import EnvSettings
from cappuccino_ray.errors import ConfigError, DeployError
from cappuccino_ray.run_files import TEST_RETURNS_FILE

__all__ = [
    "AGENT_FILE",
    "FORMAT_VERSION",
    "TEST_RETURNS_FILE",
    "WEIGHTS_FILE",
    "AgentSpec",
    "read_agent_spec",
    "read_weights",
    "save_agent",
    "save_test_returns",
]

AGENT_FILE = "agent.json"
WEIGHTS_FILE = "weights.pt"
#: Version of the checkpoint layout; bumped whenever ``agent.json`` changes meaning.
FORMAT_VERSION = 2


@dataclass(frozen=True)
class AgentSpec:
    """What is needed to rebuild and run an agent outside Ray."""

    algo: Literal["ppo", "ddqn"]
    """``ppo`` (Gaussian actor, continuous actions) or ``ddqn`` (Q-network, discrete actions)."""
    obs_dim: int
    """Observation length."""
    n_assets: int
    """Assets traded."""
    n_actions: int
    """PPO: action vector length (= ``n_assets``); DDQN: number of discrete actions."""
    hidden_size: int
    """Hidden width."""
    n_layers: int
    """Hidden layers."""
    dueling: bool = False
    """DDQN only: dueling heads."""
    interval: str = "1h"
    """Candle interval the agent was trained on."""
    symbols: tuple[str, ...] = ()
    """Traded symbols, in observation order."""
    env_settings: EnvSettings = field(default_factory=EnvSettings)
    """The whole settings the agent was trained with (fee tiers included)."""
    features: dict[str, Any] = field(default_factory=dict)
    """Feature names, windows, warm-up and clip: how observations are scaled."""
    run: dict[str, Any] = field(default_factory=dict)
    """Trial settings, hyperparameters, split and metrics (for reports and manifests)."""
    format: int = FORMAT_VERSION
    """Checkpoint format version."""


def save_agent(directory: str | Path, spec: AgentSpec, state_dict: Mapping[str, Any]) -> Path:
    """Write ``agent.json`` and ``weights.pt`` into ``directory`` (created if needed).

    Args:
        directory: The checkpoint folder.
        spec: The agent's description.
        state_dict: Parameter name -> tensor or array.

    Returns:
        The folder.
    """
    out = Path(directory)
    tensors = {k: torch.as_tensor(np.asarray(v)) for k, v in state_dict.items()}
    atomic_write(out / WEIGHTS_FILE, lambda tmp: torch.save(tensors, tmp))
    write_json_atomic(out / AGENT_FILE, asdict(spec), allow_nan=True)  # run metrics may hold NaN
    return out


def save_test_returns(directory: str | Path, returns: Mapping[str, np.ndarray]) -> Path:
    """Write per-bar test returns as ``test_returns.npz`` (one array per key)."""
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in returns.items()}

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]

    return atomic_write(Path(directory) / TEST_RETURNS_FILE, write)


def read_agent_spec(directory: str | Path) -> AgentSpec:
    """Read ``agent.json`` of a checkpoint folder.

    Raises:
        DeployError: If the folder has no readable agent description.
    """
    path = Path(directory) / AGENT_FILE
    if not path.is_file():
        raise DeployError(f"{path} not found: {directory} is not an agent checkpoint folder")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DeployError(f"{path} is unreadable ({exc}); re-create the checkpoint") from exc
    if not isinstance(raw, dict):
        raise DeployError(f"{path}: not an agent description (a JSON object); re-create the checkpoint")
    if raw.get("format") != FORMAT_VERSION:
        raise DeployError(
            f"{path}: checkpoint format {raw.get('format')!r}; this version reads format {FORMAT_VERSION}"
            " (settings and fee tiers inline): re-train it, or evaluate it with the release that wrote it"
        )
    raw["symbols"] = tuple(raw.get("symbols", ()))
    try:
        raw["env_settings"] = from_mapping(
            EnvSettings, raw.get("env_settings", {}), source=str(path), prefix="env_settings."
        )
        return AgentSpec(**raw)
    except ConfigError as exc:
        raise DeployError(str(exc)) from exc
    except TypeError as exc:
        raise DeployError(f"{path}: malformed agent description ({exc})") from exc


def read_weights(directory: str | Path) -> dict[str, torch.Tensor]:
    """Read ``weights.pt`` of a checkpoint folder (CPU tensors).

    Raises:
        DeployError: If the file is missing or unreadable.
    """
    path = Path(directory) / WEIGHTS_FILE
    if not path.is_file():
        raise DeployError(f"{path} not found: the checkpoint has no weights")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for a bad file
        raise DeployError(f"{path} is unreadable ({exc}); re-create the checkpoint") from exc
    return dict(state)
