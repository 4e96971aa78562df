"""Search configs: the shipped YAML files load, and bad values say how to fix them."""

from __future__ import annotations

from pathlib import Path

import pytest

from cappuccino_ray.config import from_mapping
from cappuccino_ray.config.search import ParamSpec, Phase1Config, Phase2Config, load_search_configs
from cappuccino_ray.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_shipped_configs_give_the_issue_budgets() -> None:
    p1, p2 = load_search_configs(REPO / "configs")
    assert p1.holding_days == (3, 5, 7, 10, 14)
    assert p1.intervals == ("5m", "15m", "30m", "1h", "4h")
    assert p1.n_trials == 25 * 20 == 500
    assert p2.n_trials == 2 * 200
    assert len(p1.space) == 10
    assert len(p2.spaces["ppo"]) + len(p2.spaces["ddqn"]) == 26
    assert p1.asha.enabled and p2.asha.enabled


def test_mini_overrides_shrink_the_run_but_keep_the_rest() -> None:
    p1, p2 = load_search_configs(REPO / "configs", mini=True)
    full1, _ = load_search_configs(REPO / "configs")
    assert 2 <= len(p1.holding_days) * len(p1.intervals) <= 4
    assert p1.trials_per_combo <= 3 and p2.trials_per_algo <= 3
    assert p1.budget.train_steps < full1.budget.train_steps
    # Keys the mini file does not mention keep their full values.
    assert p1.space["lr"] == full1.space["lr"]
    assert set(p1.space) == set(full1.space)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"type": "float", "low": 1.0, "high": 1.0}, "must be below high"),
        ({"type": "float", "low": 0.0, "high": 1.0, "log": True}, "needs low > 0"),
        ({"type": "int", "low": 1.5, "high": 3}, "whole-number"),
        ({"type": "categorical"}, "non-empty 'choices'"),
        ({"type": "float", "low": 1.0}, "needs 'low' and 'high'"),
        ({"type": "normal", "low": 0, "high": 1}, "use one of"),
    ],
)
def test_bad_param_specs_are_rejected(spec: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        from_mapping(ParamSpec, spec, source="t.yaml")


def test_phase1_rules() -> None:
    space = {"lr": {"type": "float", "low": 1e-5, "high": 1e-4, "log": True}}
    with pytest.raises(ConfigError, match="duplicates"):
        from_mapping(Phase1Config, {"holding_days": [3, 3], "space": space}, source="p1.yaml")
    with pytest.raises(ConfigError, match="space is empty"):
        from_mapping(Phase1Config, {}, source="p1.yaml")
    with pytest.raises(ConfigError, match="lr appear in both fixed and space"):
        from_mapping(Phase1Config, {"space": space, "fixed": {"lr": 1e-4}}, source="p1.yaml")
    with pytest.raises(ConfigError, match=r"p1\.yaml: unknown key 'trials_per_comb'"):
        from_mapping(Phase1Config, {"space": space, "trials_per_comb": 3}, source="p1.yaml")
    with pytest.raises(ConfigError, match=r"intervals\[0\]|use one of"):
        from_mapping(Phase1Config, {"space": space, "intervals": ["7m"]}, source="p1.yaml")


def test_phase2_rules() -> None:
    space = {"lr": {"type": "float", "low": 1e-5, "high": 1e-4}}
    with pytest.raises(ConfigError, match=r"spaces.ddqn is missing"):
        from_mapping(Phase2Config, {"spaces": {"ppo": space}}, source="p2.yaml")
    with pytest.raises(ConfigError, match="pbo_partitions must be even"):
        from_mapping(
            Phase2Config, {"spaces": {"ppo": space, "ddqn": space}, "pbo_partitions": 5}, source="p2.yaml"
        )
    ok = from_mapping(Phase2Config, {"algos": ["ddqn"], "spaces": {"ddqn": space}}, source="p2.yaml")
    assert ok.n_trials == 200


def test_missing_mini_file_names_the_path(tmp_path: Path) -> None:
    for name in ("phase1.yaml", "phase2.yaml"):
        (tmp_path / name).write_text((REPO / "configs" / name).read_text())
    with pytest.raises(ConfigError, match=r"mini\.yaml: config file not found"):
        load_search_configs(tmp_path, mini=True)
