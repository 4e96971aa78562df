"""The lean training path: plain-call networks, the Gaussian draw, minibatches, the learners' step, cycles."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cappuccino_ray.agents import batching
from cappuccino_ray.agents import rllib_names as rl
from cappuccino_ray.agents.env_runner import _diag_gaussian_sample
from cappuccino_ray.agents.networks import MLP, mlp


def test_mlp_computes_what_its_sequential_computes_bit_for_bit():
    torch.manual_seed(0)
    for activation in ("tanh", "relu"):
        net = mlp(9, 16, 2, 3, activation=activation, out_gain=0.5)
        plain = nn.Sequential(*list(net))  # the same layer objects, called as modules
        assert (
            list(net.state_dict())
            == list(plain.state_dict())
            == [
                "0.weight",
                "0.bias",
                "2.weight",
                "2.bias",
                "4.weight",
                "4.bias",
            ]
        )
        x = torch.randn(33, 9)
        assert torch.equal(net(x), plain(x))
        assert torch.equal(net(x[0]), plain(x[0]))  # one observation, no batch axis


def test_a_copied_mlp_runs_its_own_layers():
    net = mlp(4, 8, 1, 2, activation="relu", out_gain=1.0)
    target = copy.deepcopy(net)  # what RLlib's make_target_network does
    x = torch.randn(5, 4)
    before = net(x).detach().clone()
    with torch.no_grad():
        for p in target.parameters():
            p.mul_(-3.0)
    assert torch.equal(net(x), before)
    assert not torch.allclose(target(x), before)


def test_mlp_refuses_layers_it_cannot_run_and_changes_to_its_layers():
    net = mlp(4, 8, 1, 2, activation="tanh", out_gain=1.0)
    for change in (
        lambda: net.append(nn.Tanh()),
        lambda: net.insert(0, nn.Linear(4, 4)),
        lambda: net.__setitem__(0, nn.Linear(4, 8)),
        lambda: net.__delitem__(1),
    ):
        with pytest.raises(TypeError, match="fixed"):
            change()
    head = net[0:2]  # slicing builds a new MLP of the same layer objects
    assert isinstance(head, MLP) and head[0] is net[0]
    x = torch.randn(3, 4)
    assert torch.equal(head(x), torch.tanh(net[0](x)))
    with pytest.raises(TypeError, match="linear layers"):
        MLP(nn.Linear(2, 2), nn.Tanh(), nn.ReLU())
    with pytest.raises(TypeError, match="linear layers"):
        MLP(nn.Tanh(), nn.Linear(2, 2))


def test_gaussian_draw_is_rllibs_draw():
    inputs = torch.cat([torch.randn(64, 7), torch.randn(64, 7) * 0.3 - 0.5], dim=-1)
    torch.manual_seed(11)
    actions, logp = _diag_gaussian_sample(inputs.clone())
    torch.manual_seed(11)
    dist = rl.TorchDiagGaussian.from_logits(inputs)
    expected = dist.sample()
    assert torch.equal(actions, expected)
    torch.testing.assert_close(logp, dist.logp(expected), rtol=1e-6, atol=1e-6)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 5000),
    size=st.integers(1, 2000),
    epochs=st.integers(1, 3),
    shuffle=st.booleans(),
    seed=st.integers(0, 2**40),
)
def test_minibatches_cover_every_row_once_per_epoch_in_near_equal_parts(n, size, epochs, shuffle, seed):
    parts = batching.minibatch_parts(n, size, num_epochs=epochs, shuffle=shuffle, seed=seed)
    per_epoch = max(1, round(n / size))
    assert len(parts) == per_epoch * epochs
    for e in range(epochs):
        chunk = parts[e * per_epoch : (e + 1) * per_epoch]
        rows = [np.arange(n)[p] if isinstance(p, slice) else p for p in chunk]
        np.testing.assert_array_equal(np.sort(np.concatenate(rows)), np.arange(n))
        sizes = [len(r) for r in rows]
        assert max(sizes) - min(sizes) <= 1
        if not shuffle:
            np.testing.assert_array_equal(np.concatenate(rows), np.arange(n))
    again = batching.minibatch_parts(n, size, num_epochs=epochs, shuffle=shuffle, seed=seed)
    for a, b in zip(parts, again, strict=True):
        assert (a == b) if isinstance(a, slice) else np.array_equal(a, b)


@given(batch=st.integers(1, 10_000), budget=st.integers(0, 10**9), most=st.integers(1, 100_000))
def test_iterations_are_whole_batches_about_a_tenth_of_the_budget(batch, budget, most):
    steps = batching.iteration_steps(batch, budget, most=most)
    assert steps % batch == 0
    assert batch <= steps <= max(batch, min(most, budget // 10))


def _algo(algo: str, **hp):
    from cappuccino_ray.agents.training import build_algorithm
    from cappuccino_ray.config.agents import parse_trial_config
    from cappuccino_ray.data.synthetic import generate_market
    from cappuccino_ray.env import register_envs

    register_envs()
    trial, params = parse_trial_config(
        {"algo": algo, "train_steps": 100_000, "num_envs": 8, "fast_runner": True, **hp}
    )
    settings_ = {"action_mode": "discrete" if algo == "ddqn" else "continuous", "episode_bars": 40}
    env_config = {"market": generate_market(600, seed=0), "mode": "train", "settings": settings_}
    return build_algorithm(trial, params, env_config=env_config, seed=0)  # budget 100,000 steps


@pytest.mark.slow
def test_learner_clips_by_the_global_norm_and_zeroes_nan_gradients(ray_session):
    from cappuccino_ray.agents.learners import LeanPPOLearner

    algo = _algo("ppo", train_batch_size=128, minibatch_size=64)
    try:
        learner = algo.learner_group._learner
        assert isinstance(learner, LeanPPOLearner)  # the trial's config picks the lean learner
        assert learner.get_optimizer().defaults["fused"]
        clip = float(algo.config.grad_clip)
        torch.manual_seed(3)
        grads = {pid: torch.randn_like(p) * 10.0 for pid, p in learner._params.items()}
        total = math.sqrt(sum(float(g.norm()) ** 2 for g in grads.values()))
        assert total > clip
        expected = {pid: g * (clip / (total + 1e-6)) for pid, g in grads.items()}
        out = learner.postprocess_gradients({pid: g.clone() for pid, g in grads.items()})
        for pid, g in out.items():
            torch.testing.assert_close(g, expected[pid], rtol=1e-5, atol=1e-7)
        logged = learner.metrics.peek((rl.DEFAULT_MODULE_ID, "gradients_default_optimizer_global_norm"))
        assert float(logged) == pytest.approx(total, rel=1e-5)
        # A NaN gradient: RLlib's handling (set to zero) runs, no weight turns NaN.
        before = {pid: p.detach().clone() for pid, p in learner._params.items()}
        bad = {pid: g.clone() for pid, g in grads.items()}
        first = next(iter(bad))
        bad[first][...] = float("nan")
        learner.apply_gradients(learner.postprocess_gradients(bad))
        for pid, p in learner._params.items():
            assert torch.isfinite(p).all(), pid
        assert any(not torch.equal(p, before[pid]) for pid, p in learner._params.items())
    finally:
        algo.stop()


@pytest.mark.slow
def test_lean_gradients_are_rllibs_and_forward_train_sets_train_mode_once(ray_session):  # and off-policyness
    algo = _algo("ppo", train_batch_size=128, minibatch_size=64)
    try:
        learner = algo.learner_group._learner
        params = list(learner._params.values())

        def loss() -> dict[str, torch.Tensor]:
            return {rl.DEFAULT_MODULE_ID: sum((p * p * (k + 1)).sum() for k, p in enumerate(params))}

        for p in params:
            p.grad = torch.ones_like(p)  # stale gradients: dropped, not added to
        lean = {pid: g.clone() for pid, g in learner.compute_gradients(loss()).items()}
        theirs = rl.PPOTorchLearner.compute_gradients(learner, loss())  # RLlib's own
        assert lean.keys() == theirs.keys() and len(lean) == len(params)
        for pid, g in lean.items():
            assert torch.equal(g, theirs[pid])
        assert learner.compute_gradients({rl.DEFAULT_MODULE_ID: torch.zeros(())}) == {}  # nothing to train

        module = learner.module[rl.DEFAULT_MODULE_ID]
        obs = torch.zeros(4, int(np.prod(module.observation_space.shape)))
        module.eval()
        module.forward_train({rl.OBS: obs})
        assert all(m.training for m in module.modules())  # back in train mode, every submodule
        calls = []
        module.train = lambda mode=True: calls.append(mode)  # type: ignore[method-assign]
        out = module.forward_train({rl.OBS: obs})
        assert calls == [] and out[rl.ACTION_DIST_INPUTS].shape[0] == 4

        # Off-policyness: logged as RLlib logs it when the batch carries the sampler's weight
        # numbers, and nothing (as with RLlib) when it does not.
        gap = (rl.DEFAULT_MODULE_ID, "diff_num_grad_updates_vs_sampler_policy")
        learner._weights_seq_no = 7
        learner._compute_off_policyness({rl.DEFAULT_MODULE_ID: {rl.OBS: obs}})
        assert learner.metrics.peek(gap, default="absent") == "absent"
        seq = torch.tensor([5, 6, 7, 7])
        learner._compute_off_policyness({rl.DEFAULT_MODULE_ID: {rl.OBS: obs, rl.WEIGHTS_SEQ_NO: seq}})
        assert float(learner.metrics.peek(gap)) == pytest.approx(0.75)
    finally:
        algo.stop()


@pytest.mark.slow
def test_a_ppo_iteration_runs_whole_cycles_and_trains_each_batch_for_its_epochs(ray_session):
    algo = _algo("ppo", train_batch_size=128, minibatch_size=64, num_epochs=3)
    try:
        result = algo.train()  # 4 batches: the most, under a tenth of the budget
        sampled = rl.steps_sampled(result)
        assert 4 * 128 <= sampled < 4 * (128 + 8)
        assert rl.steps_trained(result, replayed=True) == 3 * sampled
        assert all(np.isfinite(v) for v in rl.loss_values(result).values())
    finally:
        algo.stop()


@pytest.mark.slow
def test_a_ddqn_iteration_owes_one_update_per_batch_of_new_steps(ray_session):
    algo = _algo("ddqn", train_batch_size=64, rollout_fragment_length=16, learning_starts=0)
    try:
        sampled = trained = 0
        for _ in range(2):
            result = algo.train()
            sampled = rl.steps_sampled(result)
            trained = rl.steps_trained(result, replayed=True)
            assert trained == 64 * (sampled // 64)
            assert rl.loss_values(result)  # every iteration trained and reports its losses
        assert 2 * 4096 <= sampled < 2 * (4096 + 8)  # 32 cycles of 16 x 8 steps per iteration
    finally:
        algo.stop()


def test_cycle_goal_is_a_tenth_of_the_budget_in_whole_units_and_stops_at_the_budget():
    from types import SimpleNamespace

    # A double-DQN unit: the fewest sample calls that owe one gradient step.
    assert batching.update_unit(512, 256, 1.0) == 512
    assert batching.update_unit(512, 1024, 1.0) == 1024
    assert batching.update_unit(512, 1024, 4.0) == 512
    assert batching.update_unit(96, 256, 1.0) == 288
    assert batching.cycle_goal(SimpleNamespace(), 0, 128, most=512) == 0  # no budget: one cycle
    algo = SimpleNamespace(step_budget=100_000)
    assert batching.cycle_goal(algo, 0, 128, most=512) == 512  # the most, under a tenth
    assert batching.cycle_goal(algo, 99_700, 128, most=512) == 384  # 300 left: rounded up to 3 units
    assert batching.cycle_goal(algo, 100_000, 128, most=512) == 0  # spent: the step runs one cycle
    assert (
        batching.cycle_goal(SimpleNamespace(step_budget=5_000), 0, 128, most=4096) == 384
    )  # a tenth: 3 units


@pytest.mark.slow
@pytest.mark.parametrize(
    ("algo", "hp"),
    [
        ("ppo", {"train_batch_size": 128, "minibatch_size": 64}),
        ("ddqn", {"train_batch_size": 64, "rollout_fragment_length": 16, "learning_starts": 0}),
    ],
)
def test_training_stops_within_one_unit_of_the_step_budget(ray_session, algo, hp):
    built = _algo(algo, **hp)  # both sample in units of 128 env steps
    try:
        batching.set_step_budget(built, 5_000)  # iterations of 3 units
        sampled, sizes = 0, []
        while sampled < 5_000:
            result = built.train()
            sizes.append(rl.steps_sampled(result) - sampled)
            sampled = rl.steps_sampled(result)
            assert rl.loss_values(result)  # every iteration trains and reports its losses
        assert all(384 <= n < 384 + 24 for n in sizes[:-1])
        assert sampled < 5_000 + 128 + 8  # not a whole 3-unit iteration past the budget
    finally:
        built.stop()
