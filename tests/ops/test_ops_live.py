"""A deployed model loads into the inference object and turns the latest candles into target weights."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from cappuccino_ray.agents.checkpoint import AgentSpec, save_agent
from cappuccino_ray.agents.networks import PolicyNet
from cappuccino_ray.config.env import EnvSettings
from cappuccino_ray.config.ops import GateConfig
from cappuccino_ray.data.market import MarketData
from cappuccino_ray.data.synthetic import generate_market
from cappuccino_ray.env.spaces import observation_size
from cappuccino_ray.errors import DeployError
from cappuccino_ray.ops.deploy import Deployer
from cappuccino_ray.ops.gate import evaluate_gate
from cappuccino_ray.ops.live import DeployedModel

sys.path.insert(0, str(Path(__file__).parent))
from ops_fake_job import make_report


def deploy_agent(tmp: Path, *, seed: int = 0, lookback: int = 2) -> tuple[Path, str]:
    import torch

    torch.manual_seed(seed)
    n_assets, n_features = 3, 7
    obs_dim = observation_size(n_assets, n_features, lookback)
    net = PolicyNet(obs_dim, n_assets, 16, 1)
    with torch.no_grad():  # a visible, non-trivial policy
        for p in net.parameters():
            p.normal_(0.0, 0.5)
    spec = AgentSpec(
        algo="ppo",
        obs_dim=obs_dim,
        n_assets=n_assets,
        n_actions=n_assets,
        hidden_size=16,
        n_layers=1,
        interval="1h",
        symbols=("AAA/USD", "BBB/USD", "CCC/USD"),
        env_settings=EnvSettings(lookback=lookback, max_hold_days=3.0),
    )
    run_dir = tmp / "results" / f"run{seed}"
    save_agent(run_dir / "checkpoint", spec, {f"pi.{k}": v for k, v in net.state_dict().items()})
    report = make_report(run_dir, f"run{seed}", good=True, finished=datetime.now(UTC))
    path = run_dir / "two_phase_training_report.json"
    path.write_text(json.dumps(report))
    m = Deployer(tmp / "deployments", required_files=["agent.json", "weights.pt"]).deploy(
        report, gate=evaluate_gate(report, GateConfig()), report_path=path
    )
    return tmp / "deployments", m["id"]


def market(symbols: tuple[str, ...], n_bars: int = 400) -> MarketData:
    md = generate_market(n_bars, n_assets=3, interval="1h", seed=3)
    return MarketData(md.timestamps, symbols, md.interval, md.open, md.high, md.low, md.close, md.volume)


def test_deployed_model_turns_latest_candles_into_target_weights(tmp_path: Path) -> None:
    root, dep_id = deploy_agent(tmp_path)
    model = DeployedModel.load(root)
    assert model.manifest["id"] == dep_id and model.agent.algo == "ppo"
    md = market(model.agent.spec.symbols)
    w = model.target_weights(md)
    assert w.shape == (3,)
    assert np.all(w >= 0) and w.sum() <= 1 + 1e-9
    assert np.array_equal(w, model.target_weights(md))  # deterministic
    obs = model.observation(md, holdings=np.array([0.2, 0.0, 0.5]), ages=np.array([0.1, 0.0, 0.9]))
    assert obs.shape == (model.agent.spec.obs_dim,)
    per = 2 + 7 * 2
    assert (
        obs[0] == pytest.approx(0.2)
        and obs[2 * per] == pytest.approx(0.5)
        and obs[2 * per + 1] == pytest.approx(0.9)
    )


def test_deployed_model_refuses_wrong_candles_and_damaged_files(tmp_path: Path) -> None:
    root, dep_id = deploy_agent(tmp_path)
    model = DeployedModel.load(root)
    with pytest.raises(DeployError, match="trades"):
        model.target_weights(market(("X/USD", "Y/USD", "Z/USD")))
    (root / dep_id / "checkpoint" / "weights.pt").write_bytes(b"garbage")
    with pytest.raises(DeployError, match="differ from the manifest"):
        DeployedModel.load(root)
