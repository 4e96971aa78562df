"""``VectorEnvRunner``: an RLlib env runner that steps the project's vector env directly.

RLlib's ``SingleAgentEnvRunner`` handles every env copy one by one in Python on
every step: it splits the batched observation into items, runs two connector
pipelines, appends each item to an episode object and makes per-copy callbacks.
Profiled at 64 copies (``bench/bench_train.py``), that bookkeeping was about
three quarters of a PPO iteration; stepping the env and the module's forward
were a fifth of it.

This runner keeps RLlib's runner (it subclasses it: spaces, module, weights
sync, state, metrics and checkpoints are RLlib's) and replaces its sampling
loop. Per step it makes one forward pass of the RLModule over all copies in
inference mode, samples the actions from the module's own action
distribution the way RLlib's ``GetActions`` connector does, makes one call to
the vector env, and appends the step's batch arrays, stacked into ``(T, num_envs)``
arrays at the end. Episode returns and lengths are kept in preallocated per-copy arrays.

The env must follow Gymnasium's next-step autoreset (the project's
:class:`~cappuccino_ray.env.vector_env.CryptoTradingVectorEnv`, or gymnasium's
``SyncVectorEnv``): the step after a copy's episode ends is that copy's reset,
marked invalid in :attr:`Rollout.valid` and not counted as an env step.

:meth:`VectorEnvRunner.sample_arrays` hands the arrays to the project's lean
training steps (:mod:`.lean_ppo`, :mod:`.lean_dqn`); :meth:`VectorEnvRunner.sample`
turns the same arrays into RLlib's ``SingleAgentEpisode`` chunks (one object
per episode piece per call), so any RLlib algorithm can use the runner.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from cappuccino_ray.agents import rllib_names as rl

__all__ = ["Rollout", "Segment", "VectorEnvRunner", "segments"]


@dataclass
class Rollout:
    """One sample call: ``T`` env steps of ``N`` copies, time-major.

    Attributes:
        obs: Observations before each step and after the last, ``(T + 1, N, ...)``.
        actions: Actions as the module produced them, ``(T, N, ...)``.
        rewards: ``(T, N)``.
        terminateds: ``(T, N)``.
        truncateds: ``(T, N)``.
        valid: False where the step was a copy's autoreset (not an env step), ``(T, N)``.
        logp: Log-probability of the actions, ``(T, N)``, when the module outputs a distribution.
        dist_inputs: The distribution's inputs, ``(T, N, k)``, likewise.
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminateds: np.ndarray
    truncateds: np.ndarray
    valid: np.ndarray
    logp: np.ndarray | None = None
    dist_inputs: np.ndarray | None = None


@dataclass(frozen=True)
class Segment:
    """A contiguous piece of one copy's episode inside a :class:`Rollout`.

    Steps ``start .. stop - 1`` of copy ``copy``; its observations are
    ``obs[start .. stop, copy]`` (the last one is the final observation if the
    episode ended, else the one the next call continues from).
    """

    copy: int
    start: int
    stop: int
    terminated: bool
    truncated: bool


def segments(rollout: Rollout) -> list[Segment]:
    """Every episode piece in ``rollout``, in the order RLlib's runner returns its episodes.

    That is: the pieces that ended, by the step they ended on (then by copy),
    then the pieces still running, by copy. Keeping RLlib's order keeps a
    replay buffer's content, and so a seeded run, the same with either runner.
    """
    pieces = list(_pieces(rollout))
    t_len = rollout.valid.shape[0]
    pieces.sort(key=lambda s: (s.stop if s.terminated or s.truncated else t_len + 1, s.copy))
    return pieces


def _pieces(rollout: Rollout) -> Iterator[Segment]:
    done = (rollout.terminateds | rollout.truncateds) & rollout.valid
    t_len = rollout.valid.shape[0]
    for n in range(rollout.valid.shape[1]):
        valid = rollout.valid[:, n]
        ends = np.flatnonzero(done[:, n])
        start = 0
        for end in (*ends.tolist(), t_len - 1):
            while start <= end and not valid[start]:
                start += 1
            if start > end:
                continue
            finished = bool(done[end, n])
            yield Segment(
                n,
                start,
                end + 1,
                bool(rollout.terminateds[end, n]) and finished,
                bool(rollout.truncateds[end, n]) and finished,
            )
            start = end + 1


_LOG_SQRT_2PI = math.log(math.sqrt(2 * math.pi))


def _diag_gaussian_sample(inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample and log-probability of RLlib's ``TorchDiagGaussian`` without building the objects.

    ``torch.normal(loc, scale)`` (what ``TorchDiagGaussian.sample()`` calls)
    draws ``noise ~ N(0, 1)`` and returns ``noise * scale + loc``; this draws
    the same noise and computes the same actions, bit for bit. The
    log-probability is computed from the noise,
    ``-noise**2 / 2 - log_std - log(sqrt(2 pi))`` summed over the action,
    which is RLlib's ``-(a - loc)**2 / (2 scale**2) - log(scale) - log(sqrt(2 pi))``
    up to rounding (relative difference about 1e-7). Building the
    distribution objects cost more than the draw itself.
    """
    loc, log_std = inputs.chunk(2, dim=-1)
    noise = torch.randn_like(loc)
    logp = noise.square().sum(-1).mul_(-0.5)
    logp -= log_std.sum(-1)
    logp -= loc.shape[-1] * _LOG_SQRT_2PI
    actions = noise.mul_(log_std.exp()).add_(loc)
    return actions, logp


class VectorEnvRunner(rl.SingleAgentEnvRunner):
    """RLlib's single-agent env runner with a batched sampling loop (see the module docstring).

    Sampling a number of episodes, random actions, or a runner without a
    module fall back to RLlib's own loop.
    """

    def __init__(self, *, config: Any, **kwargs: Any) -> None:
        """Build RLlib's runner (env, module, connectors), then the per-copy episode arrays."""
        super().__init__(config=config, **kwargs)
        n = int(self.num_envs)
        self._obs: np.ndarray | None = None
        self._seeded = False
        self._pending_reset = np.zeros(n, dtype=bool)
        self._ep_return = np.zeros(n)
        self._ep_len = np.zeros(n, dtype=np.int64)
        self._ep_start = np.zeros(n)
        self._ep_id = np.arange(n, dtype=np.int64)
        self._next_id = n
        self._done_returns: list[float] = []
        self._done_lengths: list[int] = []
        self._done_seconds: list[float] = []

    # ------------------------------------------------------------------ sampling

    def _reset_all(self) -> None:
        venv: Any = self.env.unwrapped if self.env is not None else None
        obs, _ = venv.reset(seed=None if self._seeded else self._seed)
        self._seeded = True
        self._obs = np.asarray(obs, dtype=np.float32)
        n = int(self.num_envs)
        self._pending_reset[:] = False
        self._ep_return[:] = 0.0
        self._ep_len[:] = 0
        self._ep_start[:] = time.time()
        self._ep_id = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n

    def _act(self, obs: np.ndarray, explore: bool, t: int, dist_cls: Any) -> tuple[np.ndarray, Any, Any]:
        """Actions (and log-probabilities and distribution inputs, if any) for a batch of observations.

        Runs under ``torch.inference_mode()`` (the caller's, once per sample call);
        ``dist_cls`` is the module's action distribution class for ``explore``.
        """
        module: Any = self.module
        batch = {rl.OBS: torch.from_numpy(obs)}
        # RLlib's forward_exploration/inference would call ``eval()`` on the whole
        # module tree every step; the runner's module is put in eval mode once
        # (``sample_arrays``) and its forward methods are called directly.
        out = module._forward_exploration(batch, t=t) if explore else module._forward_inference(batch)
        if rl.ACTIONS in out:
            return out[rl.ACTIONS].numpy(), None, None
        # What RLlib's GetActions connector does with distribution inputs.
        inputs = out[rl.ACTION_DIST_INPUTS]
        if explore and dist_cls is rl.TorchDiagGaussian:
            actions, logp = _diag_gaussian_sample(inputs)
            return actions.numpy(), logp.numpy(), inputs.numpy()
        dist = dist_cls.from_logits(inputs)
        if not explore:
            dist = dist.to_deterministic()
        actions = dist.sample()
        logp = dist.logp(actions)
        return actions.numpy(), logp.numpy(), inputs.numpy()

    def sample_arrays(self, *, num_timesteps: int | None = None, explore: bool | None = None) -> Rollout:
        """Step every copy until ``num_timesteps`` env steps are collected.

        Args:
            num_timesteps: Env steps to collect (default: the rollout fragment
                length times the number of copies); the result holds at least
                that many and fewer than that plus the number of copies.
            explore: Sample from the exploration policy (default: the config's ``explore``).

        Returns:
            The :class:`Rollout`. Copies continue where they stopped on the next call.
        """
        cfg: Any = self.config
        n = int(self.num_envs)
        if explore is None:
            explore = bool(cfg.explore)
        if num_timesteps is None:
            num_timesteps = int(cfg.get_rollout_fragment_length(self.worker_index)) * n
        if self._obs is None:
            self._reset_all()
        module: Any = self.module
        if module.training:
            module.eval()  # once: RLlib's forward_* would switch it back and forth on every call
        venv: Any = self.env.unwrapped if self.env is not None else None
        t0 = time.perf_counter()
        obs_l: list[np.ndarray] = []
        act_l: list[np.ndarray] = []
        rew_l: list[np.ndarray] = []
        term_l: list[np.ndarray] = []
        trunc_l: list[np.ndarray] = []
        valid_l: list[np.ndarray] = []
        logp_l: list[Any] = []
        dist_l: list[Any] = []
        ts = 0
        obs = self._obs
        assert obs is not None
        lifetime = int(self.num_env_steps_sampled_lifetime)
        done_before = len(self._done_lengths)
        dist_cls = (
            module.get_exploration_action_dist_cls() if explore else module.get_inference_action_dist_cls()
        )
        with torch.inference_mode():
            while ts < num_timesteps:
                actions, logp, dist_inputs = self._act(obs, explore, lifetime + ts, dist_cls)
                nxt, reward, term, trunc, _ = venv.step(actions)
                valid = ~self._pending_reset
                reward = np.asarray(reward, dtype=np.float64) * valid
                term = np.asarray(term, dtype=bool) & valid
                trunc = np.asarray(trunc, dtype=bool) & valid
                obs_l.append(obs)
                act_l.append(actions)
                rew_l.append(reward)
                term_l.append(term)
                trunc_l.append(trunc)
                valid_l.append(valid)
                logp_l.append(logp)
                dist_l.append(dist_inputs)
                ts += int(np.count_nonzero(valid))
                self._episode_step(reward, valid, term | trunc)
                obs = np.asarray(nxt, dtype=np.float32)  # vector envs return a fresh array each step
        obs_l.append(obs)
        self._obs = obs
        rollout = Rollout(
            obs=np.stack(obs_l),
            actions=np.stack(act_l),
            rewards=np.stack(rew_l),
            terminateds=np.stack(term_l),
            truncateds=np.stack(trunc_l),
            valid=np.stack(valid_l),
            logp=None if logp_l[0] is None else np.stack(logp_l),
            dist_inputs=None if dist_l[0] is None else np.stack(dist_l),
        )
        self._count(ts, len(self._done_lengths) - done_before, time.perf_counter() - t0)
        return rollout

    def _episode_step(self, reward: np.ndarray, valid: np.ndarray, done: np.ndarray) -> None:
        self._ep_return += reward
        self._ep_len += valid
        rows = np.flatnonzero(done)
        if len(rows):
            now = time.time()
            self._done_returns.extend(self._ep_return[rows].tolist())
            self._done_lengths.extend(self._ep_len[rows].tolist())
            self._done_seconds.extend((now - self._ep_start[rows]).tolist())
            self._ep_return[rows] = 0.0
            self._ep_len[rows] = 0
            self._ep_start[rows] = now
            self._ep_id[rows] = np.arange(self._next_id, self._next_id + len(rows))
            self._next_id += len(rows)
        # A copy whose episode ended is reset by its next step (next-step autoreset).
        self._pending_reset = done

    def _count(self, ts: int, episodes: int, seconds: float) -> None:
        """Log the sampling metrics RLlib's runner logs (steps, lifetime steps, episodes, timer)."""
        self.metrics.log_value(rl.SAMPLE_TIMER, seconds)
        self._log_env_steps(metric=self._metrics_num_env_steps_sampled, num_steps=ts)
        self._increase_sampled_metrics(ts, episodes)

    def sample(self, **kwargs: Any) -> Any:
        """RLlib's ``sample()``: the batched loop's arrays as ``SingleAgentEpisode`` chunks.

        Keywords as RLlib's (``num_timesteps``, ``num_episodes``, ``explore``,
        ``random_actions``, ``force_reset``). Sampling whole episodes or random
        actions, or a runner without a module, goes through RLlib's own loop
        (the batched loop then starts afresh on its next call).
        """
        num_timesteps = kwargs.get("num_timesteps")
        force_reset = bool(kwargs.get("force_reset", False))
        if (
            kwargs.get("num_episodes") is not None
            or kwargs.get("random_actions")
            or self.module is None
            or (num_timesteps is None and self.config.batch_mode != "truncate_episodes")
        ):
            self._obs = None
            return list(super().sample(**kwargs))
        if force_reset or self._obs is None:
            self._reset_all()
        starts = self._ep_len.copy()
        ids = self._ep_id.copy()
        rollout = self.sample_arrays(num_timesteps=num_timesteps, explore=kwargs.get("explore"))
        return self.to_episodes(rollout, t_started=starts, ids=ids)

    def to_episodes(self, rollout: Rollout, *, t_started: np.ndarray, ids: np.ndarray) -> list[Any]:
        """``SingleAgentEpisode`` chunks of ``rollout`` (numpy-backed, no lookback).

        A piece that continues the episode a copy was in when the rollout
        started keeps that episode's id and start; a piece still running at the
        end gets the id the next call continues. Episode ids are
        ``"<worker>-<number>"``.

        Args:
            rollout: What :meth:`sample_arrays` returned.
            t_started: Each copy's episode length at the rollout's start.
            ids: Each copy's episode number at the rollout's start.
        """
        env: Any = self.env
        worker = self.worker_index or 0
        out: list[Any] = []
        for seg in segments(rollout):
            s, e, c = seg.start, seg.stop, seg.copy
            continued = s == 0
            if continued:
                number, t0 = int(ids[c]), int(t_started[c])
            elif e == rollout.valid.shape[0] and not (seg.terminated or seg.truncated):
                number, t0 = int(self._ep_id[c]), 0
            else:
                number, t0 = self._next_id, 0
                self._next_id += 1
            extra: dict[str, list[Any]] = {}
            if rollout.logp is not None and rollout.dist_inputs is not None:
                extra = {
                    rl.ACTION_LOGP: list(rollout.logp[s:e, c]),
                    rl.ACTION_DIST_INPUTS: list(rollout.dist_inputs[s:e, c]),
                }
            ep = rl.SingleAgentEpisode(
                id_=f"{worker}-{number}",
                observations=list(rollout.obs[s : e + 1, c]),
                actions=list(rollout.actions[s:e, c]),
                rewards=rollout.rewards[s:e, c].tolist(),
                extra_model_outputs=extra,
                terminated=seg.terminated,
                truncated=seg.truncated,
                t_started=t0,
                len_lookback_buffer=0,
                observation_space=env.single_observation_space,
                action_space=env.single_action_space,
            )
            out.append(ep.to_numpy())
        return out

    def get_metrics(self) -> Any:
        """Log the episodes finished since the last call, then RLlib's reduced metrics.

        The first episode goes through RLlib's ``_log_episode_metrics``, which
        creates each stat with its reduction and window; the others are pushed
        straight into the same stats (:data:`~.rllib_names.EPISODE_STATS`),
        which is what ``log_value`` does after looking the key up: the same
        values in the same order, at a tenth of the cost (``log_value`` takes
        about 2 us, and an episode logs nine values).
        """
        columns = (self._done_lengths, self._done_returns, self._done_seconds)
        if self._done_lengths:
            self._log_episode_metrics(*(c[0] for c in columns))
            for key, column in rl.EPISODE_STATS:
                push = self.metrics._get_key(key).push
                for value in columns[column][1:]:
                    push(value)
        self._done_lengths.clear()
        self._done_returns.clear()
        self._done_seconds.clear()
        return super().get_metrics()
