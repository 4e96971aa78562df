"""Candles in a local store: the scheduler reads the last candle and refuses stale data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cappuccino_ray.config import DataConfig, from_mapping
from cappuccino_ray.config.ops import DeployConfig, ScheduleConfig
from cappuccino_ray.data import import_files
from cappuccino_ray.errors import DataError
from cappuccino_ray.ops.runner import last_candle_time
from cappuccino_ray.ops.scheduler import OpsSettings, run_now

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "crypto_1h"
FAKE_JOB = str(Path(__file__).parent / "ops_fake_job.py")


@pytest.fixture(scope="module")
def store_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("store")
    if not (SHARED / "BTCUSDT_1h.csv.gz").is_file():
        pytest.skip(f"real market data not found at {SHARED} (see ../shared/data/README.md)")
    cfg = tmp_path / "data.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "source": "store",
                "store_dir": str(tmp_path / "store"),
                "exchange": "binance",
                "symbols": ["BTC/USDT", "ETH/USDT"],
                "base_interval": "1h",
            }
        )
    )
    files = [str(SHARED / f"{c}USDT_1h.csv.gz") for c in ("BTC", "ETH")]
    proc = subprocess.run(
        [sys.executable, "-m", "cappuccino_ray", "data", "import", *files, "--config", str(cfg)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return cfg


def test_last_candle_of_the_real_store(store_config: Path) -> None:
    last = last_candle_time(store_config)
    assert last is not None and last.isoformat() == "2023-04-30T23:00:00+00:00"


def test_stale_real_data_is_refused_before_the_job_runs(store_config: Path, tmp_path: Path) -> None:
    cmd = ["{python}", FAKE_JOB, "--run-dir", "{run_dir}", "--run-id", "{run_id}"]
    sched = from_mapping(
        ScheduleConfig,
        {"command": cmd, "data_config": str(store_config), "max_data_age_hours": 48, "refresh": False},
        source="t",
    )
    settings = OpsSettings(sched, DeployConfig(), tmp_path)
    rec = run_now(settings)
    assert rec["outcome"] == "failed"
    assert rec["reason"].startswith("stale data: the last candle is from 2023-04-30T23:00:00+00:00")
    assert "refresh_command" in rec["reason"]
    assert not (tmp_path / "results").exists()  # the job never ran


def write_csv(path: Path, hours: int) -> Path:
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [f"2024-01-01T{h:02d}:00:00Z,10,11,9,10.5,1" for h in range(hours)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_last_candle_comes_from_the_store_metadata_earliest_symbol_first(tmp_path: Path) -> None:
    store = {"store_dir": str(tmp_path / "store"), "exchange": "test", "symbols": ["BTC/USD", "ETH/USD"]}
    cfg_path = tmp_path / "data.yaml"
    cfg_path.write_text(yaml.safe_dump({"source": "store", **store}))
    cfg = from_mapping(DataConfig, {"source": "store", **store}, source="t")
    import_files([write_csv(tmp_path / "BTCUSD_1h.csv", 20)], cfg)
    with pytest.raises(DataError, match="ETH/USD"):  # a missing dataset is an error, not "fresh"
        last_candle_time(cfg_path)
    import_files([write_csv(tmp_path / "ETHUSD_1h.csv", 12)], cfg)
    last = last_candle_time(cfg_path)
    assert last is not None and last.isoformat() == "2024-01-01T11:00:00+00:00"  # where both end


def test_synthetic_data_has_no_last_candle_to_check(tmp_path: Path) -> None:
    cfg_path = tmp_path / "data.yaml"
    cfg_path.write_text("source: synthetic\n")
    assert last_candle_time(cfg_path) is None
