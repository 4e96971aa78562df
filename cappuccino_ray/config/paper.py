"""Paper-trading configuration: the champion/challenger promotion rule of ``configs/deploy.yaml``.

``configs/deploy.yaml`` may hold a ``promotion:`` section; :func:`load_deploy_config`
reads the file into the :class:`~cappuccino_ray.config.ops.DeployConfig` and the
:class:`PromotionConfig` (absent section: the defaults).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cappuccino_ray.config._loader import bounds, from_mapping, load_yaml
from cappuccino_ray.config.ops import DeployConfig
from cappuccino_ray.errors import ConfigError

__all__ = ["PromotionConfig", "load_deploy_config"]


@dataclass(frozen=True)
class PromotionConfig:
    """When a paper-trading challenger replaces the champion, and when the champion is demoted."""

    min_bars: int = field(default=168, metadata=bounds(ge=2))
    """Bars both must have paper-traded side by side before a challenger can be promoted."""
    sharpe_margin: float = field(default=0.0, metadata=bounds(ge=0.0))
    """The challenger's paper Sharpe must exceed the champion's by more than this."""
    max_drawdown_excess: float = field(default=0.0, metadata=bounds(ge=0.0, le=1.0))
    """The challenger's max drawdown may exceed the champion's by at most this (fraction)."""
    demote_drawdown: float = field(default=0.25, metadata=bounds(gt=0.0, le=1.0))
    """Demote the champion when its paper drawdown from peak reaches this (0.25 = -25 %)."""
    demote_lag: float = field(default=0.10, metadata=bounds(gt=0.0, le=10.0))
    """Demote the champion when its return trails buy-and-hold's by this much (0.10 = 10 points)."""
    on_demote: Literal["rollback", "pause"] = "rollback"
    """``rollback`` to the previous deployment, or ``pause`` (nothing current)."""


def load_deploy_config(path: str | Path) -> tuple[DeployConfig, PromotionConfig]:
    """Read ``configs/deploy.yaml``: the deployment settings and the promotion rule.

    Raises:
        ConfigError: Naming the file, the key and the fix.
    """
    p = Path(path)
    if not p.is_file():
        return DeployConfig(), PromotionConfig()
    raw = dict(load_yaml(p))
    promo = raw.pop("promotion", None) or {}
    if not isinstance(promo, dict):
        raise ConfigError(f"{p}: promotion must be a mapping of PromotionConfig keys, got {promo!r}")
    return (
        from_mapping(DeployConfig, raw, source=str(p)),
        from_mapping(PromotionConfig, promo, source=str(p), prefix="promotion."),
    )
