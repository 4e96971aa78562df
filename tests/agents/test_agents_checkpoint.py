import json

import numpy as np
import pytest
import torch

from cappuccino_ray.agents import AgentSpec, load_agent, save_agent
from cappuccino_ray.agents.checkpoint import save_test_returns
from cappuccino_ray.agents.networks import PolicyNet, QNet, ValueNet
from cappuccino_ray.config.env import EnvSettings
from cappuccino_ray.errors import DeployError


def _ppo_checkpoint(tmp_path):
    torch.manual_seed(1)
    pi, vf = PolicyNet(63, 7, 16, 2), ValueNet(63, 16, 2)
    with torch.no_grad():
        pi.mean[-1].weight.normal_()  # make the mean non-trivial
    state = {f"pi.{k}": v for k, v in pi.state_dict().items()} | {
        f"vf.{k}": v for k, v in vf.state_dict().items()
    }
    spec = AgentSpec(
        algo="ppo",
        obs_dim=63,
        n_assets=7,
        n_actions=7,
        hidden_size=16,
        n_layers=2,
        env_settings=EnvSettings(lookback=1, action_mode="continuous"),
        features={"names": ["a"] * 7},
    )
    save_agent(tmp_path, spec, {k: v.numpy() for k, v in state.items()})
    return pi


def test_ppo_round_trip_acts_like_the_trained_mean(tmp_path):
    pi = _ppo_checkpoint(tmp_path)
    agent = load_agent(tmp_path)
    obs = np.random.default_rng(0).standard_normal((5, 63)).astype(np.float32)
    expected = torch.clamp(pi(torch.as_tensor(obs))[:, :7], -1, 1).detach().numpy()
    np.testing.assert_allclose(agent.act(obs), expected, rtol=1e-6)
    single = agent.act(obs[0])
    assert single.shape == (7,)
    np.testing.assert_array_equal(agent.act(obs[0]), single)  # deterministic
    w = agent.target_weights(obs[0])
    assert w.shape == (7,) and np.all(w >= 0) and w.sum() <= 1 + 1e-9
    assert agent.target_network_state() == {}
    assert json.loads((tmp_path / "agent.json").read_text())["env_settings"]["lookback"] == 1


def test_ddqn_round_trip_is_greedy_and_keeps_the_target_net(tmp_path):
    torch.manual_seed(2)
    q, target = QNet(63, 70, 16, 2, dueling=True), QNet(63, 70, 16, 2, dueling=True)
    state = {f"q.{k}": v.numpy() for k, v in q.state_dict().items()}
    state |= {f"target_q.{k}": v.numpy() for k, v in target.state_dict().items()}
    spec = AgentSpec(
        algo="ddqn",
        obs_dim=63,
        n_assets=7,
        n_actions=70,
        hidden_size=16,
        n_layers=2,
        dueling=True,
        env_settings=EnvSettings(discrete_levels=10),
    )
    save_agent(tmp_path, spec, state)
    agent = load_agent(tmp_path)
    obs = np.random.default_rng(1).standard_normal((4, 63)).astype(np.float32)
    np.testing.assert_array_equal(agent.act(obs), q(torch.as_tensor(obs)).argmax(-1).numpy())
    assert isinstance(agent.act(obs[0]), int)
    tq = agent.target_network_state()
    torch.testing.assert_close(tq["advantage.0.weight"], target.state_dict()["advantage.0.weight"])
    w = agent.target_weights(obs[0])
    assert w.shape == (7,) and np.isnan(w).sum() >= 6  # one asset changes at most


def test_wrong_observation_length_is_a_clear_error(tmp_path):
    _ppo_checkpoint(tmp_path)
    with pytest.raises(DeployError, match="expects 63"):
        load_agent(tmp_path).act(np.zeros(91, dtype=np.float32))


def test_missing_or_broken_checkpoint(tmp_path):
    with pytest.raises(DeployError, match="not an agent checkpoint"):
        load_agent(tmp_path)
    _ppo_checkpoint(tmp_path)
    (tmp_path / "weights.pt").write_bytes(b"garbage")
    with pytest.raises(DeployError, match="unreadable"):
        load_agent(tmp_path)


def test_test_returns_file_round_trip(tmp_path):
    path = save_test_returns(tmp_path, {"s000_g01": np.array([0.1, -0.2]), "s000_g02": np.array([0.3])})
    with np.load(path) as data:
        assert sorted(data.files) == ["s000_g01", "s000_g02"]
        np.testing.assert_array_equal(data["s000_g01"], [0.1, -0.2])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_warm_start_reads_a_checkpoint_folder_and_keeps_its_policy(tmp_path):
    # Phase 1's checkpoint (7 features per asset) widened to phase 2's 11 features: with the
    # new inputs at zero the warm-started actor gives the checkpoint's output.
    from cappuccino_ray.agents.ppo import load_warm_start
    from cappuccino_ray.documents import WarmStart

    pi = _ppo_checkpoint(tmp_path)
    state = load_warm_start(
        WarmStart(str(tmp_path), n_assets=7, old_features=7, new_features=11, old_lookback=1, lookback=1)
    )
    new_pi, new_vf = PolicyNet(7 * 13, 7, 16, 2), ValueNet(7 * 13, 16, 2)
    new_pi.load_state_dict(state["pi"])
    new_vf.load_state_dict(state["vf"])
    x_old = torch.randn(4, 7, 9)
    x_new = torch.cat([x_old, torch.zeros(4, 7, 4)], dim=-1)
    torch.testing.assert_close(new_pi(x_new.reshape(4, -1)), pi(x_old.reshape(4, -1)))
    with pytest.raises(DeployError, match="not found"):
        load_warm_start(WarmStart(str(tmp_path / "missing"), 7, 7, 11, 1, 1))


def test_checkpoint_carries_the_whole_settings_and_refuses_the_old_format(tmp_path, monkeypatch):
    from cappuccino_ray.agents.checkpoint import FORMAT_VERSION, read_agent_spec
    from cappuccino_ray.config.env import FeeSchedule, FeeTier

    _ppo_checkpoint(tmp_path)
    doc = json.loads((tmp_path / "agent.json").read_text())
    assert doc["format"] == FORMAT_VERSION == 2
    tiers = doc["env_settings"]["fee_schedule"]["tiers"]
    assert tiers[0] == {"min_volume_usd": 0.0, "maker": 0.006, "taker": 0.012} and len(tiers) == 8
    # A custom table travels inside the checkpoint: read back from a folder with no configs/ beside it.
    custom = EnvSettings(
        fee_model="tiered", fee_schedule=FeeSchedule(name="mine", tiers=(FeeTier(0.0, 0.001, 0.002),))
    )
    doc["env_settings"] = json.loads(json.dumps(__import__("dataclasses").asdict(custom)))
    (tmp_path / "agent.json").write_text(json.dumps(doc))
    monkeypatch.chdir(tmp_path)
    assert read_agent_spec(tmp_path).env_settings == custom
    doc["format"] = 1
    (tmp_path / "agent.json").write_text(json.dumps(doc))
    with pytest.raises(DeployError, match="checkpoint format 1; this version reads format 2"):
        read_agent_spec(tmp_path)
    doc["format"] = 2
    doc["env_settings"]["slippage_bps"] = -1.0
    (tmp_path / "agent.json").write_text(json.dumps(doc))
    with pytest.raises(
        DeployError, match=r"agent\.json: env_settings\.slippage_bps is -1\.0; it must be >= 0"
    ):
        read_agent_spec(tmp_path)
