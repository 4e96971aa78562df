"""Paper-trading configuration: the champion/challenger promotion rule of ``configs/deploy.yaml``.

The ``promotion:`` section of ``configs/deploy.yaml`` loads into :class:`PromotionConfig`,
the ``promotion`` field of :class:`~cappuccino_ray.config.ops.DeployConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cappuccino_ray.config._loader import bounds

__all__ = ["PromotionConfig"]


@dataclass(frozen=True)
class PromotionConfig:
    """When a paper-trading challenger replaces the champion, and when the champion is demoted."""

    min_bars: int = field(default=168, metadata=bounds(ge=2))
    """Bars both must have paper-traded side by side before a challenger can be promoted."""
    sharpe_margin: float = field(default=0.0, metadata=bounds(ge=0.0))
    """The challenger's paper Sharpe must exceed the champion's by more than this."""
    max_drawdown_excess: float = field(default=0.05, metadata=bounds(ge=0.0, le=1.0))
    """The challenger's max drawdown may exceed the champion's by at most this (fraction)."""
    demote_drawdown: float = field(default=0.25, metadata=bounds(gt=0.0, le=1.0))
    """Demote the champion when its paper drawdown from peak reaches this (0.25 = -25 %)."""
    demote_lag: float = field(default=0.10, metadata=bounds(gt=0.0, le=10.0))
    """Demote the champion when its return trails buy-and-hold's by this much (0.10 = 10 points)."""
    on_demote: Literal["rollback", "pause"] = "rollback"
    """``rollback`` to the previous deployment, or ``pause`` (nothing current)."""
