"""Fixtures of the env tests (helpers live in env_helpers.py)."""

import pytest
from env_helpers import causal_features

from cappuccino_ray.data.market import MarketData
from cappuccino_ray.data.synthetic import generate_market


@pytest.fixture(scope="session")
def small_market() -> MarketData:
    return generate_market(400, seed=11, halt_prob=0.02)


@pytest.fixture(scope="session")
def small_config(small_market):
    return {
        "market": small_market,
        "features": causal_features(small_market),
        "settings": {"episode_bars": 60, "max_hold_days": 1.0},
    }
