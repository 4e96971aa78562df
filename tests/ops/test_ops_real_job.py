"""The scheduler runs the real mini two-phase job once, gates the winner, deploys or keeps the current one."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cappuccino_ray.config import DataConfig, from_mapping, load_config
from cappuccino_ray.config.ops import DeployConfig, GateConfig, ScheduleConfig
from cappuccino_ray.data import load_market
from cappuccino_ray.ops.deploy import Deployer
from cappuccino_ray.ops.gate import evaluate_gate
from cappuccino_ray.ops.live import DeployedModel
from cappuccino_ray.ops.scheduler import OpsSettings, run_now

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_scheduler_runs_the_real_mini_job(tmp_path: Path) -> None:
    results = tmp_path / "results"
    cmd = ["{python}", "-m", "cappuccino_ray", "run", "--mini", "--quiet"]
    cmd += ["--config", str(REPO / "configs"), "--results", str(results)]
    sched = from_mapping(
        ScheduleConfig,
        {"command": cmd, "results_dir": str(results), "refresh": False, "max_data_age_hours": 0},
        source="test",
    )
    deploy = from_mapping(DeployConfig, {"notify": {"webhook": False}}, source="test")
    rec = run_now(OpsSettings(sched, deploy, tmp_path))
    log = Path(rec["log"]).read_text(errors="replace")[-3000:] if Path(rec["log"]).is_file() else ""
    assert rec["outcome"] == "succeeded", f"{rec.get('reason')}\n{log}"
    assert Path(rec["report_path"]).is_file() and rec["winner"]["checkpoint_path"]
    assert {c["name"] for c in rec["gate"]["checks"]} >= {"pbo", "deflated_sharpe", "max_drawdown"}
    current = tmp_path / "deployments" / "current"
    if rec["gate"]["passed"]:
        assert current.is_symlink() and rec["deployed"]
    else:
        assert rec["deployed"] is None and not current.exists()
        # A mini run rarely beats the gate: deploy it through an open gate to check the real checkpoint.
        report = json.loads(Path(rec["report_path"]).read_text())
        open_gate = GateConfig(
            beat_buy_and_hold=False, max_pbo=1.0, min_deflated_sharpe=0.0, max_drawdown=1.0
        )
        open_gate = replace(open_gate, min_trades=0, allow_missing=True)
        Deployer(tmp_path / "deployments", required_files=["agent.json", "weights.pt"]).deploy(
            report, gate=evaluate_gate(report, open_gate), report_path=rec["report_path"]
        )
    model = DeployedModel.load(tmp_path / "deployments")
    assert model.manifest["source_run"]["run_id"] == rec["pipeline_run_id"]
    data_cfg = load_config(DataConfig, REPO / "configs" / "data.yaml")
    market = load_market(data_cfg, interval=model.agent.spec.interval)
    if tuple(market.symbols) != tuple(model.agent.spec.symbols):
        pytest.skip(f"configs/data.yaml trades {market.symbols}, the mini agent {model.agent.spec.symbols}")
    weights = model.target_weights(market)
    assert weights.shape == (market.n_assets,)
    held = weights[~np.isnan(weights)]
    assert np.all(held >= 0) and held.sum() <= 1 + 1e-9
