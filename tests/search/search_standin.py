"""A cheap stand-in for the CPCV trainable: same config keys, same per-split reports.

Its objective is a known function of the hyperparameters and the combination,
so tests can check that the search finds what it should. ``sleep_s`` slows a
split down (for the kill-and-resume test).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from ray import tune

from cappuccino_ray.validation import CombinatorialPurgedCV

SPLITS_FILE = "state.json"


def standin_objective(config: Mapping[str, Any], split: int) -> float:
    lr = float(config.get("lr", 3e-5))
    combo_bonus = 0.1 * int(config.get("env", {}).get("max_hold_days", 0)) / 14 + (
        0.2 if config.get("interval") == "1h" else 0
    )
    return combo_bonus - (math.log10(lr) + 4.5) ** 2 + 0.01 * split


def standin_trainable(config: dict[str, Any], markets: Mapping[str, Any] | None = None) -> None:
    start = 0
    ckpt = tune.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            start = json.loads((Path(d) / SPLITS_FILE).read_text())["splits_done"]
    rng = np.random.default_rng(int(config.get("seed", 0)))
    n_splits = int(config.get("max_splits", 2))
    sleep_s = float(config.get("sleep_s", 0.0))
    cv = CombinatorialPurgedCV(int(config.get("n_groups", 4)), int(config.get("n_test_groups", 2)))
    order = cv.scoring_order()
    arrays: dict[str, np.ndarray] = {}
    for split in range(start, n_splits):
        time.sleep(sleep_s)
        obj = standin_objective(config, split)
        # Per (split, group) returns and bar times, in the trainable's layout (64 hourly bars a group).
        for g in cv.test_group_ids[order[split]]:
            key = f"s{order[split]:03d}_g{g:02d}"
            arrays[key] = rng.normal(obj * 1e-3, 1e-2, size=64)
            arrays[f"t_{key}"] = (np.arange(64) + 64 * g) * 3_600 * 10**9
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / SPLITS_FILE).write_text(json.dumps({"splits_done": split + 1}))
            np.savez(os.path.join(d, "test_returns.npz"), **arrays)
            tune.report(
                {
                    "objective": obj,
                    "split": split,
                    "splits_done": split + 1,
                    "bot_sharpe": obj,
                    "bh_sharpe": 0.1,
                    "bot_return": obj / 10,
                    "fees_paid": 1.0,
                    "n_forced_sales": 0,
                },
                checkpoint=tune.Checkpoint.from_directory(d),
            )
