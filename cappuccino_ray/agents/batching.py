"""How the lean training steps cut their work: an update's minibatches, an iteration's cycles, the budget.

Plain numbers, no RLlib: :func:`minibatch_parts` is what
:func:`~cappuccino_ray.agents.rllib_names.learner_update` feeds the learner;
:func:`cycle_goal` is how many env steps a lean training step
(:mod:`~cappuccino_ray.agents.lean_ppo`, :mod:`~cappuccino_ray.agents.lean_dqn`)
samples, from the budget :func:`set_step_budget` gave the algorithm.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

__all__ = ["cycle_goal", "iteration_steps", "minibatch_parts", "set_step_budget", "update_unit"]


def minibatch_parts(
    n: int, minibatch_size: int, *, num_epochs: int, shuffle: bool, seed: int
) -> list[slice | np.ndarray]:
    """The minibatches of ``rllib_names.learner_update``: row slices, or index arrays when shuffled.

    Each epoch covers the ``n`` rows once, in ``max(1, round(n / minibatch_size))``
    parts whose sizes differ by at most one; shuffled epochs each take a fresh
    permutation from ``numpy.random.default_rng(seed)``.
    """
    parts = max(1, round(n / minibatch_size))
    bounds = np.linspace(0, n, parts + 1).round().astype(np.int64).tolist()
    rng = np.random.default_rng(seed)
    out: list[slice | np.ndarray] = []
    for _ in range(num_epochs):
        order = rng.permutation(n) if shuffle else None
        for start, stop in itertools.pairwise(bounds):
            out.append(slice(start, stop) if order is None else order[start:stop])
    return out


def set_step_budget(algo: Any, steps: int) -> None:
    """Tell the lean training steps the run's env-step budget (see :func:`cycle_goal`)."""
    algo.step_budget = int(steps)


def cycle_goal(algo: Any, base: int, unit: int, *, most: int) -> int:
    """Env steps a lean training step samples before it ends (at least one cycle runs).

    :func:`iteration_steps` of the budget :func:`set_step_budget` gave (whole
    units, about a tenth of the budget, at most ``most``), capped by what
    is left of the budget rounded up to a ``unit``: the run overshoots its
    budget by less than one unit, as with one cycle per iteration. Without a
    budget, 0 (one cycle).

    Args:
        algo: The algorithm (any object with ``step_budget`` once it is set).
        base: Env steps sampled before this training step.
        unit: Env steps of one cycle (or of as many cycles as owe a gradient step).
        most: The most env steps of one iteration.
    """
    budget = getattr(algo, "step_budget", None)
    if budget is None:
        return 0
    unit = max(1, unit)
    left = max(0, int(budget) - base)
    return min(iteration_steps(unit, int(budget), most=most), -(-left // unit) * unit)


def iteration_steps(batch_steps: int, train_steps: int, *, most: int) -> int:
    """Env steps per training iteration: whole batches, about a tenth of the budget, at most ``most``.

    An iteration ends with Tune's and RLlib's per-iteration bookkeeping (a
    result dict, every metric reduced): about 2 ms, a few percent of a small
    iteration. The lean training steps run several sample-and-update cycles
    per iteration instead (:func:`cycle_goal`).
    """
    cycles = max(1, min(most, train_steps // 10) // max(1, batch_steps))
    return cycles * batch_steps


def update_unit(call_steps: int, batch_size: int, training_intensity: float) -> int:
    """Env steps of the fewest whole sample calls that owe at least one gradient step.

    A training step with a budget samples a whole number of these, so once
    learning has started every iteration trains and reports its losses (an
    iteration without an update would report none).

    Args:
        call_steps: Env steps of one sample call (fragment length x env copies).
        batch_size: Transitions per gradient step.
        training_intensity: Transitions replayed per transition sampled.
    """
    per_update = math.ceil(batch_size / training_intensity)
    return call_steps * math.ceil(per_update / call_steps)
