"""The phase-2 warm start: phase 1's winner's weights of the same split, or a recorded reason why not.

Phase 2 split ``s`` starts PPO from the phase-1 winner's checkpoint of split
``s``. Both phases cut the same partition (:mod:`cappuccino_ray.search.splits`)
and score splits in the same order, so those weights were trained on split
``s``'s training bars only and never saw its test groups; :func:`plan_warm_start`
checks it bar by bar from the checkpoint's recorded training runs and refuses
(with a reason) anything else. Phase 1 keeps every split's checkpoint (Tune's
``num_to_keep=None``), found beside the winner's last one.

A warm start needs the same network shape. A PPO trial whose sampled width or
depth differs from the winner's starts fresh, and says so: its results carry
``warm_start`` (``"split N of <checkpoint>"``, or ``"skipped: <reason>"``), and
phase 2's comparison counts both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cappuccino_ray import storage
from cappuccino_ray.documents import WarmStart

__all__ = ["WarmPlan", "phase1_split_checkpoints", "plan_warm_start"]


@dataclass(frozen=True)
class WarmPlan:
    """The warm start of one split: what to load, or why nothing is loaded."""

    start: WarmStart | None
    """The weights to start from; ``None`` for a fresh start."""
    note: str
    """``"split N of <checkpoint>"``, ``"skipped: <reason>"`` or ``"none"``."""


def phase1_split_checkpoints(last_checkpoint: str | Path) -> dict[int, str]:
    """Split index -> checkpoint folder (a path or a storage URI) of the phase-1 trial of ``last_checkpoint``.

    Only each checkpoint's ``agent.json`` is read here; the chosen split's folder is
    copied locally (on shared storage) when its weights are loaded.
    """
    from cappuccino_ray.agents.checkpoint import AGENT_FILE

    last = str(last_checkpoint)
    parent = last.rstrip("/").rsplit("/", 1)[0] if storage.is_uri(last) else str(Path(last).parent)
    # Tune names a trial's checkpoints checkpoint_*; run_trial(checkpoint_root=...) names them split_*.
    names = [*storage.list_dirs(parent, "checkpoint_*"), *storage.list_dirs(parent, "split_*")]
    folders = [storage.join(parent, n) for n in sorted(names)] or [last]
    out: dict[int, str] = {}
    for folder in folders:
        raw = storage.read_bytes(storage.join(folder, AGENT_FILE))
        try:
            split = json.loads(raw).get("run", {}).get("split") if raw else None
        except (ValueError, AttributeError):
            continue
        if isinstance(split, int):
            out[split] = folder
    return out


def _overlap(train: list[list[int]], tests: tuple[tuple[int, tuple[int, int]], ...]) -> int:
    """Bars in both the training runs and the test groups."""
    total = 0
    for a, b in train:
        for _, (c, d) in tests:
            total += max(0, min(b, d) - max(a, c))
    return total


def plan_warm_start(
    checkpoints: dict[int, str],
    split: int,
    test_groups: tuple[tuple[int, tuple[int, int]], ...],
    *,
    n_assets: int,
    hidden_size: int,
    n_layers: int,
    n_features: int,
    lookback: int,
) -> WarmPlan:
    """The warm start of split ``split`` from phase 1's checkpoints (see the module docstring).

    Args:
        checkpoints: Phase 1's winner's checkpoint of each split.
        split: The phase-2 split (lexicographic index).
        test_groups: Its test groups, in market rows.
        n_assets: Assets of the phase-2 market.
        hidden_size: The trial's width.
        n_layers: The trial's depth.
        n_features: Features per bar of the phase-2 observation.
        lookback: The trial's lookback.

    Returns:
        The plan; a skipped one carries its reason.
    """
    from cappuccino_ray.agents.checkpoint import read_agent_spec

    where = checkpoints.get(split)
    if where is None:
        return WarmPlan(None, f"skipped: phase 1's winner has no checkpoint of split {split}")
    folder = storage.local_dir(where)  # itself when local; a cached copy of a storage URI
    spec = read_agent_spec(folder)
    if spec.algo != "ppo" or spec.n_assets != n_assets:
        return WarmPlan(None, f"skipped: the checkpoint is {spec.algo} on {spec.n_assets} assets")
    if (spec.hidden_size, spec.n_layers) != (hidden_size, n_layers):
        return WarmPlan(
            None,
            f"skipped: network {hidden_size}x{n_layers} differs from phase 1's "
            f"{spec.hidden_size}x{spec.n_layers}",
        )
    n_old = len(spec.features.get("names", ()))
    if n_old > n_features:
        return WarmPlan(
            None, f"skipped: the checkpoint reads {n_old} features per bar, the trial {n_features}"
        )
    leaked = _overlap(spec.run.get("train_segments", []), test_groups)
    if leaked:
        return WarmPlan(None, f"skipped: the checkpoint trained on {leaked} bars of this split's test groups")
    start = WarmStart(
        checkpoint=str(folder),
        n_assets=n_assets,
        old_features=n_old,
        new_features=n_features,
        old_lookback=spec.env_settings.lookback,
        lookback=lookback,
    )
    return WarmPlan(start, f"split {split} of {where}")
