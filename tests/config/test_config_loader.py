"""The typed config loader: unknown keys, wrong types, ranges, overrides; every config is frozen."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from cappuccino_ray.config import (
    DataConfig,
    DeployConfig,
    EnvSettings,
    FeeSchedule,
    FeeTier,
    GateConfig,
    NotifyConfig,
    ScheduleConfig,
    SyntheticConfig,
    TrackingConfig,
    bounds,
    from_mapping,
    load_config,
    override,
    to_dict,
)
from cappuccino_ray.config.agents import DDQNParams, PPOParams, TrialConfig
from cappuccino_ray.config.paper import PromotionConfig
from cappuccino_ray.config.search import (
    AshaConfig,
    ParamSpec,
    Phase1Config,
    Phase2Config,
    ResourcesConfig,
    RunConfig,
    TrialBudget,
)
from cappuccino_ray.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Inner:
    rate: float = field(default=0.1, metadata=bounds(gt=0.0, le=1.0))


@dataclass(frozen=True)
class Outer:
    name: str = "x"
    count: int = field(default=3, metadata=bounds(ge=1))
    mode: Literal["a", "b"] = "a"
    items: tuple[int, ...] = (1, 2)
    inner: Inner = field(default_factory=Inner)
    maybe: float | None = None

    def validate(self) -> None:
        if self.mode == "b" and self.count < 2:
            raise ConfigError("mode b needs count >= 2; raise count")


def test_defaults_and_nested_values_load() -> None:
    cfg = from_mapping(Outer, {"count": 5, "inner": {"rate": 0.5}, "items": [4]}, source="t.yaml")
    assert cfg == Outer(count=5, inner=Inner(rate=0.5), items=(4,))


def test_int_is_accepted_for_float_and_converted() -> None:
    cfg = from_mapping(Inner, {"rate": 1}, source="t.yaml")
    assert cfg.rate == 1.0 and isinstance(cfg.rate, float)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"cuont": 2}, "unknown key 'cuont'; did you mean 'count'?"),
        ({"inner": {"rat": 0.2}}, "unknown key inner.'rat'"),
        ({"count": "3"}, "count must be a whole number"),
        ({"count": True}, "count must be a whole number"),
        ({"count": 0}, "count is 0; it must be >= 1"),
        ({"inner": {"rate": 0.0}}, "inner.rate is 0.0; it must be > 0.0"),
        ({"mode": "c"}, "mode is 'c'; use one of 'a', 'b'"),
        ({"items": "1,2"}, "items must be a list"),
        ({"items": [1, "x"]}, "items[1] must be a whole number"),
        ({"mode": "b", "count": 1}, "mode b needs count >= 2"),
    ],
)
def test_bad_values_name_the_file_key_and_fix(data: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        from_mapping(Outer, data, source="configs/x.yaml")
    assert "configs/x.yaml" in str(err.value)
    assert fragment in str(err.value)


def test_optional_accepts_none_and_value() -> None:
    assert from_mapping(Outer, {"maybe": None}, source="s").maybe is None
    assert from_mapping(Outer, {"maybe": 2}, source="s").maybe == 2.0


#: One instance of every config class of the project.
PROJECT_CONFIGS: list[Any] = [
    PPOParams(),
    DDQNParams(),
    TrialConfig(),
    SyntheticConfig(),
    DataConfig(),
    EnvSettings(),
    FeeTier(min_volume_usd=0.0, maker=0.006, taker=0.012),
    FeeSchedule(),
    ScheduleConfig(),
    GateConfig(),
    NotifyConfig(),
    DeployConfig(),
    PromotionConfig(),
    ParamSpec(type="float", low=0.0, high=1.0),
    TrialBudget(),
    ResourcesConfig(),
    AshaConfig(),
    Phase1Config(),
    Phase2Config(),
    RunConfig(),
    TrackingConfig(),
]


def test_every_project_config_class_is_checked_for_frozenness() -> None:
    import cappuccino_ray.config as package

    defined = set()
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        defined |= {
            obj
            for obj in vars(module).values()
            if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__
        }
    assert defined == {type(cfg) for cfg in PROJECT_CONFIGS}  # a new config class joins the list


@pytest.mark.parametrize("cfg", PROJECT_CONFIGS, ids=lambda c: type(c).__name__)
def test_configs_are_frozen(cfg: Any) -> None:
    name = dataclasses.fields(cfg)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(cfg, name, getattr(cfg, name))


def test_override_revalidates_and_ignores_none() -> None:
    cfg = override(Outer(), count=7, name=None)
    assert cfg.count == 7 and cfg.name == "x"
    with pytest.raises(ConfigError, match="count is -1"):
        override(Outer(), count=-1)


def test_load_config_applies_cli_overrides(tmp_path: Path) -> None:
    path = tmp_path / "data.yaml"
    path.write_text("base_interval: 1h\nsynthetic:\n  seed: 3\n")
    cfg = load_config(DataConfig, path, {"synthetic.seed": 11, "base_interval": None})
    assert cfg.synthetic.seed == 11 and cfg.base_interval == "1h"


def test_missing_and_malformed_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(DataConfig, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(DataConfig, bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(DataConfig, listy)


def test_to_dict_round_trips() -> None:
    cfg = Outer(items=(7, 8), inner=Inner(rate=0.25))
    assert from_mapping(Outer, to_dict(cfg), source="round-trip") == cfg


def test_shipped_data_config_loads() -> None:
    cfg = load_config(DataConfig, REPO / "configs" / "data.yaml")
    assert len(cfg.symbols) == 7


def test_data_config_rules() -> None:
    with pytest.raises(ConfigError, match="duplicates"):
        from_mapping(DataConfig, {"symbols": ["BTC/USD", "BTC/USD"]}, source="d")
    with pytest.raises(ConfigError, match="base_interval is '2m'"):
        from_mapping(DataConfig, {"base_interval": "2m"}, source="d")
