"""A small Tune run on an existing cluster: trials record their node, checkpoint, and retry on failure.

Usage: ops_cluster_driver.py ADDRESS STORAGE_DIR TRACE_FILE OUT_JSON [N_TRIALS] [N_ITERS] [STEP_S]
Each trial step appends ``trial node iteration`` to TRACE_FILE; OUT_JSON gets a summary.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import ray
from ray import tune
from ray.tune import Checkpoint


def trainable(config: dict[str, Any]) -> None:
    start = 0
    ckpt = tune.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            start = int(Path(d, "it").read_text()) + 1
    node = ray.get_runtime_context().get_node_id()
    for it in range(start, config["iters"]):
        time.sleep(config["step_s"])
        with open(config["trace"], "a") as fh:
            fh.write(f"{tune.get_context().get_trial_id()} {node} {it}\n")
        with tempfile.TemporaryDirectory() as d:
            Path(d, "it").write_text(str(it))
            tune.report(
                {"it": it, "resumed_from": start, "node": node}, checkpoint=Checkpoint.from_directory(d)
            )


def main() -> int:
    address, storage, trace, out = sys.argv[1:5]
    n_trials = int(sys.argv[5]) if len(sys.argv) > 5 else 4
    iters = int(sys.argv[6]) if len(sys.argv) > 6 else 8
    step_s = float(sys.argv[7]) if len(sys.argv) > 7 else 0.5
    ray.init(address=address, log_to_driver=False)
    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}),
        param_space={
            "iters": iters,
            "step_s": step_s,
            "trace": trace,
            "i": tune.grid_search(list(range(n_trials))),
        },
        run_config=tune.RunConfig(
            name="ops_cluster",
            storage_path=storage,
            failure_config=tune.FailureConfig(max_failures=3),
            verbose=0,
        ),
    )
    results = tuner.fit()
    summary = {
        "n_trials": len(results),
        "errors": len(results.errors),
        "final_its": sorted(int(r.metrics.get("it", -1)) for r in results),
        "resumed": sorted(int(r.metrics.get("resumed_from", 0)) for r in results),
        "nodes": sorted({n["NodeID"] for n in ray.nodes() if n["Alive"]}),
    }
    tmp = out + ".tmp"
    Path(tmp).write_text(json.dumps(summary))
    os.replace(tmp, out)
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
