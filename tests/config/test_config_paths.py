"""Configs found from any folder: packaged defaults, ``--config``, paths relative to the config file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cappuccino_ray.config import DataConfig, load_config
from cappuccino_ray.config.paths import PACKAGED_CONFIG_DIR, find_config_dir, resolve_config_path
from tests.python_run import REPO, run_python


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.yaml"))}


def test_packaged_configs_are_the_top_level_configs_byte_for_byte() -> None:
    top, packaged = _files(REPO / "configs"), _files(PACKAGED_CONFIG_DIR)
    assert "phase1.yaml" in top and "cluster/data.yaml" in top
    assert sorted(packaged) == sorted(top), "run `make configs` after adding or removing a config"
    stale = [name for name in top if top[name] != packaged[name]]
    assert not stale, f"run `make configs`: {stale} differ from cappuccino_ray/configs/"


def test_config_folder_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_config_dir() == PACKAGED_CONFIG_DIR  # nothing here: the packaged defaults
    (tmp_path / "configs").mkdir()
    assert find_config_dir() == PACKAGED_CONFIG_DIR  # a configs/ without phase1.yaml is not one
    (tmp_path / "configs" / "phase1.yaml").write_text("{}")
    assert find_config_dir() == tmp_path / "configs"
    assert find_config_dir("elsewhere") == tmp_path / "elsewhere"  # --config: relative to the cwd


def test_relative_paths_in_a_config_are_relative_to_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "data.yaml").write_text("store_dir: ../candles\n")
    monkeypatch.chdir(REPO)  # the working directory plays no part
    assert load_config(DataConfig, folder / "data.yaml").store_dir == str(tmp_path / "candles")
    (folder / "data.yaml").write_text(f"store_dir: {tmp_path / 'abs'}\n")
    assert load_config(DataConfig, folder / "data.yaml").store_dir == str(tmp_path / "abs")
    (folder / "data.yaml").write_text("store_dir: ~/store\n")
    assert load_config(DataConfig, folder / "data.yaml").store_dir == os.path.expanduser("~/store")
    assert resolve_config_path("s3://bucket/store", folder / "data.yaml") == "s3://bucket/store"


def test_the_packaged_defaults_stand_in_for_configs_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    packaged = load_config(DataConfig, PACKAGED_CONFIG_DIR / "data.yaml")
    assert packaged.store_dir == str(tmp_path / "data" / "store")  # never inside the installed package
    repo = load_config(DataConfig, REPO / "configs" / "data.yaml")
    assert repo.store_dir == str(REPO / "data" / "store")  # the repo's data/store, from any cwd
    cluster = load_config(DataConfig, PACKAGED_CONFIG_DIR / "cluster" / "data.yaml")
    assert cluster.store_dir == os.path.expanduser("~/cappuccino-data/store")
    assert (cluster.source, cluster.base_interval) == ("store", "5m")


TINY_DATA = """source: synthetic
base_interval: {interval}
symbols: [BTC/USD, ETH/USD]
synthetic: {{n_bars: 300, seed: 3}}
"""


@pytest.mark.parametrize(
    ("script", "interval", "extra", "expected"),
    [
        ("run_phase1.py", "4h", [], "interval 1h is finer than the data's 4h"),
        ("run_phase2.py", "1h", ["--phase1-results", "no_such_run"], "no_such_run"),
        ("run_two_phase.py", "1h", ["--phase2-only", "--phase1-results", "no_such_run"], "no_such_run"),
    ],
)
def test_a_script_copied_alone_finds_the_packaged_configs(
    tmp_path: Path, script: str, interval: str, extra: list[str], expected: str
) -> None:
    # The node: the package importable (installed), the script alone in a folder, run from another.
    node = tmp_path / "home"
    node.mkdir()
    shutil.copy(REPO / script, node / script)
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    (cwd / "tiny.yaml").write_text(TINY_DATA.format(interval=interval))
    proc = run_python(str(node / script), "--mini", "--quiet", "--data", "tiny.yaml", *extra, cwd=cwd)
    out = proc.stdout + proc.stderr
    # It got past the configs (phase1/phase2/mini/env.yaml) and the data: the error is the one planted.
    assert proc.returncode != 0
    assert "config file not found" not in out
    assert expected in out, out[-2000:]
