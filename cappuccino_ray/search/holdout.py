"""The winner on the hold-out period: its inference object against buy-and-hold.

The winner's checkpoint is loaded with :func:`cappuccino_ray.agents.inference.load_agent`
(plain torch, no Ray) and run through :func:`cappuccino_ray.validation.evaluate_policy`
over the hold-out bars only, with the env settings saved in the checkpoint. Features
are computed on the whole series (they look backwards only), so the hold-out's first
bars have warmed-up features without the agent ever having trained on a hold-out bar.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cappuccino_ray import storage
from cappuccino_ray.data.market import MarketData
from cappuccino_ray.documents import Phase2Comparison
from cappuccino_ray.errors import TrainingError
from cappuccino_ray.search.markets import iso_time
from cappuccino_ray.storage import Location

__all__ = ["evaluate_holdout"]


def evaluate_holdout(
    winner: Phase2Comparison, market: MarketData, holdout_row: int, *, series_path: Location | None = None
) -> dict[str, Any]:
    """Evaluate the phase-2 winner on ``market[holdout_row:]``.

    Args:
        winner: Phase 2's comparison (its winner's ``checkpoint_path``).
        market: The whole market at the winner's interval.
        holdout_row: First hold-out row of ``market``.
        series_path: Where to save the per-bar series (equity, fees, weights...) for the report
            (a path or a storage URI; a checkpoint on remote storage is downloaded first).

    Returns:
        ``{"bot": SegmentMetrics fields, "buy_and_hold": ..., "start", "end", "n_bars", "checkpoint_path"}``.

    Raises:
        TrainingError: If the winner has no checkpoint.
    """
    from cappuccino_ray.agents.inference import load_agent
    from cappuccino_ray.env import register_envs
    from cappuccino_ray.features import compute_features
    from cappuccino_ray.validation import evaluate_policy

    path = winner.checkpoint_path
    if not path:
        raise TrainingError("the phase-2 winner has no checkpoint; check the phase-2 trial logs")
    with storage.local_copy(path) as local:
        agent = load_agent(local)
    spec = agent.spec
    register_envs()
    features = compute_features(market, rolling=bool(spec.features.get("rolling", False)))
    env_config = {
        "market": market,
        "features": features,
        "segments": [(holdout_row, market.n_bars)],
        "mode": "eval",
        "settings": spec.env_settings,
    }
    result = evaluate_policy(agent.act, env_config)
    if series_path is not None:
        from cappuccino_ray.report.artifacts import holdout_series_from, save_holdout_series

        save_holdout_series(series_path, holdout_series_from(result, market.symbols))
    return {
        "bot": dataclasses.asdict(result.bot),
        "buy_and_hold": dataclasses.asdict(result.benchmark),
        "start": iso_time(market.timestamps[holdout_row]),
        "end": iso_time(market.timestamps[-1]),
        "n_bars": int(market.n_bars - holdout_row),
        "checkpoint_path": str(path),
        "algorithm": spec.algo,
    }
