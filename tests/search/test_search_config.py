"""Search configs: the shipped YAML files load, and bad values say how to fix them."""

from __future__ import annotations

import re
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


BASE_SPACE = {"lr": {"type": "float", "low": 1e-5, "high": 1e-4, "log": True}}
BATCHES = {
    "train_batch_size": {"type": "categorical", "choices": [1024, 2048]},
    "minibatch_size": {"type": "categorical", "choices": [512, 4096]},
}


@pytest.mark.parametrize(
    ("space", "fixed", "fragment"),
    [
        (
            {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-4}},
            {},
            "space.learning_rate is not a ppo hyperparameter; did you mean 'lr'",
        ),
        (
            BATCHES,
            {},
            "minibatch_size can be drawn as 4096, above train_batch_size 1024",
        ),
        ({}, {"num_envz": 8}, "fixed.num_envz is not a ppo hyperparameter; did you mean 'num_envs'"),
        ({}, {"num_envs": 0}, "fixed.num_envs is 0; it must be >= 1"),
        (
            {"lookback": {"type": "int", "low": 1, "high": 5000}},
            {},
            "space.lookback is 5000; it must be <= 64",
        ),
        (
            {"hidden_size": {"type": "categorical", "choices": [64, "big"]}},
            {},
            "space.hidden_size must be a whole number, got 'big'",
        ),
        ({"gamma": {"type": "float", "low": 0.9, "high": 1.5}}, {}, "space.gamma is 1.5; it must be <= 1.0"),
        (
            {"num_epochs": {"type": "float", "low": 1, "high": 3}},
            {},
            "space.num_epochs is a float range but num_epochs is declared int",
        ),
        ({}, {"train_batch_size": 64}, "minibatch_size can be drawn as 1024, above train_batch_size 64"),
        ({}, {"buffer_size": 1000}, "fixed.buffer_size is not a ppo hyperparameter"),
    ],
)
def test_space_and_fixed_are_checked_against_the_declarations_at_load(
    space: dict[str, object], fixed: dict[str, object], fragment: str
) -> None:
    doc = {"space": {**BASE_SPACE, **space}, "fixed": fixed}
    with pytest.raises(ConfigError, match=re.escape(f"p1.yaml: {fragment}")):
        from_mapping(Phase1Config, doc, source="p1.yaml")


def test_phase2_spaces_are_checked_per_algorithm() -> None:
    good = {"lr": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True}}
    doc = {
        "spaces": {"ppo": good, "ddqn": {**good, "clip_param": {"type": "float", "low": 0.1, "high": 0.2}}}
    }
    with pytest.raises(ConfigError, match=re.escape("spaces.ddqn.clip_param is not a ddqn hyperparameter")):
        from_mapping(Phase2Config, doc, source="p2.yaml")
    doc = {
        "spaces": {"ppo": good, "ddqn": good},
        "fixed": {"ddqn": {"epsilon_final": 0.5, "epsilon_initial": 0.1}},
    }
    with pytest.raises(
        ConfigError, match=re.escape("epsilon_final can be drawn as 0.5, above epsilon_initial 0.1")
    ):
        from_mapping(Phase2Config, doc, source="p2.yaml")
    assert (
        from_mapping(Phase2Config, {"spaces": {"ppo": good, "ddqn": good}}, source="p2.yaml").env.fee_model
        == "flat"
    )


def test_phase_env_sections_merge_onto_env_yaml(tmp_path: Path) -> None:
    for f in (REPO / "configs").glob("*.yaml"):
        (tmp_path / f.name).write_text(f.read_text())
    (tmp_path / "env.yaml").write_text(
        (tmp_path / "env.yaml").read_text().replace("initial_cash: 100000.0", "initial_cash: 5000.0")
    )
    p1, p2 = load_search_configs(tmp_path)
    assert (p1.env.initial_cash, p1.env.fee_model, p1.env.rolling_features) == (5000.0, "flat", False)
    assert (p2.env.initial_cash, p2.env.fee_model, p2.env.rolling_features) == (5000.0, "tiered", True)
    (tmp_path / "phase2.yaml").write_text(
        (tmp_path / "phase2.yaml").read_text().replace("fee_model: tiered", "fee_modl: tiered")
    )
    with pytest.raises(
        ConfigError,
        match=r"env\.yaml \+ .*phase2\.yaml env:: unknown key 'fee_modl'; did you mean 'fee_model'",
    ):
        load_search_configs(tmp_path)
