"""The double-DQN's flat replay buffer: hand-computed n-step transitions, ring overwrite, seeding."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cappuccino_ray.agents.replay import FlatReplayBuffer, nstep_transitions
from cappuccino_ray.errors import ConfigError


def test_nstep_transitions_by_hand():
    obs = np.arange(5, dtype=np.float32)[:, None]  # s0..s4, T = 4
    out = nstep_transitions(
        obs, np.array([0, 1, 2, 3]), np.array([1.0, 2.0, 3.0, 4.0]), terminated=True, n_step=2, gamma=0.5
    )
    np.testing.assert_allclose(out["rewards"], [1 + 0.5 * 2, 2 + 0.5 * 3, 3 + 0.5 * 4, 4])
    np.testing.assert_array_equal(out["next_obs"][:, 0], [2, 3, 4, 4])
    np.testing.assert_array_equal(out["n_step"], [2, 2, 2, 1])
    np.testing.assert_array_equal(out["terminateds"], [False, False, True, True])
    np.testing.assert_array_equal(out["obs"][:, 0], [0, 1, 2, 3])


def test_truncated_chunk_bootstraps():
    out = nstep_transitions(np.zeros((3, 2)), np.zeros(2), np.ones(2), terminated=False, n_step=1, gamma=0.9)
    assert not out["terminateds"].any()


def test_chunk_shape_mismatch_is_config_error():
    with pytest.raises(ConfigError, match="T \\+ 1 observations"):
        nstep_transitions(np.zeros((3, 2)), np.zeros(3), np.ones(3), terminated=False, n_step=1, gamma=0.9)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 30), st.integers(1, 5), st.floats(0.0, 1.0))
def test_nstep_matches_loop(t_len, n, gamma):
    rng = np.random.default_rng(t_len)
    r = rng.standard_normal(t_len)
    out = nstep_transitions(
        np.zeros((t_len + 1, 1)), np.zeros(t_len), r, terminated=False, n_step=n, gamma=gamma
    )
    for t in range(t_len):
        k = min(n, t_len - t)
        assert out["rewards"][t] == pytest.approx(sum(gamma**i * r[t + i] for i in range(k)), abs=1e-4)


def test_ring_overwrites_oldest_and_sampling_is_seeded():
    def fill(seed):
        buf = FlatReplayBuffer(4, seed=seed)
        for start in (0, 3):
            obs = np.arange(start, start + 4, dtype=np.float32)[:, None]
            buf.add(nstep_transitions(obs, np.zeros(3), obs[:-1, 0], terminated=False, n_step=1, gamma=0.9))
        return buf

    buf = fill(0)
    assert len(buf) == 4
    # Capacity 4 after 6 transitions: the two oldest (rewards 0, 1) are gone.
    assert set(buf.sample(200)["rewards"].tolist()) == {2, 3, 4, 5}
    np.testing.assert_array_equal(fill(7).sample(16)["obs"], fill(7).sample(16)["obs"])
    assert not np.array_equal(fill(7).sample(16)["obs"], fill(8).sample(16)["obs"])
    with pytest.raises(ConfigError):
        FlatReplayBuffer(4).sample(1)
