"""ValidationConfig: YAML defaults, consistency rules, days-to-bars conversions; doctests."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

from cappuccino_ray.config._loader import from_mapping, load_config
from cappuccino_ray.config.validation import ValidationConfig
from cappuccino_ray.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_yaml_matches_defaults() -> None:
    cfg = load_config(ValidationConfig, ROOT / "configs" / "validation.yaml")
    assert cfg == ValidationConfig()
    assert (cfg.holdout_fraction, cfg.n_groups, cfg.n_test_groups, cfg.std_penalty) == (0.15, 6, 2, 0.1)
    assert cfg.objective == "sharpe_excess"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"n_groups": 4, "n_test_groups": 4}, "smaller than n_groups"),
        ({"pbo_partitions": 15}, "even"),
        ({"objective": "sharpe_maximum"}, "sharpe_excess"),
        ({"holdout_fraction": 0.95}, "holdout_fraction"),
        ({"embargo_day": 1.0}, "did you mean 'embargo_days'"),
        ({"std_penalty": -0.1}, "std_penalty"),
    ],
)
def test_bad_values_raise(data: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        from_mapping(ValidationConfig, data, source="validation.yaml")


def test_days_to_bars_and_cv() -> None:
    cfg = ValidationConfig(purge_days=0.5, embargo_days=1.0)
    assert cfg.embargo_bars("1h") == 24
    assert cfg.embargo_bars("4h") == 6
    assert cfg.embargo_bars("5m", lookback_bars=400) == 400  # the feature look-back wins
    assert cfg.purge_bars("1h") == 12
    assert ValidationConfig().purge_bars("1h") == 1  # the 1-bar fill horizon
    cv = cfg.make_cv("1h", horizon_bars=1, lookback_bars=35)
    assert (cv.n_groups, cv.n_test_groups, cv.purge, cv.embargo) == (6, 2, 12, 35)
    assert (cv.n_splits, cv.n_paths) == (15, 5)


@pytest.mark.parametrize("module", ["_cpcv", "_holdout", "_metrics", "_objective"])
def test_docstring_examples_run(module: str) -> None:
    mod = importlib.import_module(f"cappuccino_ray.validation.{module}")
    result = doctest.testmod(mod)
    assert result.attempted > 0 and result.failed == 0
