"""The vector env runner: bookkeeping by hand on a tiny env, GAE against RLlib's, determinism, training."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cappuccino_ray.agents import rllib_names as rl
from cappuccino_ray.agents.env_runner import Rollout, VectorEnvRunner, segments
from cappuccino_ray.agents.lean_dqn import rollout_transitions
from cappuccino_ray.agents.lean_ppo import gae, ppo_batch
from cappuccino_ray.agents.rllib_config import algorithm_config

LENGTH = 4


class CountingEnv(gym.Env[np.ndarray, Any]):
    """Episodes of exactly ``LENGTH`` steps; step ``k`` (1-based) pays ``k``, so every return is 10.

    The observation is ``[k / 10, 0]`` after ``k`` steps; episodes end by truncation.
    """

    def __init__(self, env_config: Any = None) -> None:
        """Discrete actions if ``env_config["discrete"]``, else a 2-vector."""
        cfg = dict(env_config or {})
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = (
            gym.spaces.Discrete(3) if cfg.get("discrete") else gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        )
        self.k = 0

    def _obs(self) -> np.ndarray:
        return np.array([self.k / 10, 0.0], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start at step 0."""
        super().reset(seed=seed)
        self.k = 0
        return self._obs(), {}

    def step(self, action: Any):
        """Pay the step number; truncate after ``LENGTH`` steps."""
        self.k += 1
        return self._obs(), float(self.k), False, self.k == LENGTH, {}


def _config(algo: str, *, env: Any = CountingEnv, env_config: Any = None, fast: bool = True, **kw: Any):
    from cappuccino_ray.agents.ddqn import DDQNModule
    from cappuccino_ray.agents.ppo import PPOModule

    if algo == "ppo":
        module, model = PPOModule, {"hidden_size": 8, "n_layers": 1}
        training = {"train_batch_size": 12, "minibatch_size": 6, "num_epochs": 1, "lr": 1e-3}
    else:
        module = DDQNModule
        model = {
            "hidden_size": 8,
            "n_layers": 1,
            "dueling": False,
            "epsilon_initial": 1.0,
            "epsilon_final": 0.1,
            "epsilon_timesteps": 100,
        }
        training = {
            "train_batch_size_per_learner": 8,
            "num_steps_sampled_before_learning_starts": 8,
            "double_q": True,
        }
    return algorithm_config(
        algo,  # type: ignore[arg-type]
        env=env,
        env_config=env_config if env_config is not None else {"discrete": algo == "dqn"},
        module_class=module,
        model_config=model,
        training=training,
        seed=kw.pop("seed", 0),
        num_envs=kw.pop("num_envs", 2),
        rollout_fragment_length=kw.pop("fragment", 3),
        buffer_size=1000,
        vector_entry_point=not isinstance(env, type),
        fast_runner=fast,
    )


def _rollout(
    valid: np.ndarray, done: np.ndarray, rewards: np.ndarray, term: np.ndarray | None = None
) -> Rollout:
    t_len, n = valid.shape
    term = np.zeros_like(done) if term is None else term
    return Rollout(
        obs=np.arange((t_len + 1) * n, dtype=np.float32).reshape(t_len + 1, n, 1),
        actions=np.zeros((t_len, n), dtype=np.int64),
        rewards=rewards,
        terminateds=term & done,
        truncateds=done & ~term,
        valid=valid,
    )


def test_segments_split_at_episode_ends_and_skip_autoreset_steps():
    # Copy 0: steps 0-1 end an episode, step 2 is its autoreset, steps 3-4 a new piece.
    # Copy 1: step 0 is an autoreset left from the previous call, steps 1-4 one piece.
    valid = np.array([[1, 0], [1, 1], [0, 1], [1, 1], [1, 1]], dtype=bool)
    done = np.array([[0, 0], [1, 0], [0, 0], [0, 0], [0, 0]], dtype=bool)
    got = [
        (s.copy, s.start, s.stop, s.terminated, s.truncated)
        for s in segments(_rollout(valid, done, np.ones((5, 2))))
    ]
    # RLlib's order: finished pieces first, then the running ones by copy.
    assert got == [(0, 0, 2, False, True), (0, 3, 5, False, False), (1, 1, 5, False, False)]


def test_nstep_transitions_of_a_rollout_stop_at_piece_ends():
    valid = np.array([[1], [1], [0], [1]], dtype=bool)
    done = np.array([[0], [1], [0], [0]], dtype=bool)
    rewards = np.array([[1.0], [2.0], [0.0], [4.0]])
    chunks = list(rollout_transitions(_rollout(valid, done, rewards, term=done), n_step=2, gamma=0.5))
    assert [len(c["rewards"]) for c in chunks] == [2, 1]
    # Piece 1: R_0 = 1 + 0.5 * 2 = 2 (k = 2, next obs s_2 terminal), R_1 = 2 (k = 1, terminal).
    np.testing.assert_allclose(chunks[0]["rewards"], [2.0, 2.0])
    np.testing.assert_array_equal(chunks[0]["terminateds"], [True, True])
    np.testing.assert_array_equal(chunks[0]["next_obs"][:, 0], [2.0, 2.0])
    np.testing.assert_array_equal(chunks[1]["obs"][:, 0], [3.0])
    np.testing.assert_array_equal(chunks[1]["next_obs"][:, 0], [4.0])


def test_gae_matches_rllibs_value_targets_on_one_copy():
    from ray.rllib.utils.postprocessing.value_predictions import compute_value_targets

    rng = np.random.default_rng(0)
    t_len = 7
    valid = np.ones((t_len, 1), dtype=bool)
    valid[4] = False  # autoreset after the episode ended at step 3
    done = np.zeros((t_len, 1), dtype=bool)
    done[3] = True
    term = done.copy()
    rewards = rng.standard_normal((t_len, 1)) * valid
    ro = _rollout(valid, done, rewards, term=term)
    values = rng.standard_normal((t_len + 1, 1))
    adv, targets = gae(ro, values, gamma=0.9, lambda_=0.8)
    # RLlib's per-piece computation: piece 0-3 (terminated), piece 5-6 (cut: bootstrap V(s_7)).
    for a, b, last_term in ((0, 4, True), (5, 7, False)):
        v = np.append(values[a:b, 0], values[b, 0])
        r = np.append(rewards[a:b, 0], 0.0)
        # RLlib marks the last real step terminated, or truncated (a cut), and appends
        # a bootstrap step that is neither.
        te, tr = np.zeros(b - a + 1), np.zeros(b - a + 1)
        (te if last_term else tr)[b - a - 1] = 1.0
        ref = compute_value_targets(v, r, te, tr, gamma=0.9, lambda_=0.8)
        np.testing.assert_allclose(targets[a:b, 0], ref[:-1], rtol=1e-5)
    assert np.isclose(adv[3, 0], rewards[3, 0] - values[3, 0])  # terminal: no bootstrap


def test_ppo_batch_drops_autoreset_steps_and_standardises_advantages():
    valid = np.array([[1, 1], [0, 1], [1, 1]], dtype=bool)
    done = np.array([[1, 0], [0, 0], [0, 0]], dtype=bool)
    ro = _rollout(valid, done, np.ones((3, 2)))
    ro.logp = np.zeros((3, 2))
    ro.dist_inputs = np.zeros((3, 2, 4), dtype=np.float32)
    batch = ppo_batch(ro, np.zeros((4, 2)), gamma=0.9, lambda_=1.0)
    # Copy-major: copy 0's steps 0 and 2, then copy 1's steps 0-2 (obs = 2 * t + copy).
    np.testing.assert_array_equal(batch[rl.OBS][:, 0], [0.0, 4.0, 1.0, 3.0, 5.0])
    assert abs(batch[rl.ADVANTAGES].mean()) < 1e-6 and np.isclose(batch[rl.ADVANTAGES].std(), 1.0, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_runner_bookkeeping_by_hand(ray_session, algo):
    algo_obj = _config(algo).build_algo()
    try:
        runner = algo_obj.env_runner_group.local_env_runner
        assert isinstance(runner, VectorEnvRunner)
        first = runner.sample(num_timesteps=6)
        assert [(len(e), e.t_started, e.is_truncated) for e in first] == [(3, 0, False)] * 2
        np.testing.assert_array_equal(first[0].get_rewards(), [1.0, 2.0, 3.0])
        second = runner.sample(num_timesteps=6)
        # Step 4 ends each episode, the next step is the autoreset, then a new episode starts;
        # finished pieces come first (RLlib's order).
        assert [(len(e), e.t_started, e.is_truncated) for e in second] == [(1, 3, True)] * 2 + [
            (2, 0, False)
        ] * 2
        assert second[0].id_ == first[0].id_ and second[2].id_ not in {first[0].id_, first[1].id_}
        np.testing.assert_allclose(second[0].get_observations()[:, 0], [0.3, 0.4])
        np.testing.assert_array_equal(second[2].get_rewards(), [1.0, 2.0])
        metrics = runner.get_metrics()
        assert metrics[rl.EPISODE_RETURN_MEAN] == 10.0
        assert metrics["episode_len_mean"] == LENGTH
        assert metrics["num_episodes"] == 2
        assert metrics["num_env_steps_sampled"] == 12
    finally:
        algo_obj.stop()


def _first_samples(algo: str, *, fast: bool, seed: int) -> list[np.ndarray]:
    a = _config(algo, fast=fast, seed=seed, num_envs=3, fragment=4).build_algo()
    try:
        runner = a.env_runner_group.local_env_runner
        out = []
        for _ in range(3):
            for ep in runner.sample(num_timesteps=9):
                out += [np.asarray(ep.get_observations()), np.asarray(ep.get_actions())]
                if algo == "ppo":
                    out.append(np.asarray(ep.get_extra_model_outputs(rl.ACTION_LOGP)))
        return out
    finally:
        a.stop()


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_same_seed_gives_identical_samples_and_rllibs_runner_the_same_actions(ray_session, algo):
    a = _first_samples(algo, fast=True, seed=5)
    b = _first_samples(algo, fast=True, seed=5)
    c = _first_samples(algo, fast=False, seed=5)
    assert len(a) == len(b) == len(c)
    for x, y, z in zip(a, b, c, strict=True):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_allclose(x, z, rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("algo", ["ppo", "ddqn"])
def test_both_algorithms_train_through_either_runner(ray_session, algo, fast):
    from cappuccino_ray.agents.training import train_agent
    from cappuccino_ray.config.agents import parse_trial_config
    from cappuccino_ray.data.synthetic import generate_market
    from cappuccino_ray.env import register_envs

    register_envs()
    extra = {"train_batch_size": 256, "minibatch_size": 128} if algo == "ppo" else {"learning_starts": 256}
    trial, params = parse_trial_config(
        {"algo": algo, "train_steps": 1024, "num_envs": 8, "fast_runner": fast, **extra}
    )
    settings = {"action_mode": "discrete" if algo == "ddqn" else "continuous", "episode_bars": 40}
    env_config = {"market": generate_market(600, seed=0), "mode": "train", "settings": settings}
    from cappuccino_ray.agents.env_runner import VectorEnvRunner
    from cappuccino_ray.agents.training import build_algorithm

    built = build_algorithm(trial, params, env_config=env_config, seed=0)
    try:  # the trial's switch picks the runner
        assert isinstance(built.env_runner_group.local_env_runner, VectorEnvRunner) == fast
    finally:
        built.stop()
    out = train_agent(trial, params, env_config=env_config, seed=0)
    assert out.env_steps >= 1024
    assert out.losses and all(np.isfinite(v) for v in out.losses.values())


@settings(max_examples=60, deadline=None)
@given(
    t_len=st.integers(1, 12),
    n=st.integers(1, 5),
    p_done=st.sampled_from([0.0, 0.2, 0.5, 1.0]),
    seed=st.integers(0, 2**16),
)
def test_one_step_transitions_of_a_rollout_equal_the_per_piece_ones(t_len, n, p_done, seed):
    rng = np.random.default_rng(seed)
    # As the runner records them: a copy's step after an episode end is its autoreset (invalid),
    # and a copy may start the call with an autoreset left from the previous one.
    done = np.zeros((t_len, n), dtype=bool)
    valid = np.zeros((t_len, n), dtype=bool)
    pending = rng.random(n) < 0.3
    for t in range(t_len):
        valid[t] = ~pending
        done[t] = valid[t] & (rng.random(n) < p_done)
        pending = done[t]
    ro = _rollout(valid, done, rng.standard_normal((t_len, n)), term=done & (rng.random((t_len, n)) > 0.5))
    ro.actions = rng.integers(0, 5, (t_len, n))
    got = list(rollout_transitions(ro, n_step=1, gamma=0.9))
    if not valid.any():
        assert got == []
        return
    (fast,) = got
    from cappuccino_ray.agents.replay import nstep_transitions

    slow = [
        nstep_transitions(
            ro.obs[s.start : s.stop + 1, s.copy],
            ro.actions[s.start : s.stop, s.copy],
            ro.rewards[s.start : s.stop, s.copy],
            terminated=s.terminated,
            n_step=1,
            gamma=0.9,
        )
        for s in segments(ro)
    ]
    for key in fast:
        np.testing.assert_array_equal(fast[key], np.concatenate([c[key] for c in slow]), err_msg=key)


@pytest.mark.slow
def test_episode_metrics_equal_rllibs_one_by_one_logging(ray_session):
    # Two rounds of finished episodes: more than the stats' window, then fewer.
    rng = np.random.default_rng(0)
    rounds = [
        (rng.integers(1, 50, k).tolist(), rng.standard_normal(k).tolist(), rng.random(k).tolist())
        for k in (250, 12)
    ]
    batched, one_by_one, probe = (VectorEnvRunner(config=_config("ppo")) for _ in range(3))
    assert 12 < batched.config.metrics_num_episodes_for_smoothing < 250
    keys = [key if isinstance(key, tuple) else (key,) for key, _ in rl.EPISODE_STATS]

    def leaves(tree: dict, path: tuple = ()) -> set[tuple]:
        out: set[tuple] = set()
        for k, v in tree.items():
            out |= leaves(v, (*path, k)) if isinstance(v, dict) else {(*path, k)}
        return out

    # The table holds every stat RLlib's per-episode logging creates, no more.
    before = leaves(probe.metrics.stats)
    probe._log_episode_metrics(3, 1.5, 0.25)
    assert leaves(probe.metrics.stats) - before == set(keys)
    for lengths, returns, seconds in rounds:
        batched._done_lengths += lengths
        batched._done_returns += returns
        batched._done_seconds += seconds
        got = batched.get_metrics()
        for episode in zip(lengths, returns, seconds, strict=True):
            one_by_one._log_episode_metrics(*episode)
        want = rl.SingleAgentEnvRunner.get_metrics(one_by_one)
        for key in keys:
            g, w = got, want
            for part in key:
                g, w = g[part], w[part]
            assert float(g) == float(w), key
    # The second round by hand: its 12 episodes, nothing carried over from the first.
    assert float(got[rl.EPISODE_RETURN_MEAN]) == pytest.approx(np.mean(rounds[1][1]))
    assert float(got["episode_len_max"]) == max(rounds[1][0])
