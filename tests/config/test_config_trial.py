"""Trial and search configs refuse a bad objective or CPCV split when they are parsed."""

from __future__ import annotations

from typing import Any

import pytest

from cappuccino_ray.config._loader import from_mapping
from cappuccino_ray.config.agents import TrialConfig, parse_trial_config
from cappuccino_ray.config.search import TrialBudget
from cappuccino_ray.errors import ConfigError
from cappuccino_ray.validation import OBJECTIVES


def test_unknown_objective_is_refused_at_parse_time_naming_the_choices() -> None:
    with pytest.raises(ConfigError, match="unknown objective 'nope'") as err:
        parse_trial_config({"algo": "ppo", "objective": "nope"})
    assert "trial config" in str(err.value)  # the source is named
    for name in OBJECTIVES:
        assert name in str(err.value)


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_every_registered_objective_parses(name: str) -> None:
    trial, _ = parse_trial_config({"algo": "ppo", "objective": name})
    assert trial.objective == name


@pytest.mark.parametrize("cls", [TrialConfig, TrialBudget])
@pytest.mark.parametrize(("n_groups", "n_test_groups"), [(4, 4), (3, 5)])
def test_cpcv_split_must_leave_a_training_group(cls: type[Any], n_groups: int, n_test_groups: int) -> None:
    with pytest.raises(ConfigError, match=rf"n_test_groups \({n_test_groups}\) must be below n_groups"):
        from_mapping(cls, {"n_groups": n_groups, "n_test_groups": n_test_groups}, source="s.yaml")
    assert from_mapping(cls, {"n_groups": 4, "n_test_groups": 3}, source="s.yaml").n_test_groups == 3
