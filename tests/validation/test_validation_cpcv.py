"""Combinatorial purged CV: counts, exact indices, purge/embargo, paths."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cappuccino_ray.errors import ConfigError
from cappuccino_ray.validation import CombinatorialPurgedCV, index_segments


def _as_lists(cv: CombinatorialPurgedCV, n_bars: int) -> list[tuple[list[int], list[list[int]]]]:
    return [(train.tolist(), [t.tolist() for t in tests]) for train, tests in cv.split(n_bars)]


@pytest.mark.parametrize(
    ("n_groups", "k", "n_splits", "n_paths"),
    [
        (6, 2, 15, 5),
        (10, 2, 45, 9),
        (5, 2, 10, 4),
        (3, 2, 3, 2),
        (4, 1, 4, 1),
        (6, 3, 20, 10),
        (10, 8, 45, 36),
    ],
)
def test_split_and_path_counts(n_groups: int, k: int, n_splits: int, n_paths: int) -> None:
    # AFML ch. 12: C(N, k) splits and k * C(N, k) / N paths; skfolio's docs give
    # n_splits=10, n_test_paths=4 for (5, 2) and 3, 2 for (3, 2).
    cv = CombinatorialPurgedCV(n_groups, k)
    assert cv.n_splits == n_splits == math.comb(n_groups, k)
    assert cv.n_paths == n_paths == k * n_splits // n_groups
    assert len(list(cv.split(10 * n_groups))) == n_splits
    assert len(cv.paths()) == n_paths


# Exact indices published in skfolio (src/skfolio/model_selection/_combinatorial.py
# docstring and tests/test_model_selection/test_combinatorial.py), 12 bars, 3 folds.
# skfolio's purged_size=p removes p bars before AND after each test fold and its
# embargo_size=e a further e after, so skfolio(p, e) == ours(purge=p, embargo=p+e).
SKFOLIO_3_2_PLAIN = [
    ([8, 9, 10, 11], [[0, 1, 2, 3], [4, 5, 6, 7]]),
    ([4, 5, 6, 7], [[0, 1, 2, 3], [8, 9, 10, 11]]),
    ([0, 1, 2, 3], [[4, 5, 6, 7], [8, 9, 10, 11]]),
]
SKFOLIO_3_2_PURGED_1 = [
    ([9, 10, 11], [[0, 1, 2, 3], [4, 5, 6, 7]]),
    ([5, 6], [[0, 1, 2, 3], [8, 9, 10, 11]]),
    ([0, 1, 2], [[4, 5, 6, 7], [8, 9, 10, 11]]),
]
SKFOLIO_3_2_EMBARGO_1 = [
    ([9, 10, 11], [[0, 1, 2, 3], [4, 5, 6, 7]]),
    ([5, 6, 7], [[0, 1, 2, 3], [8, 9, 10, 11]]),
    ([0, 1, 2, 3], [[4, 5, 6, 7], [8, 9, 10, 11]]),
]


def test_exact_indices_match_skfolio() -> None:
    assert _as_lists(CombinatorialPurgedCV(3, 2), 12) == SKFOLIO_3_2_PLAIN
    assert _as_lists(CombinatorialPurgedCV(3, 2, purge=1, embargo=1), 12) == SKFOLIO_3_2_PURGED_1
    assert _as_lists(CombinatorialPurgedCV(3, 2, purge=0, embargo=1), 12) == SKFOLIO_3_2_EMBARGO_1


def test_paths_match_skfolio_recombined_paths() -> None:
    # skfolio test: recombined_paths for (5, 2) (rows = folds, columns = paths, values = split)
    # and get_path_ids (path of each test fold of each split).
    recombined = [[0, 1, 2, 3], [0, 4, 5, 6], [1, 4, 7, 8], [2, 5, 7, 9], [3, 6, 8, 9]]
    path_ids = [[0, 0], [1, 0], [2, 0], [3, 0], [1, 1], [2, 1], [3, 1], [2, 2], [3, 2], [3, 3]]
    cv = CombinatorialPurgedCV(5, 2)
    paths = cv.paths()
    assert paths == [[(recombined[g][p], g) for g in range(5)] for p in range(4)]
    for split, ids in enumerate(cv.test_group_ids):
        for j, g in enumerate(ids):
            assert paths[path_ids[split][j]][g] == (split, g)


def test_exact_indices_uneven_groups_first_groups_longer() -> None:
    # 11 bars, 3 groups: sizes 4, 4, 3 (the first 11 % 3 = 2 groups one bar longer).
    cv = CombinatorialPurgedCV(3, 1)
    assert cv.group_bounds(11) == [(0, 4), (4, 8), (8, 11)]
    assert _as_lists(cv, 11) == [
        ([4, 5, 6, 7, 8, 9, 10], [[0, 1, 2, 3]]),
        ([0, 1, 2, 3, 8, 9, 10], [[4, 5, 6, 7]]),
        ([0, 1, 2, 3, 4, 5, 6, 7], [[8, 9, 10]]),
    ]
    assert CombinatorialPurgedCV(4, 2).group_bounds(14) == [(0, 4), (4, 8), (8, 11), (11, 14)]


def test_purge_before_and_embargo_after_each_test_group() -> None:
    # 5 groups of 4 bars; split (1, 3): tests 4..7 and 12..15.
    cv = CombinatorialPurgedCV(5, 2, purge=2, embargo=1)
    split = cv.test_group_ids.index((1, 3))
    train, tests = list(cv.split(20))[split]
    assert [t.tolist() for t in tests] == [[4, 5, 6, 7], [12, 13, 14, 15]]
    # purge drops 2, 3 and 10, 11 (before); embargo drops 8 and 16 (after).
    assert train.tolist() == [0, 1, 9, 17, 18, 19]


@pytest.mark.parametrize(
    ("test_ids", "expected_train"),
    [
        ((0, 1), 600 - 200 - 5),
        ((4, 5), 600 - 200 - 3),
        ((2, 4), 600 - 200 - 2 * 3 - 2 * 5),
        ((0, 5), 600 - 200 - 5 - 3),
    ],
)
def test_train_size_loses_exactly_purge_and_embargo(test_ids: tuple[int, int], expected_train: int) -> None:
    # 6 groups of 100 bars, purge 3, embargo 5: adjacent test groups share their boundary.
    cv = CombinatorialPurgedCV(6, 2, purge=3, embargo=5)
    train, _ = list(cv.split(600))[cv.test_group_ids.index(test_ids)]
    assert train.size == expected_train


def _expected_train(
    n_bars: int, bounds: list[tuple[int, int]], ids: tuple[int, ...], p: int, e: int
) -> set[int]:
    out = set()
    for t in range(n_bars):
        if any(a <= t < b for a, b in (bounds[g] for g in ids)):
            continue
        if any(a - p <= t < a or b <= t < b + e for a, b in (bounds[g] for g in ids)):
            continue
        out.add(t)
    return out


@settings(max_examples=60, deadline=None)
@given(
    n_groups=st.integers(2, 8),
    data=st.data(),
)
def test_split_properties(n_groups: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(1, n_groups - 1))
    n_bars = data.draw(st.integers(n_groups * 3, 300))
    base = n_bars // n_groups
    purge = data.draw(st.integers(0, base - 1))
    embargo = data.draw(st.integers(0, base - 1 - purge))
    cv = CombinatorialPurgedCV(n_groups, k, purge=purge, embargo=embargo)
    bounds = cv.group_bounds(n_bars)
    sizes = [b - a for a, b in bounds]
    assert sum(sizes) == n_bars and max(sizes) - min(sizes) <= 1
    assert sizes == sorted(sizes, reverse=True)
    tested = np.zeros(n_bars, dtype=int)
    for (train, tests), ids in zip(cv.split(n_bars), cv.test_group_ids, strict=True):
        assert len(tests) == k
        starts = [int(t[0]) for t in tests]
        assert starts == sorted(starts)
        for t, g in zip(tests, ids, strict=True):
            assert np.array_equal(t, np.arange(*bounds[g]))  # contiguous, one group each
            tested[t] += 1
        assert set(train.tolist()) == _expected_train(n_bars, bounds, ids, purge, embargo)
        assert np.all(np.diff(train) > 0)
    assert np.all(tested == cv.n_paths)  # every bar tested once per path
    used = [pair for path in cv.paths() for pair in path]
    assert len(used) == len(set(used)) == cv.n_splits * k
    assert all([g for _, g in path] == list(range(n_groups)) for path in cv.paths())


def test_assemble_paths_and_path_returns() -> None:
    cv = CombinatorialPurgedCV(4, 2)
    n_bars = 8
    results = {}
    returns = {}
    for split, ((_, tests), ids) in enumerate(zip(cv.split(n_bars), cv.test_group_ids, strict=True)):
        for t, g in zip(tests, ids, strict=True):
            results[(split, g)] = f"s{split}g{g}"
            returns[(split, g)] = t.astype(float) + 100 * split
    assembled = cv.assemble_paths(results)
    assert assembled[0] == ["s0g0", "s0g1", "s1g2", "s2g3"]
    assert len(assembled) == 3
    path_r = cv.path_returns(returns)
    assert all(r.shape == (n_bars,) for r in path_r)
    assert np.array_equal(path_r[0] % 100, np.arange(8))
    del results[(0, 0)]
    with pytest.raises(ConfigError, match="no result"):
        cv.assemble_paths(results)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_groups": 1, "n_test_groups": 1}, "n_groups"),
        ({"n_groups": 4, "n_test_groups": 4}, "smaller than n_groups"),
        ({"n_groups": 4, "n_test_groups": 0}, "n_test_groups"),
        ({"n_groups": 4, "n_test_groups": 2, "purge": -1}, "purge"),
        ({"n_groups": 4, "n_test_groups": 2, "embargo": 1.5}, "embargo"),
        ({"n_groups": 40, "n_test_groups": 20}, "too many|more than"),
    ],
)
def test_bad_settings_raise(kwargs: dict[str, int], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        CombinatorialPurgedCV(**kwargs)


def test_bad_sizes_raise() -> None:
    with pytest.raises(ConfigError, match="cannot be cut"):
        list(CombinatorialPurgedCV(6, 2).split(5))
    with pytest.raises(ConfigError, match="smallest group"):
        list(CombinatorialPurgedCV(3, 2, purge=2, embargo=2).split(12))


def test_index_segments() -> None:
    assert index_segments([0, 1, 2, 5, 6, 9]) == [(0, 3), (5, 7), (9, 10)]
    assert index_segments(np.array([], dtype=int)) == []
    cv = CombinatorialPurgedCV(6, 2, purge=2, embargo=3)
    train, _ = list(cv.split(60))[cv.test_group_ids.index((1, 3))]
    # tests 10..19 and 30..39; purged 8, 9, 28, 29; embargoed 20..22, 40..42.
    assert index_segments(train) == [(0, 8), (23, 28), (43, 60)]


@pytest.mark.parametrize(("n", "k"), [(n, k) for n in range(2, 9) for k in range(1, n)])
def test_scoring_order_tests_the_groups_evenly_at_every_prefix(n: int, k: int) -> None:
    cv = CombinatorialPurgedCV(n, k)
    order = cv.scoring_order()
    assert sorted(order) == list(range(cv.n_splits))
    counts = [0] * n
    for m, i in enumerate(order, start=1):
        for g in cv.test_group_ids[i]:
            counts[g] += 1
        assert max(counts) - min(counts) <= 1, (n, k, m, counts)
        # After m splits with m*k a multiple of N, exactly m*k/N paths are complete.
        if (m * k) % n == 0:
            assert cv.complete_paths(m) == m * k // n
            ordered_paths = cv.paths(order)[: m * k // n]
            assert all(s in order[:m] for path in ordered_paths for s, _ in path)


def test_scoring_order_paths_cover_every_group_once_and_differ_from_lexicographic() -> None:
    cv = CombinatorialPurgedCV(6, 2)
    order = cv.scoring_order()
    # The first three splits are one complete path: groups 0..5, each once.
    assert sorted(g for i in order[:3] for g in cv.test_group_ids[i]) == [0, 1, 2, 3, 4, 5]
    # Lexicographic order would test group 0 in each of its first five splits.
    assert [0 in ids for ids in cv.test_group_ids[:5]] == [True] * 5
    paths = cv.paths(order)
    assert len(paths) == 5 and all([g for _, g in p] == list(range(6)) for p in paths)
    assert sorted(pair for p in paths for pair in p) == sorted(
        (i, g) for i, ids in enumerate(cv.test_group_ids) for g in ids
    )
