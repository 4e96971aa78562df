"""Probability of backtest overfitting (CSCV): hand cases, reference loop, synthetic matrices."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import rankdata

from cappuccino_ray.errors import DataError
from cappuccino_ray.validation import probability_of_backtest_overfitting


def _sharpe(x: np.ndarray) -> np.ndarray:
    sd = x.std(axis=0, ddof=1)
    return np.where(sd > 1e-12, x.mean(axis=0) / np.where(sd > 0, sd, 1.0), 0.0)


def _reference_pbo(m: np.ndarray, s: int) -> tuple[float, np.ndarray]:
    """A direct transcription of the algorithm (Bailey et al. 2015, pypbo's pbo())."""
    t, n = m.shape
    m = m[t % s :]
    chunks = np.split(m, s)
    logits = []
    for combo in itertools.combinations(range(s), s // 2):
        j = np.concatenate([chunks[i] for i in combo])
        j_bar = np.concatenate([chunks[i] for i in range(s) if i not in combo])
        r, r_bar = _sharpe(j), _sharpe(j_bar)
        n_star = int(np.argmax(r))
        w = rankdata(r_bar)[n_star] / (n + 1)
        logits.append(math.log(w / (1 - w)))
    lam = np.array(logits)
    return float(np.mean(lam <= 0)), lam


def test_hand_computed_two_partitions() -> None:
    # Trial 0 wins the first half, trial 1 the second: each in-sample winner
    # ranks last out of sample -> w = 1/3, logit log(1/2), PBO = 1.
    m = np.array([[0.02, -0.01], [0.03, 0.00], [-0.01, 0.02], [0.00, 0.03]])
    res = probability_of_backtest_overfitting(m, n_partitions=2)
    assert res.pbo == 1.0
    np.testing.assert_allclose(res.logits, [math.log(0.5), math.log(0.5)])
    assert res.is_best.tolist() == [0, 1]
    # A trial better in both halves: rank 2 of 2 -> w = 2/3, logit log 2, PBO = 0.
    m2 = np.column_stack([m[:, 0] + 0.1, m[:, 0]])
    m2[:, 0] += np.array([0.0, 0.01, 0.0, 0.01])
    res2 = probability_of_backtest_overfitting(m2, n_partitions=2)
    assert res2.pbo == 0.0
    np.testing.assert_allclose(res2.logits, [math.log(2.0)] * 2)


@pytest.mark.parametrize(("t", "n", "s", "seed"), [(120, 8, 6, 0), (203, 15, 8, 1), (64, 3, 4, 2)])
def test_matches_reference_transcription(t: int, n: int, s: int, seed: int) -> None:
    m = np.random.default_rng(seed).normal(0.0005, 0.01, (t, n))
    pbo, logits = _reference_pbo(m, s)
    res = probability_of_backtest_overfitting(m, n_partitions=s)
    assert res.pbo == pytest.approx(pbo)
    np.testing.assert_allclose(res.logits, logits, rtol=1e-9)
    assert res.n_rows_used == t - t % s
    custom = probability_of_backtest_overfitting(m, n_partitions=s, metric=_sharpe)
    np.testing.assert_allclose(custom.logits, logits, rtol=1e-9)


def test_planted_skill_gives_pbo_near_zero() -> None:
    rng = np.random.default_rng(7)
    m = rng.normal(0.0, 0.01, (1600, 30))
    m[:, 3] += 0.002  # one trial with a per-bar Sharpe of about 0.2
    res = probability_of_backtest_overfitting(m, n_partitions=16)
    assert len(res.logits) == math.comb(16, 8)
    assert res.pbo < 0.05
    assert np.mean(res.is_best == 3) > 0.95


def test_pure_noise_gives_pbo_near_half() -> None:
    # One noise matrix's PBO varies widely; its mean over matrices is about 0.5.
    pbos = [
        probability_of_backtest_overfitting(np.random.default_rng(seed).normal(0.0, 0.01, (400, 20)), 8).pbo
        for seed in range(20)
    ]
    assert 0.4 < float(np.mean(pbos)) < 0.7


def test_deterministic() -> None:
    m = np.random.default_rng(3).normal(0.0, 0.01, (320, 12))
    a = probability_of_backtest_overfitting(m, 8)
    b = probability_of_backtest_overfitting(m.copy(), 8)
    assert a.pbo == b.pbo and np.array_equal(a.logits, b.logits)


@pytest.mark.parametrize(
    ("shape", "s", "match"),
    [((100,), 4, "shape"), ((100, 1), 4, "shape"), ((100, 5), 5, "even"), ((10, 5), 16, "too few")],
)
def test_bad_inputs_raise(shape: tuple[int, ...], s: int, match: str) -> None:
    with pytest.raises(DataError, match=match):
        probability_of_backtest_overfitting(np.zeros(shape), n_partitions=s)
    with pytest.raises(DataError, match="NaN"):
        probability_of_backtest_overfitting(np.full((40, 3), np.nan), n_partitions=4)
