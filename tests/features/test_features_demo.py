"""The temporary ``cappuccino-ray demo`` command: builds markets and features from configs/data.yaml."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from cappuccino_ray.cli import demo
from cappuccino_ray.errors import ConfigError

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "data.yaml"


def test_demo_command_prints_what_it_built(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    demo.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["demo", "--config", str(CONFIG)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "interval" in out and "warmup" in out
    rows = demo.demo_rows(str(CONFIG))
    assert {(r["interval"], r["features"]) for r in rows} >= {("1h", 7), ("1h", 11)}
    for r in rows:
        assert r["bars"] > r["warmup"] and r["assets"] == 7


def test_demo_with_a_missing_config_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        demo.demo_rows(str(tmp_path / "nope.yaml"))
