"""Learning curves: RLlib's per-iteration figures reach Tune's results, TensorBoard and the CSV.

A trial reports, besides one split row per CPCV split, iteration rows while a
split trains (``tracking.curve_every_s``). They carry ``train/...`` figures,
repeat the scores so far (Tune needs the metric and ASHA's time attribute in
every row), and are not fed to the searcher's studies.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cappuccino_ray.search.rows import ITERATION_ROW, RESULT_KIND, SPLIT_ROW
from cappuccino_ray.search.trainable import mini_trial_config, run_trial

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("own_ray")]


def _config(**overrides: Any) -> dict[str, Any]:
    base = {"max_splits": 2, "n_groups": 3, "n_test_groups": 1, "synthetic_bars": 1500, "train_steps": 3072}
    return mini_trial_config(**(base | overrides))


@pytest.mark.parametrize(("algo", "loss"), [("ppo", "policy_loss"), ("ddqn", "qf_loss")])
def test_every_iteration_gives_a_curve_row_with_the_scores_so_far(algo: str, loss: str) -> None:
    rows: list[dict[str, Any]] = []
    # A 1-day holding limit: 48-bar training episodes, so some end within 3,072 steps.
    splits = run_trial(_config(algo=algo, curve_every_s=1e-9, max_hold_days=1.0), curve=rows.append)
    assert [s[RESULT_KIND] for s in splits] == [SPLIT_ROW, SPLIT_ROW]
    assert rows and all(r[RESULT_KIND] == ITERATION_ROW for r in rows)
    for split in (0, 1):
        mine = [r for r in rows if r["train"]["split"] == split]
        steps = [r["train"]["env_steps"] for r in mine]
        assert len(mine) >= 2 and steps == sorted(steps) and steps[-1] >= 3072
        assert all(math.isfinite(r["train"][loss]) and r["train"]["env_steps_per_s"] > 0 for r in mine)
        assert {r["splits_done"] for r in mine} == {split}
    first = [r for r in rows if r["train"]["split"] == 0]
    second = [r for r in rows if r["train"]["split"] == 1]
    assert all(math.isnan(r["objective"]) for r in first)  # nothing scored yet
    assert all(r["objective"] == splits[0]["objective"] for r in second)  # the score after split 0
    assert any("episode_return_mean" in r["train"] for r in rows)  # training episodes end


def test_curve_rows_are_throttled_and_off_at_zero() -> None:
    rows: list[dict[str, Any]] = []
    run_trial(_config(max_splits=1, curve_every_s=0.0), curve=rows.append)
    assert rows == []
    run_trial(_config(max_splits=1, curve_every_s=3600.0), curve=rows.append)
    assert rows == []  # no split trains for an hour


def _scalars(event_file: Path) -> dict[str, list[float]]:
    """Tag -> values of a TensorBoard event file (TFRecord framing, ``Event`` protos)."""
    from tensorboardX.proto import event_pb2

    out: dict[str, list[float]] = {}
    data = event_file.read_bytes()
    at = 0
    while at < len(data):
        (length,) = struct.unpack("<Q", data[at : at + 8])
        event = event_pb2.Event.FromString(data[at + 12 : at + 12 + length])
        at += 12 + length + 4
        for value in event.summary.value:
            out.setdefault(value.tag, []).append(value.simple_value)
    return out


def test_tune_with_asha_records_the_curves_in_csv_and_tensorboard(tmp_path: Path) -> None:
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    from cappuccino_ray.data.synthetic import generate_market
    from cappuccino_ray.search.trainable import cpcv_trainable

    config = _config(max_splits=3, curve_every_s=1e-9, train_steps=2048)
    trainable = tune.with_parameters(cpcv_trainable, markets={"1h": generate_market(1500, seed=5)})
    asha = ASHAScheduler(time_attr="splits_done", metric="objective", mode="max", max_t=3, grace_period=1)
    tuner = tune.Tuner(
        trainable,
        param_space={**config, "seed": tune.grid_search([0, 1])},
        tune_config=tune.TuneConfig(scheduler=asha),
        run_config=tune.RunConfig(name="curves", storage_path=str(tmp_path), verbose=0),
    )
    grid = tuner.fit()
    assert not grid.errors
    for result in grid:
        assert result.metrics[RESULT_KIND] == SPLIT_ROW  # the last row is a score
        frame = pd.read_csv(Path(result.path) / "progress.csv")
        curve = frame[frame[RESULT_KIND] == ITERATION_ROW]
        scores = frame[frame[RESULT_KIND] == SPLIT_ROW]
        assert len(scores) == result.metrics["splits_done"] and len(curve) >= 2 * len(scores)
        assert np.isfinite(curve["train/policy_loss"]).all()
        assert curve["train/env_steps"].max() >= 2048
        (events,) = Path(result.path).glob("events.out.tfevents.*")
        tags = _scalars(events)
        assert len(tags["ray/tune/train/policy_loss"]) == len(curve)
        assert len(tags["ray/tune/train/env_steps_per_s"]) == len(curve)
