"""Where a trial's CPCV splits lie in the market, and in which order they are scored.

Three decisions, each recorded here where it is made:

* **One partition for the whole run.** The CPCV groups start at
  :func:`partition_start`: the longest feature warm-up any phase uses (the
  30-day rolling features) plus the largest lookback any trial can draw, less
  one. Every trial of both phases then cuts the same groups from the same bars:
  trials with different lookbacks are compared on the same calendar bars, and a
  phase-2 split ``s`` tests exactly the bars phase 1's split ``s`` tested, so
  its warm start (phase 1's checkpoint of split ``s``) never trained on them.
* **The embargo covers the features' memory.** A training bar just after a test
  group observes features computed over up to ``warmup`` bars back, over
  ``lookback`` bars: :func:`default_embargo` drops ``warmup + lookback`` bars
  (at least 1 % of the usable bars) after each test group, so no training
  observation reads a test bar.
* **The purge is one bar.** Training episodes are sampled inside one contiguous
  training run and never cross its end (``EnvSetup.sample_episode``): an
  episode's rewards read no bar past its run, whatever its length, so the
  label horizon that AFML purges does not reach into a test group. The one bar
  keeps the last training fill off the group's first open.

Splits are scored in :meth:`~cappuccino_ray.validation.CombinatorialPurgedCV.scoring_order`:
every prefix tests the groups evenly and completes backtest paths one at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cappuccino_ray.errors import ConfigError

__all__ = ["PURGE_BARS", "SplitPlan", "check_partition", "default_embargo", "partition_start", "plan_splits"]

#: Bars dropped before each test group (see the module docstring).
PURGE_BARS = 1


@dataclass(frozen=True)
class SplitPlan:
    """The bars of one CPCV split, in market rows.

    Attributes:
        index: Split number (0-based, lexicographic CPCV order: AFML's numbering).
        train_segments: Contiguous training runs ``(start, stop)``.
        test_groups: ``(group_id, (start, stop))`` of each test group, in time order.
        position: Place of the split in the scoring order (0 = scored first).
    """

    index: int
    train_segments: tuple[tuple[int, int], ...]
    test_groups: tuple[tuple[int, tuple[int, int]], ...]
    position: int = 0


def partition_start(interval: str, max_lookback: int) -> int:
    """First bar of the CPCV partition at ``interval``: the rolling-feature warm-up plus the lookback."""
    from cappuccino_ray.features import warmup_bars

    return warmup_bars(interval, rolling=True) + max_lookback - 1


def default_embargo(feature_warmup: int, lookback: int, usable_bars: int) -> int:
    """Bars dropped after a test group: the features' memory, at least 1 % of the usable bars."""
    return max(feature_warmup + lookback, math.ceil(0.01 * usable_bars))


def check_partition(
    n_bars: int, interval: str, *, n_groups: int, max_lookback: int, rolling: bool, source: str
) -> None:
    """Refuse, before any trial starts, a market too short for the partition and its embargo.

    Args:
        n_bars: Bars of the search period at ``interval``.
        interval: The candle interval.
        n_groups: CPCV groups.
        max_lookback: The run's largest lookback.
        rolling: Whether the phase uses the rolling features (their warm-up sets the embargo).
        source: The phase file, for the message.

    Raises:
        ConfigError: If the groups would be too small for the embargo, naming the fix.
    """
    from cappuccino_ray.features import warmup_bars

    group = (n_bars - partition_start(interval, max_lookback)) // n_groups
    need = PURGE_BARS + warmup_bars(interval, rolling=rolling) + max_lookback
    if group <= need:
        raise ConfigError(
            f"{source}: at {interval} the {n_bars} search bars make CPCV groups of {group} bars, but the "
            f"features' warm-up and embargo need more than {need}; load more history, use fewer "
            "budget.n_groups or a coarser interval"
        )


def plan_splits(
    n_bars: int, first_bar: int, *, n_groups: int, n_test_groups: int, purge: int, embargo: int
) -> list[SplitPlan]:
    """CPCV splits over the usable bars ``first_bar .. n_bars - 1``, in scoring order.

    Args:
        n_bars: Market length.
        first_bar: First bar of the partition (:func:`partition_start`).
        n_groups: CPCV groups.
        n_test_groups: Test groups per split.
        purge: Bars dropped before each test group.
        embargo: Bars dropped after each test group.

    Returns:
        One plan per split, in the order they are scored.

    Raises:
        ConfigError: If the market is too short for the groups.
    """
    from cappuccino_ray.validation import CombinatorialPurgedCV, index_segments

    usable = n_bars - first_bar
    if usable < 4 * n_groups:
        raise ConfigError(
            f"only {usable} usable bars after the {first_bar}-bar feature warm-up and lookback for "
            f"{n_groups} groups; give a longer market or fewer groups"
        )
    cv = CombinatorialPurgedCV(n_groups, n_test_groups, purge=purge, embargo=embargo)
    splits = list(zip(cv.split(usable), cv.test_group_ids, strict=True))
    plans = []
    for position, k in enumerate(cv.scoring_order()):
        (train, tests), ids = splits[k]
        segs = tuple((a + first_bar, b + first_bar) for a, b in index_segments(train) if b - a >= 2)
        groups = tuple(
            (g, (int(t[0]) + first_bar, int(t[-1]) + 1 + first_bar)) for g, t in zip(ids, tests, strict=True)
        )
        plans.append(SplitPlan(index=k, train_segments=segs, test_groups=groups, position=position))
    return plans
