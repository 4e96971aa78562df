"""Look-ahead: changing every candle after bar t must leave every feature at or before t unchanged."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cappuccino_ray.data.market import MarketData
from cappuccino_ray.data.synthetic import generate_market
from cappuccino_ray.errors import DataError
from cappuccino_ray.features import (
    BASE_FEATURES,
    ROLLING_FEATURES,
    FeatureSet,
    compute_features,
    find_lookahead,
    perturb_after,
    warmup_bars,
)
from cappuccino_ray.intervals import SEARCH_INTERVALS


def _market(interval: str) -> MarketData:
    # Enough bars past the 30-day warm-up of every interval (8,639 bars at 5m).
    n = warmup_bars(interval, rolling=True) + 400
    return generate_market(n, n_assets=3, interval=interval, seed=11, halt_prob=0.01)


_MARKETS = {interval: _market(interval) for interval in SEARCH_INTERVALS}


def _all_features(md: MarketData) -> FeatureSet:
    return compute_features(md, rolling=True)


@pytest.mark.parametrize("interval", SEARCH_INTERVALS)
@settings(max_examples=8, deadline=None, derandomize=True)
@given(frac=st.floats(0.0, 1.0), seed=st.integers(0, 2**16))
def test_no_feature_reads_the_future(interval: str, frac: float, seed: int) -> None:
    md = _MARKETS[interval]
    # Cuts in the warmed-up part, where every feature is live, and a few anywhere.
    lo = 0 if seed % 4 == 0 else warmup_bars(interval, rolling=True) - 5
    cut = lo + int(frac * (md.n_bars - 2 - lo))
    assert find_lookahead(_all_features, md, cut, seed=seed, atol=0.0) == {}


@pytest.mark.parametrize("interval", SEARCH_INTERVALS)
def test_every_feature_reads_the_current_bar(interval: str) -> None:
    # The converse: perturbing from bar t on must move features at t (the check has teeth).
    md = _MARKETS[interval]
    cut = md.n_bars - 50
    before = _all_features(md).values[cut]
    after = _all_features(perturb_after(md, cut - 1, seed=1)).values[cut]
    changed = np.abs(before - after).max(axis=0) > 1e-6
    assert dict(zip(BASE_FEATURES + ROLLING_FEATURES, changed, strict=True)) == dict.fromkeys(
        BASE_FEATURES + ROLLING_FEATURES, True
    )


def _leaky_next_return(md: MarketData) -> FeatureSet:
    c = md.close
    values = np.zeros((md.n_bars, md.n_assets, 1), dtype=np.float32)
    values[:-1, :, 0] = np.log(c[1:] / c[:-1])  # close.shift(-1): bar t sees bar t + 1
    return FeatureSet(values=values, names=("next_return",), warmup=0)


def _leaky_global_zscore(md: MarketData) -> FeatureSet:
    logc = np.log(md.close)
    z = (logc - logc.mean(axis=0)) / logc.std(axis=0)  # statistics of the whole series
    return FeatureSet(values=z[:, :, None].astype(np.float32), names=("global_z",), warmup=0)


def _leaky_centred_mean(md: MarketData) -> FeatureSet:
    c = md.close
    k = np.ones(5) / 5
    m = np.stack([np.convolve(c[:, a], k, mode="same") for a in range(md.n_assets)], axis=1)
    values = np.log(c / np.maximum(m, 1e-9))[:, :, None].astype(np.float32)  # window centred on t
    return FeatureSet(values=values, names=("centred",), warmup=0)


def _mixed(md: MarketData) -> FeatureSet:
    good = compute_features(md)
    bad = _leaky_next_return(md)
    return FeatureSet(
        values=np.concatenate([good.values, bad.values], axis=2),
        names=good.names + bad.names,
        warmup=good.warmup,
    )


@pytest.mark.parametrize(
    ("leaky", "name", "first_bar"),
    [
        # bar t reads bar t + 1: the first bar that moves is the cut itself
        (_leaky_next_return, "next_return", lambda cut: cut),
        # whole-series mean and std: every bar moves, from bar 0
        (_leaky_global_zscore, "global_z", lambda cut: 0),
        # 5-bar window centred on t reads t + 2: bar cut - 1 is the first to see bar cut + 1
        (_leaky_centred_mean, "centred", lambda cut: cut - 1),
    ],
)
@pytest.mark.parametrize("interval", ["5m", "1h", "4h"])
def test_checker_catches_leaky_features(
    leaky: Callable[[MarketData], FeatureSet], name: str, first_bar: Callable[[int], int], interval: str
) -> None:
    md = _MARKETS[interval]
    cut = md.n_bars // 2
    assert find_lookahead(leaky, md, cut, seed=3) == {name: first_bar(cut)}


def test_checker_names_only_the_leaky_feature() -> None:
    md = _MARKETS["1h"]
    cut = md.n_bars - 100
    assert find_lookahead(_mixed, md, cut) == {"next_return": cut}


def test_perturbation_changes_every_future_value_and_no_past_one() -> None:
    md = _MARKETS["1h"]
    cut = 500
    p = perturb_after(md, cut, seed=0)
    for name in ("open", "high", "low", "close", "volume"):
        a, b = getattr(md, name), getattr(p, name)
        assert np.array_equal(a[: cut + 1], b[: cut + 1])
        assert np.all(a[cut + 1 :] != b[cut + 1 :])
    assert np.all(p.high >= np.maximum(p.open, p.close)) and np.all(p.low <= np.minimum(p.open, p.close))
    with pytest.raises(DataError, match="cut must be"):
        perturb_after(md, md.n_bars - 1)
