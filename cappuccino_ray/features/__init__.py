"""Past-only, scaled features per asset: the observation inputs of the trading env.

:func:`compute_features` turns a :class:`~cappuccino_ray.data.market.MarketData`
into a :class:`FeatureSet` of shape ``(T, n_assets, F)``: the 7
:data:`BASE_FEATURES` and, for phase 2, the 4 :data:`ROLLING_FEATURES`.
Bar ``t``'s features read bars ``<= t`` only; :func:`find_lookahead` checks it.
"""

from cappuccino_ray.features._compute import (
    BASE_FEATURES,
    CLIP,
    ROLLING_FEATURES,
    FeatureSet,
    FeatureWindows,
    compute_features,
    feature_windows,
    warmup_bars,
)
from cappuccino_ray.features._lookahead import find_lookahead, perturb_after

__all__ = [
    "BASE_FEATURES",
    "CLIP",
    "ROLLING_FEATURES",
    "FeatureSet",
    "FeatureWindows",
    "compute_features",
    "feature_windows",
    "find_lookahead",
    "perturb_after",
    "warmup_bars",
]
