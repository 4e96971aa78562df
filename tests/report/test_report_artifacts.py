"""Hold-out series: adapter from an evaluation result, atomic save/load round trip, run artifacts."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cappuccino_ray.atomic import write_bytes_atomic
from cappuccino_ray.errors import DataError
from cappuccino_ray.report.artifacts import (
    HoldoutSeries,
    holdout_series_from,
    load_artifacts,
    load_holdout_series,
    save_holdout_series,
)


def _evaluation_like(n: int) -> SimpleNamespace:
    """Shaped like validation's EvaluationResult: values n+1, per-step arrays n."""
    return SimpleNamespace(
        timestamps=np.datetime64("2024-01-01") + np.arange(n + 1) * np.timedelta64(1, "h"),
        values=np.linspace(100, 110, n + 1),
        benchmark_values=np.linspace(100, 105, n + 1),
        fees=np.full(n, 0.5),
        forced_sales=np.arange(n) % 2,
        fee_tier=np.array([2] * n),
        weights=np.full((n, 2), 0.25),
    )


def test_adapter_pads_per_step_series_to_the_value_series() -> None:
    s = holdout_series_from(_evaluation_like(4), asset_names=["BTC/USD", "ETH/USD"])
    assert len(s.bot_value) == 5 and s.bh_value[-1] == 105
    assert s.fees.tolist() == [0, 0.5, 0.5, 0.5, 0.5]
    assert s.forced_sales.tolist() == [0, 0, 1, 0, 1]
    assert s.fee_tier.tolist() == [2, 2, 2, 2, 2]  # the first tier, not 0, before the first step
    assert s.weights[0].tolist() == [0, 0] and s.weights[1].tolist() == [0.25, 0.25]
    assert s.asset_names == ("BTC/USD", "ETH/USD")
    assert s.timestamps.dtype == np.dtype("datetime64[h]")  # the result's own bar times
    assert s.timestamps[0] == np.datetime64("2024-01-01T00")


def test_adapter_refuses_a_per_step_series_of_the_wrong_length() -> None:
    result = _evaluation_like(1)
    result.fees = np.zeros(7)
    with pytest.raises(DataError, match="fees has 7 entries, expected 1"):
        holdout_series_from(result, asset_names=["BTC/USD", "ETH/USD"])


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(DataError, match="bh_value has 2 bars, expected 3"):
        HoldoutSeries(
            np.arange(3),
            np.ones(3),
            np.ones(2),
            np.zeros(3),
            np.zeros(3),
            np.zeros(3),
            np.zeros((3, 1)),
            ("A",),
        )


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 40), k=st.integers(0, 3), dated=st.booleans(), seed=st.integers(0, 10_000))
def test_save_load_round_trip(
    tmp_path_factory: pytest.TempPathFactory, n: int, k: int, dated: bool, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    times = (
        (np.datetime64("2024-01-01T00:00", "ns") + np.arange(n) * np.timedelta64(5, "m"))
        if dated
        else np.arange(n)
    )
    s = HoldoutSeries(
        times,
        rng.random(n),
        rng.random(n),
        rng.random(n),
        rng.integers(0, 3, n).astype(float),
        rng.integers(0, 4, n).astype(float),
        rng.random((n, k)),
        tuple(f"S{i}" for i in range(k)),
    )
    path = tmp_path_factory.mktemp("h") / "holdout_series.npz"
    save_holdout_series(path, s)
    back = load_holdout_series(path)
    for name in ("timestamps", "bot_value", "bh_value", "fees", "forced_sales", "fee_tier", "weights"):
        np.testing.assert_array_equal(getattr(back, name), getattr(s, name))
    assert back.asset_names == s.asset_names
    assert sorted(p.name for p in path.parent.iterdir()) == ["holdout_series.npz"]  # no temp file left


def test_write_atomic_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f.txt"
    write_bytes_atomic(target, b"one")
    write_bytes_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["f.txt"]


def test_load_holdout_series_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no hold-out series"):
        load_holdout_series(tmp_path / "none.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a hold-out series"):
        load_holdout_series(bad)


def test_artifacts_of_a_phase1_only_run(tmp_path: Path) -> None:
    exp = tmp_path / "phase1"
    exp.mkdir()
    (exp / "phase1_all_results.json").write_text(json.dumps([{"holding_days": 3, "interval": "1h"}]))
    (exp / "phase1_winner.json").write_text(json.dumps({"interval": "1h"}))
    assert load_artifacts(tmp_path).phase1_winner is None  # an incomplete winner is a missing part
    winner = {"holding_days": 3, "interval": "1h", "hyperparameters": {"lr": 1e-4}}
    (exp / "phase1_winner.json").write_text(json.dumps(winner))
    art = load_artifacts(tmp_path)
    assert art.phase1_winner is not None and art.phase1_winner.interval == "1h"
    assert isinstance(art.phase1_all, list)
    assert art.training_report is None and art.phase2_comparison is None and art.holdout is None
    assert art.section("pbo") is None
