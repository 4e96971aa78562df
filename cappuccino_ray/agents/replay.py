"""The double-DQN's replay: a flat numpy ring buffer of n-step transitions.

RLlib's ``EpisodeReplayBuffer`` stores episode objects and rebuilds every
sampled transition from them in Python (slicing episodes, deep copies on
add); profiling put about half of the DQN training loop there. This buffer
stores transitions in preallocated arrays: adding a chunk of ``T`` steps is a
few array copies, sampling ``B`` transitions is one fancy-indexing gather.

N-step returns are computed once, when a chunk is added:
``R_t = sum_{i<k} gamma^i r_{t+i}`` with ``k = min(n, T - t)``, the next
observation ``s_{t+k}`` and ``terminated`` only where ``t + k`` is the end of
an episode that terminated (a truncated episode bootstraps from its last
observation). A chunk is what the env runner returns for one env copy in one
sample call, so an n-step return near a chunk's end is shortened to the steps
inside the chunk; ``n_step`` records ``k`` and the learner discounts the
bootstrap by ``gamma^k``. No Ray import here.
"""

from __future__ import annotations

import numpy as np

from cappuccino_ray.errors import ConfigError

__all__ = ["FlatReplayBuffer", "nstep_transitions"]


def nstep_transitions(
    obs: np.ndarray,
    actions: np.ndarray,
    rewards: np.ndarray,
    *,
    terminated: bool,
    n_step: int,
    gamma: float,
) -> dict[str, np.ndarray]:
    """N-step transitions of one contiguous chunk of an episode.

    Args:
        obs: Observations ``s_0 .. s_T``, shape ``(T + 1, ...)``.
        actions: Actions ``a_0 .. a_{T-1}``, shape ``(T,)``.
        rewards: Rewards ``r_0 .. r_{T-1}``, shape ``(T,)``.
        terminated: True if ``s_T`` is terminal (not for truncation or a chunk cut).
        n_step: N-step length (``>= 1``).
        gamma: Discount factor.

    Returns:
        ``obs, next_obs, actions, rewards, terminateds, n_step`` arrays of length ``T``.
    """
    t_len = len(rewards)
    if len(obs) != t_len + 1 or len(actions) != t_len:
        raise ConfigError(
            f"an episode chunk needs T + 1 observations and T actions; got {len(obs)} "
            f"observations, {len(actions)} actions and {t_len} rewards"
        )
    idx = np.arange(t_len)
    k = np.minimum(n_step, t_len - idx)
    padded = np.concatenate([np.asarray(rewards, dtype=np.float64), np.zeros(n_step - 1)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, n_step)
    returns = windows @ (gamma ** np.arange(n_step))
    end = idx + k
    return {
        "obs": obs[:-1],
        "next_obs": obs[end],
        "actions": np.asarray(actions),
        "rewards": returns.astype(np.float32),
        "terminateds": (end == t_len) & bool(terminated),
        "n_step": k.astype(np.float32),
    }


class FlatReplayBuffer:
    """Uniform replay over a fixed-capacity ring of transitions.

    Args:
        capacity: Transitions kept (the oldest are overwritten).
        seed: Seed of the sampler.
    """

    _COLUMNS = ("obs", "next_obs", "actions", "rewards", "terminateds", "n_step")

    def __init__(self, capacity: int, *, seed: int = 0) -> None:
        """Create an empty buffer; arrays are allocated on the first add."""
        if capacity < 1:
            raise ConfigError(f"replay capacity must be at least 1, got {capacity}")
        self.capacity = int(capacity)
        self.rng = np.random.default_rng(seed)
        self._data: dict[str, np.ndarray] = {}
        self._next = 0
        self._size = 0

    def __len__(self) -> int:
        """Transitions stored."""
        return self._size

    def add(self, transitions: dict[str, np.ndarray]) -> None:
        """Append transitions (the columns :func:`nstep_transitions` returns).

        Args:
            transitions: Column name -> array, all of the same length.
        """
        n = len(transitions["rewards"])
        if n == 0:
            return
        if not self._data:
            self._data = {
                c: np.zeros(
                    (self.capacity, *np.shape(transitions[c])[1:]), dtype=np.asarray(transitions[c]).dtype
                )
                for c in self._COLUMNS
            }
        if n > self.capacity:
            transitions = {c: np.asarray(transitions[c])[-self.capacity :] for c in self._COLUMNS}
            n = self.capacity
        # At most two contiguous slices (before and after the ring wraps): no index arrays.
        first = min(n, self.capacity - self._next)
        for c in self._COLUMNS:
            col, src = self._data[c], transitions[c]
            col[self._next : self._next + first] = src[:first]
            if first < n:
                col[: n - first] = src[first:]
        self._next = int((self._next + n) % self.capacity)
        self._size = min(self.capacity, self._size + n)

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        """``batch_size`` transitions drawn uniformly with replacement.

        Args:
            batch_size: Transitions to draw.

        Returns:
            Column name -> array of length ``batch_size``.
        """
        if self._size == 0:
            raise ConfigError("cannot sample from an empty replay buffer; raise learning_starts")
        idx = self.rng.integers(0, self._size, size=batch_size)
        return {c: self._data[c][idx] for c in self._COLUMNS}
