import gymnasium as gym
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cappuccino_ray.agents.ddqn import DDQNModule, linear_epsilon
from cappuccino_ray.agents.networks import PolicyNet, QNet, expand_first_layer


def test_ddqn_module_train_forward_feeds_rllib_double_q():
    obs_space = gym.spaces.Box(-1, 1, (5,), np.float32)
    module = DDQNModule(
        observation_space=obs_space,
        action_space=gym.spaces.Discrete(4),
        model_config={
            "hidden_size": 8,
            "n_layers": 2,
            "dueling": False,
            "epsilon_initial": 1.0,
            "epsilon_final": 0.0,
            "epsilon_timesteps": 10,
        },
    )
    module.make_target_networks()
    with torch.no_grad():
        for p in module._target_q.parameters():
            p.mul_(-2.0)
    obs, nxt = torch.randn(6, 5), torch.randn(6, 5)
    out = module.forward_train({"obs": obs, "new_obs": nxt})
    torch.testing.assert_close(out["qf_preds"], module.q(obs))
    torch.testing.assert_close(out["qf_next_preds"], module.q(nxt))
    torch.testing.assert_close(out["qf_target_next_preds"], module._target_q(nxt))
    # The target actually differs from the online net, so the double-Q choice matters.
    assert not torch.allclose(out["qf_next_preds"], out["qf_target_next_preds"])
    pairs = module.get_target_network_pairs()
    assert pairs[0][0] is module.q and pairs[0][1] is module._target_q


def test_epsilon_schedule_is_linear_then_flat():
    assert linear_epsilon(0, initial=1.0, final=0.1, steps=100) == 1.0
    assert linear_epsilon(50, initial=1.0, final=0.1, steps=100) == pytest.approx(0.55)
    assert linear_epsilon(1000, initial=1.0, final=0.1, steps=100) == pytest.approx(0.1)


def test_exploration_is_greedy_at_epsilon_zero():
    module = DDQNModule(
        observation_space=gym.spaces.Box(-1, 1, (5,), np.float32),
        action_space=gym.spaces.Discrete(4),
        model_config={
            "hidden_size": 8,
            "n_layers": 1,
            "dueling": True,
            "epsilon_initial": 0.0,
            "epsilon_final": 0.0,
            "epsilon_timesteps": 1,
        },
    )
    obs = torch.randn(32, 5)
    greedy = module.q(obs).argmax(-1)
    assert torch.equal(module.forward_exploration({"obs": obs}, t=0)["actions"], greedy)
    assert torch.equal(module.forward_inference({"obs": obs})["actions"], greedy)


def test_dueling_q_is_value_plus_centred_advantage():
    torch.manual_seed(0)
    net = QNet(5, 4, 8, 2, dueling=True)
    x = torch.randn(3, 5)
    h = torch.relu(net.torso(x))
    adv = net.advantage(h)
    torch.testing.assert_close(net(x), net.value(h) + adv - adv.mean(-1, keepdim=True))


@settings(max_examples=25, deadline=None)
@given(
    n_assets=st.integers(1, 4),
    old_lookback=st.integers(1, 3),
    lookback=st.integers(1, 3),
    seed=st.integers(0, 1000),
)
def test_widened_first_layer_ignores_new_inputs(n_assets, old_lookback, lookback, seed):
    # A phase-1 network widened to the phase-2 observation computes the same output
    # whatever the new inputs hold, as long as the shared inputs are equal.
    torch.manual_seed(seed)
    old_f, new_f = 7, 11
    old_dim, new_dim = n_assets * (2 + old_f * old_lookback), n_assets * (2 + new_f * lookback)
    old = PolicyNet(old_dim, n_assets, 16, 2)
    new = PolicyNet(new_dim, n_assets, 16, 2)
    sd = old.state_dict()
    sd["mean.0.weight"] = expand_first_layer(
        sd["mean.0.weight"],
        n_assets=n_assets,
        old_features=old_f,
        new_features=new_f,
        old_lookback=old_lookback,
        lookback=lookback,
    )
    new.load_state_dict(sd)
    lags = min(old_lookback, lookback)
    x_old = torch.randn(2, n_assets, 2 + old_f * old_lookback)
    # Zero the old lags the new observation does not carry.
    x_old[:, :, 2 : 2 + (old_lookback - lags) * old_f] = 0.0
    x_new = torch.randn(2, n_assets, 2 + new_f * lookback)
    x_new[:, :, :2] = x_old[:, :, :2]
    for back in range(1, lags + 1):
        src = 2 + (old_lookback - back) * old_f
        dst = 2 + (lookback - back) * new_f
        x_new[:, :, dst : dst + old_f] = x_old[:, :, src : src + old_f]
    torch.testing.assert_close(new(x_new.reshape(2, -1)), old(x_old.reshape(2, -1)))
