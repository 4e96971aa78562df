"""Search spaces: config :class:`ParamSpec` entries as Optuna distributions, and seed points.

A phase's space is plain data from ``configs/``; this module only translates it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from cappuccino_ray.config.search import ParamSpec

__all__ = ["config_hash", "fit_point", "to_optuna"]


def to_optuna(space: Mapping[str, ParamSpec]) -> dict[str, Any]:
    """Translate ``space`` to a dict of Optuna distributions (for ``OptunaSearch``).

    Args:
        space: Name -> parameter spec.

    Returns:
        Name -> ``optuna.distributions.BaseDistribution``.
    """
    from optuna import distributions as od

    out: dict[str, Any] = {}
    for name, spec in space.items():
        if spec.type == "categorical":
            out[name] = od.CategoricalDistribution(list(spec.choices or ()))
        elif spec.type == "int":
            out[name] = od.IntDistribution(int(spec.low or 0), int(spec.high or 0), log=spec.log)
        else:
            out[name] = od.FloatDistribution(float(spec.low or 0.0), float(spec.high or 0.0), log=spec.log)
    return out


def fit_point(point: Mapping[str, Any], space: Mapping[str, ParamSpec]) -> dict[str, Any]:
    """Fit a known-good configuration (e.g. phase 1's best) into ``space``.

    Keys outside the space are dropped; numbers are clipped into range (ints
    rounded); a categorical value not among the choices becomes the nearest
    numeric choice, or the first choice. Every space key must get a value, so
    missing keys are filled with the range's (geometric) middle.

    Args:
        point: Hyperparameter values.
        space: The target space.

    Returns:
        A point Optuna accepts for ``points_to_evaluate``.
    """
    out: dict[str, Any] = {}
    for name, spec in space.items():
        value = point.get(name)
        if spec.type == "categorical":
            choices = list(spec.choices or ())
            if value in choices:
                out[name] = value
            elif isinstance(value, int | float) and all(isinstance(c, int | float) for c in choices):
                target = float(value)
                out[name] = min(choices, key=lambda c: abs(float(c) - target))
            else:
                out[name] = choices[0]
            continue
        low, high = float(spec.low or 0.0), float(spec.high or 0.0)
        if not isinstance(value, int | float) or isinstance(value, bool):
            value = math.sqrt(low * high) if spec.log else (low + high) / 2
        clipped = min(max(float(value), low), high)
        out[name] = round(clipped) if spec.type == "int" else clipped
    return out


def config_hash(data: Any, length: int = 8) -> str:
    """A short, stable hash of JSON-able ``data`` (key order does not matter)."""
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]
