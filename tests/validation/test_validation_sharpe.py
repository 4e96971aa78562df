"""PSR, expected maximum Sharpe and DSR against the published values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cappuccino_ray.errors import DataError
from cappuccino_ray.validation import (
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    sharpe_stats,
)


def test_dsr_paper_example() -> None:
    # Bailey & López de Prado (2014), "The Deflated Sharpe Ratio", numerical example:
    # annualised SR 2.5 over 1,250 daily observations, 100 trials whose SRs have an
    # annualised variance of 0.5, skew -3, kurtosis 10 -> DSR = 0.9004. The exact
    # value 0.90039683444939034 is pypbo's test (esvhd/pypbo, pypbo/tests/pbo_tests.py).
    sr = 2.5 / math.sqrt(250)
    dsr = deflated_sharpe_ratio(sr, 0.5 / 250, n_trials=100, n_obs=1250, skew=-3.0, kurtosis=10.0)
    assert dsr == pytest.approx(0.90039683444939034, abs=1e-12)
    # The paper's non-annualised expected maximum: about 0.1132.
    assert expected_max_sharpe(0.5 / 250, 100) == pytest.approx(0.1132, abs=5e-5)


def test_psr_sharpe_ratio_efficient_frontier_example() -> None:
    # Bailey & López de Prado (2012), "The Sharpe Ratio Efficient Frontier": monthly
    # track record, annualised SR 1.585, 24 months, skew -2.448, kurtosis 10.164;
    # value from pypbo (pypbo/tests/pbo_tests.py::test_psr).
    psr = probabilistic_sharpe_ratio(1.585 / math.sqrt(12), 0.0, 24, skew=-2.448, kurtosis=10.164)
    assert psr == pytest.approx(0.91323430688486018, abs=1e-12)


def test_expected_max_of_standard_normals() -> None:
    # pypbo test_expected_max: E[max] of 100 standard normals by the Euler-Mascheroni formula.
    assert expected_max_sharpe(1.0, 100) == pytest.approx(2.5306028932016846, abs=1e-12)
    assert expected_max_sharpe(4.0, 100) == pytest.approx(2 * 2.5306028932016846)
    assert expected_max_sharpe(1.0, 1) == 0.0


def test_expected_max_close_to_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    for n in (10, 100, 1000):
        mc = rng.standard_normal((4000, n)).max(axis=1).mean()
        assert expected_max_sharpe(1.0, n) == pytest.approx(mc, rel=0.03)


def test_psr_and_dsr_relations() -> None:
    assert probabilistic_sharpe_ratio(0.1, 0.1, 500) == pytest.approx(0.5)
    assert deflated_sharpe_ratio(0.1, 0.01, 1, 500) == pytest.approx(
        probabilistic_sharpe_ratio(0.1, 0.0, 500)
    )
    # More trials raise the bar; more observations sharpen the test.
    assert deflated_sharpe_ratio(0.1, 0.001, 1000, 500) < deflated_sharpe_ratio(0.1, 0.001, 10, 500)
    assert probabilistic_sharpe_ratio(0.1, 0.0, 1000) > probabilistic_sharpe_ratio(0.1, 0.0, 100)
    # Negative skew and fat tails lower the PSR of a positive SR.
    assert probabilistic_sharpe_ratio(0.1, 0.0, 200, skew=-2, kurtosis=9) < probabilistic_sharpe_ratio(
        0.1, 0.0, 200
    )


@given(
    st.floats(-0.5, 0.5),
    st.floats(0.001, 0.2),
    st.integers(2, 100_000),
    st.floats(1e-6, 0.05),
    st.integers(2, 10_000),
)
def test_psr_and_dsr_properties(sr: float, step: float, n: int, var: float, trials: int) -> None:
    psr = probabilistic_sharpe_ratio(sr, 0.0, n)
    # Meeting the benchmark exactly is a coin flip; beating it by more is more probable.
    assert probabilistic_sharpe_ratio(sr, sr, n) == pytest.approx(0.5)
    assert probabilistic_sharpe_ratio(sr + step, 0.0, n) >= psr
    # Deflating by more than one trial raises the bar above zero skill: DSR <= PSR(SR* = 0).
    assert deflated_sharpe_ratio(sr, var, trials, n) <= psr + 1e-12


def test_bad_inputs_raise() -> None:
    with pytest.raises(DataError, match="2 observations"):
        probabilistic_sharpe_ratio(0.1, 0.0, 1)
    with pytest.raises(DataError, match="excess"):
        probabilistic_sharpe_ratio(1.0, 0.0, 100, skew=3.0, kurtosis=0.0)
    with pytest.raises(DataError):
        expected_max_sharpe(-1.0, 10)
    with pytest.raises(DataError):
        expected_max_sharpe(1.0, 0)
    with pytest.raises(DataError):
        sharpe_stats([1.0])


def test_sharpe_stats() -> None:
    rng = np.random.default_rng(1)
    r = rng.normal(0.001, 0.01, 200_000)
    st_ = sharpe_stats(r)
    assert st_.n_obs == 200_000
    assert st_.sr == pytest.approx(0.1, abs=0.01)
    assert st_.skew == pytest.approx(0.0, abs=0.03)
    assert st_.kurtosis == pytest.approx(3.0, abs=0.05)
    flat = sharpe_stats(np.full(10, 0.001))
    assert (flat.sr, flat.skew, flat.kurtosis) == (0.0, 0.0, 3.0)
