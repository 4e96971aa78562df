"""Combinatorial purged cross-validation (López de Prado, AFML ch. 12).

The bars are cut into ``n_groups`` contiguous groups, as equal as possible
(the first ``n_bars % n_groups`` groups are one bar longer). Each of the
``C(n_groups, n_test_groups)`` splits tests one combination of groups and
trains on the rest, less the purged and embargoed bars:

* **purge** (the label horizon, in bars): a training bar ``t`` whose horizon
  ``[t, t + purge]`` reaches into a test group is dropped, i.e. exactly the
  ``purge`` bars just *before* each test group;
* **embargo** (in bars): the ``embargo`` bars just *after* each test group are
  dropped, because their features look back into the test group.

Every group is tested in ``C(N - 1, k - 1) = k * C(N, k) / N`` splits, which
is the number of backtest paths: path ``p`` takes, for each group, the
``p``-th split (in split order) that tests it. Test groups are evaluated as
their own segments and never stitched to one another.

Splits are numbered in lexicographic order of their test groups, but a search
scores them in :meth:`CombinatorialPurgedCV.scoring_order`: every prefix of
that order tests the groups as evenly as possible (their counts differ by at
most one), so a trial stopped after any number of splits has not tested one
period several times while skipping another, and after ``m`` splits with
``m * k`` a multiple of ``N`` it holds ``m * k / N`` complete backtest paths
(paths taken in scoring order). In lexicographic order the first
``N - 1`` splits all test group 0.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import TypeVar

import numpy as np

from cappuccino_ray.errors import ConfigError

__all__ = ["CombinatorialPurgedCV", "balanced_order", "index_segments"]

T = TypeVar("T")

_MAX_SPLITS = 10_000
_ORDER_BUDGET = 200_000


def balanced_order(n_groups: int, n_test_groups: int) -> list[int]:
    """Lexicographic split indices in an order whose every prefix tests the groups evenly.

    A depth-first search adds, at each step, a split that keeps the groups' test
    counts within one of each other, preferring splits that test the least-tested
    groups (then the lowest index). Such an order exists and is found at once for
    every ``N <= 8``; should the search exceed its budget on a larger grid, the
    longest balanced prefix it reached is completed in index order.

    Args:
        n_groups: ``N``.
        n_test_groups: ``k``.

    Returns:
        A permutation of ``range(C(N, k))``.
    """
    return list(_searched_order(n_groups, n_test_groups))


@functools.lru_cache(maxsize=64)
def _searched_order(n_groups: int, n_test_groups: int) -> tuple[int, ...]:
    """The order of :func:`balanced_order`, searched once per ``(N, k)`` in a process."""
    search = _OrderSearch(list(itertools.combinations(range(n_groups), n_test_groups)), n_groups)
    if search.run():
        return tuple(search.order)
    seen = set(search.best)
    return tuple(search.best + [i for i in range(len(search.splits)) if i not in seen])


class _OrderSearch:
    """The depth-first search of :func:`balanced_order`."""

    def __init__(self, splits: list[tuple[int, ...]], n_groups: int) -> None:
        self.splits = splits
        self.counts = [0] * n_groups
        self.used = [False] * len(splits)
        self.order: list[int] = []
        self.best: list[int] = []
        self.steps = 0

    def _fits(self, split: tuple[int, ...]) -> bool:
        after = self.counts[:]
        for g in split:
            after[g] += 1
        return max(after) - min(after) <= 1

    def _take(self, i: int, step: int) -> None:
        self.used[i] = step > 0
        for g in self.splits[i]:
            self.counts[g] += step
        if step > 0:
            self.order.append(i)
        else:
            self.order.pop()

    def run(self) -> bool:
        """Extend the order to a full permutation; ``False`` when the budget ran out."""
        if len(self.order) == len(self.splits):
            return True
        self.steps += 1
        if self.steps > _ORDER_BUDGET:
            return False
        if len(self.order) > len(self.best):
            self.best = self.order[:]
        low = min(self.counts)
        options = [i for i, sp in enumerate(self.splits) if not self.used[i] and self._fits(sp)]
        options.sort(key=lambda i: (-sum(self.counts[g] == low for g in self.splits[i]), i))
        for i in options:
            self._take(i, 1)
            if self.run():
                return True
            self._take(i, -1)
            if self.steps > _ORDER_BUDGET:
                return False
        return False


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


class CombinatorialPurgedCV:
    """Combinatorial purged cross-validation over a bar index.

    Args:
        n_groups: Number of contiguous groups ``N`` (at least 2).
        n_test_groups: Test groups per split ``k`` (``1 <= k < N``).
        purge: Label horizon in bars: bars dropped from training just before
            each test group.
        embargo: Bars dropped from training just after each test group.

    Raises:
        ConfigError: If the arguments are inconsistent.

    Example:
        >>> cv = CombinatorialPurgedCV(3, 2, purge=0, embargo=1)
        >>> cv.n_splits, cv.n_paths
        (3, 2)
        >>> train, tests = next(cv.split(12))
        >>> train.tolist(), [t.tolist() for t in tests]
        ([9, 10, 11], [[0, 1, 2, 3], [4, 5, 6, 7]])
    """

    def __init__(self, n_groups: int, n_test_groups: int, purge: int = 0, embargo: int = 0) -> None:
        """Check and store the settings."""
        self.n_groups = _check_int("n_groups", n_groups, 2)
        self.n_test_groups = _check_int("n_test_groups", n_test_groups, 1)
        self.purge = _check_int("purge", purge, 0)
        self.embargo = _check_int("embargo", embargo, 0)
        if self.n_test_groups >= self.n_groups:
            raise ConfigError(
                f"n_test_groups ({self.n_test_groups}) must be smaller than n_groups ({self.n_groups}) "
                "so that every split keeps some training groups"
            )
        if self.n_splits > _MAX_SPLITS:
            raise ConfigError(
                f"C({self.n_groups}, {self.n_test_groups}) = {self.n_splits} splits is more than "
                f"{_MAX_SPLITS}; use fewer groups or fewer test groups"
            )

    def __repr__(self) -> str:
        """Show the settings."""
        return (
            f"CombinatorialPurgedCV(n_groups={self.n_groups}, n_test_groups={self.n_test_groups}, "
            f"purge={self.purge}, embargo={self.embargo})"
        )

    @property
    def n_splits(self) -> int:
        """Number of splits, ``C(N, k)``."""
        return math.comb(self.n_groups, self.n_test_groups)

    @property
    def n_paths(self) -> int:
        """Number of backtest paths, ``k * C(N, k) / N = C(N - 1, k - 1)``."""
        return math.comb(self.n_groups - 1, self.n_test_groups - 1)

    def scoring_order(self) -> list[int]:
        """Split indices in the order a search scores them (see the module docstring)."""
        return balanced_order(self.n_groups, self.n_test_groups)

    def tests_per_group(self, n_scored: int) -> list[int]:
        """How often each group is tested by the first ``n_scored`` splits of :meth:`scoring_order`."""
        counts = [0] * self.n_groups
        for i in self.scoring_order()[:n_scored]:
            for g in self.test_group_ids[i]:
                counts[g] += 1
        return counts

    def complete_paths(self, n_scored: int) -> int:
        """Backtest paths complete after the first ``n_scored`` splits of :meth:`scoring_order`."""
        return min(self.tests_per_group(n_scored))

    @property
    def test_group_ids(self) -> tuple[tuple[int, ...], ...]:
        """The test groups of each split, in split order (lexicographic combinations)."""
        return tuple(itertools.combinations(range(self.n_groups), self.n_test_groups))

    def group_bounds(self, n_bars: int) -> list[tuple[int, int]]:
        """The ``(start, stop)`` bar range of each group.

        Args:
            n_bars: Number of bars to split.

        Returns:
            ``n_groups`` contiguous, half-open ranges covering ``0..n_bars``.

        Raises:
            ConfigError: If there are fewer bars than groups, or purge plus
                embargo leave a group with no training bars.
        """
        n_bars = _check_int("n_bars", n_bars, 1)
        if n_bars < self.n_groups:
            raise ConfigError(f"{n_bars} bars cannot be cut into {self.n_groups} groups; use fewer groups")
        base, extra = divmod(n_bars, self.n_groups)
        if self.purge + self.embargo >= base:
            raise ConfigError(
                f"purge ({self.purge}) + embargo ({self.embargo}) bars must be smaller than the smallest "
                f"group ({base} bars); use fewer groups, more data or a shorter purge/embargo"
            )
        sizes = [base + 1 if g < extra else base for g in range(self.n_groups)]
        stops = np.cumsum(sizes).tolist()
        starts = [0, *stops[:-1]]
        return list(zip(starts, stops, strict=True))

    def split(self, n_bars: int) -> Iterator[tuple[np.ndarray, list[np.ndarray]]]:
        """Yield ``(train_indices, test_groups)`` for each split.

        Args:
            n_bars: Number of bars to split.

        Yields:
            The sorted training bar indices (``int64``) and the list of test
            groups, each a contiguous index array, in time order.
        """
        bounds = self.group_bounds(n_bars)
        for test_ids in self.test_group_ids:
            train = np.ones(n_bars, dtype=bool)
            for g in test_ids:
                start, stop = bounds[g]
                train[max(0, start - self.purge) : start] = False
                train[start : stop + self.embargo] = False
            tests = [np.arange(*bounds[g], dtype=np.int64) for g in test_ids]
            yield np.flatnonzero(train).astype(np.int64), tests

    def paths(self, order: Sequence[int] | None = None) -> list[list[tuple[int, int]]]:
        """The backtest paths as ``(split index, group index)`` pairs.

        Path ``p`` takes, for each group in time order, the ``p``-th split (in
        ``order``; default the split index order, AFML's table) that tests that
        group; every (split, test group) pair is in exactly one path.

        Args:
            order: The order in which splits are taken (e.g. :meth:`scoring_order`).

        Returns:
            ``n_paths`` lists of ``n_groups`` pairs each.
        """
        by_group: list[list[int]] = [[] for _ in range(self.n_groups)]
        for split_index in order if order is not None else range(self.n_splits):
            for g in self.test_group_ids[split_index]:
                by_group[g].append(split_index)
        return [[(by_group[g][p], g) for g in range(self.n_groups)] for p in range(self.n_paths)]

    def assemble_paths(self, group_results: Mapping[tuple[int, int], T]) -> list[list[T]]:
        """Reassemble per-(split, group) results into backtest paths.

        Args:
            group_results: The result of each test group, keyed by
                ``(split index, group index)``.

        Returns:
            For each path, the results of its groups in time order (e.g.
            per-bar return arrays to concatenate for path statistics).

        Raises:
            ConfigError: If a result a path needs is missing.
        """
        out: list[list[T]] = []
        for path in self.paths():
            missing = [key for key in path if key not in group_results]
            if missing:
                raise ConfigError(
                    f"no result for (split, group) {missing[0]}; evaluate every split before assembling paths"
                )
            out.append([group_results[key] for key in path])
        return out

    def path_returns(self, group_returns: Mapping[tuple[int, int], np.ndarray]) -> list[np.ndarray]:
        """Concatenate each path's per-bar returns, in time order.

        Returns (not values) are joined, so the groups' own starting values do
        not matter; each path covers every bar of the split range exactly once.

        Args:
            group_returns: Per-bar returns of each test group, keyed by
                ``(split index, group index)``.

        Returns:
            One 1-D return array per path.
        """
        return [
            np.concatenate([np.asarray(r, dtype=np.float64) for r in p])
            for p in self.assemble_paths(group_returns)
        ]


def index_segments(indices: Sequence[int] | np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs of sorted bar indices as half-open ``(start, stop)`` pairs.

    Useful to hand a split's training bars to the environment as segments.

    Args:
        indices: Strictly increasing bar indices.

    Returns:
        The runs, in order.

    Example:
        >>> index_segments([0, 1, 2, 5, 6, 9])
        [(0, 3), (5, 7), (9, 10)]
    """
    idx = np.asarray(indices, dtype=np.int64)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [idx.size]])
    return [(int(idx[a]), int(idx[b - 1]) + 1) for a, b in zip(starts, stops, strict=True)]
