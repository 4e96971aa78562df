"""Peak memory of one PPO and one double-DQN CPCV trial at the full training budget.

Each algorithm runs in its own process (so each peak is its own): one trial
of ``--splits`` CPCV splits at 20,000 env steps per split with the default
hyperparameters (PPO: 64 copies, batch 4,096; double-DQN: 32 copies, a
100,000-transition replay buffer), on the synthetic 1h market. The resident
set size is read after every split (growth across splits would show there)
and the process's peak (``VmHWM``) at the end.

Run: ``.venv/bin/python bench/bench_memory.py`` (``--splits 3`` by default; the README quotes ``--splits 4``).
The last line is a JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from figures import print_figures  # bench/ is the script folder: first on sys.path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _status_mib(key: str) -> float:
    """A ``/proc/self/status`` memory figure in MiB (``VmRSS``, ``VmHWM``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _one(algo: str, splits: int) -> dict[str, Any]:
    import ray

    from cappuccino_ray.search.trainable import mini_trial_config, run_trial

    cfg = mini_trial_config(algo=algo, max_splits=splits, train_steps=20_000, synthetic_bars=4000)
    # Back to the default hyperparameters (the mini config shrinks them for tests).
    for key in ("hidden_size", "train_batch_size", "minibatch_size", "num_epochs", "num_envs"):
        cfg.pop(key, None)
    cfg.pop("learning_starts", None)
    cfg.pop("target_update_freq", None)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    rss: list[float] = []
    try:
        run_trial(cfg, report=lambda _metrics, _path: rss.append(_status_mib("VmRSS")))
    finally:
        ray.shutdown()
    return {"rss_after_split_mib": [round(r) for r in rss], "peak_rss_mib": round(_status_mib("VmHWM"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--one", choices=("ppo", "ddqn"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_one(args.one, args.splits)))
        return
    fig: dict[str, Any] = {}
    for algo in ("ppo", "ddqn"):
        out = subprocess.run(
            [sys.executable, __file__, "--one", algo, "--splits", str(args.splits)],
            check=True,
            capture_output=True,
            text=True,
        )
        res = json.loads(out.stdout.strip().splitlines()[-1])
        fig[f"{algo}_peak_rss_mib"] = res["peak_rss_mib"]
        fig[f"{algo}_rss_after_split_mib"] = res["rss_after_split_mib"]
        growth = res["rss_after_split_mib"][-1] - res["rss_after_split_mib"][0]
        fig[f"{algo}_rss_growth_first_to_last_split_mib"] = growth
    print_figures(fig)


if __name__ == "__main__":
    main()
