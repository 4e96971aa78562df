"""Bench of the two-phase search: the mini run's wall time and trials/min, and the full run projected.

Runs the mini job (configs/mini.yaml) on generated data, reads every trial's
per-split timings, times one full-size split of each algorithm (the full
configs' budget and mid-range hyperparameters), and projects the full
900-trial run on this machine and on a node with N CPUs and G GPUs:

    split_s(algo)  = train_steps x train_s_per_step(algo) + eval_s_per_split
    trial_s(algo)  = expected_splits x split_s(algo) + overhead_s_per_trial
    full_cpu_s     = sum over phases and algos of n_trials x trial_s
    wall_s(node)   = full_cpu_s / concurrent_trials,  concurrent = N / cpus_per_trial

expected_splits is ASHA's under the phase files' ``asha`` and ``max_splits``
(printed with the result); without ASHA every trial runs ``max_splits``.
``--max-splits`` and ``--train-steps`` project another budget on the same
measured per-step costs (e.g. 15 splits of 100,000 steps). GPUs raise the concurrency only
where gpus_per_trial > 0 and do not change the measured CPU per-step cost.

Usage: python bench/bench_search.py [--cpus 64] [--gpus 4] [--skip-mini]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ORIGINAL_MINI_S = 30 * 60
ORIGINAL_FULL_S = (48 * 3600, 72 * 3600)
#: CPUs of the machine the bench runs on (the "here" projection).
HERE_CPUS = os.cpu_count() or 1


def asha_expected_splits(max_t: int, grace: int, rf: float) -> float:
    rungs = []
    t = grace
    while t < max_t:
        rungs.append(t)
        t = math.ceil(t * rf)
    rungs.append(max_t)
    expected, p_reach = 0.0, 1.0
    for i, r in enumerate(rungs):
        p_next = p_reach / rf if i < len(rungs) - 1 else 0.0
        expected += (p_reach - p_next) * r
        p_reach = p_next
    return expected


def run_mini(results: Path) -> dict[str, float]:
    import ray

    from cappuccino_ray.config import DataConfig, load_config
    from cappuccino_ray.config.search import RunConfig
    from cappuccino_ray.search.pipeline import PipelineOptions, run_pipeline
    from cappuccino_ray.search.results import rows_from_experiment
    from cappuccino_ray.search.rows import is_split_row

    data = load_config(DataConfig, REPO / "configs" / "data.yaml", {"source": "synthetic"})
    opts = PipelineOptions(
        config_dir=REPO / "configs",
        data=data,
        mini=True,
        run=RunConfig(results_dir=str(results), verbose=False),
    )
    t0 = time.perf_counter()
    report = run_pipeline(opts)
    wall = time.perf_counter() - t0
    ray.shutdown()
    run_dir = Path(report["run_dir"])
    trial_s, train_s, steps, eval_s, n_splits = 0.0, 0.0, 0, 0.0, 0
    phase_wall = report["phase1"]["duration_s"] + report["phase2"]["duration_s"]
    n_trials = 0
    for phase in ("phase1", "phase2"):
        for row in rows_from_experiment(run_dir / phase):
            n_trials += 1
            trial_s += float(row.metrics.get("time_total_s", 0.0))
            lines = (Path(row.checkpoint_path or ".").parent / "result.json").read_text().splitlines()
            # Split rows carry the split's training time; learning-curve rows between them
            # split the wall time, so a split's other time (evaluation, reporting) is the
            # trial's total time less its training, per split.
            splits = [r for r in map(json.loads, lines) if is_split_row(r)]
            n_splits += len(splits)
            trained = sum(r["train_s"] for r in splits)
            train_s += trained
            steps += sum(r["env_steps"] for r in splits)
            if splits:
                eval_s += splits[-1]["time_total_s"] - trained
    concurrency = HERE_CPUS  # the mini job's trials each take one CPU
    return {
        "mini_wall_s": wall,
        "mini_trials": n_trials,
        "mini_trials_per_min": n_trials / wall * 60,
        "mini_search_wall_s": phase_wall,
        "mini_trial_s_mean": trial_s / n_trials,
        "mini_eval_s_per_split": eval_s / max(n_splits, 1),
        "mini_train_s_per_step": train_s / max(steps, 1),
        "mini_overhead_s_per_trial": max(0.0, (phase_wall * concurrency - trial_s) / n_trials),
    }


def time_full_split(algo: str) -> dict[str, float]:
    from cappuccino_ray.config import DataConfig, load_config
    from cappuccino_ray.config.search import load_search_configs
    from cappuccino_ray.data import load_market
    from cappuccino_ray.search.space import fit_point
    from cappuccino_ray.search.trainable import run_trial

    p1, p2 = load_search_configs(REPO / "configs")
    space = p1.space if algo == "ppo" else p2.spaces["ddqn"]
    fixed = p1.fixed if algo == "ppo" else p2.fixed.get("ddqn", {})
    md = load_market(load_config(DataConfig, REPO / "configs" / "data.yaml", {"source": "synthetic"}))
    cfg = {
        "algo": algo,
        "interval": "1h",
        "env": {"max_hold_days": 7},
        "phase": 1,
        "train_steps": p1.budget.train_steps,
        "n_groups": p1.budget.n_groups,
        "n_test_groups": p1.budget.n_test_groups,
        "max_splits": 1,
        **fixed,
        **fit_point({}, space),
    }
    t0 = time.perf_counter()
    hist = run_trial(cfg, {"1h": md})
    total = time.perf_counter() - t0
    h = hist[0]
    return {
        f"full_{algo}_split_s": total,
        f"full_{algo}_train_s_per_step": h["train_s"] / max(h["env_steps"], 1),
        f"full_{algo}_env_steps": h["env_steps"],
    }


def _configs(max_splits: int | None, train_steps: int | None) -> tuple[Any, Any]:
    """The shipped phase configs, with the budget the projection asks for."""
    from cappuccino_ray.config.search import load_search_configs

    p1, p2 = load_search_configs(REPO / "configs")
    out = []
    for cfg in (p1, p2):
        budget = dataclasses.replace(
            cfg.budget,
            max_splits=max_splits or cfg.budget.max_splits,
            train_steps=train_steps or cfg.budget.train_steps,
        )
        out.append(dataclasses.replace(cfg, budget=budget))
    return out[0], out[1]


def project(
    fig: dict[str, float], cpus: int, gpus: int, max_splits: int | None = None, train_steps: int | None = None
) -> dict[str, float]:
    p1, p2 = _configs(max_splits, train_steps)
    out: dict[str, float] = {}
    eval_s = fig.get("mini_eval_s_per_split", 1.0)
    overhead = fig.get("mini_overhead_s_per_trial", 0.12)
    jobs = [(p1, "ppo", p1.n_trials)] + [(p2, a, p2.trials_per_algo) for a in p2.algos]
    for label, use_asha in (("asha", True), ("no_asha", False)):
        cpu_s = wall_here_s = wall_node_s = 0.0
        for cfg, algo, n in jobs:
            b, res = cfg.budget, cfg.resources
            splits = (
                asha_expected_splits(b.max_splits, cfg.asha.grace_period, cfg.asha.reduction_factor)
                if use_asha
                else b.max_splits
            )
            per_step = fig.get(f"full_{algo}_train_s_per_step", fig.get("mini_train_s_per_step", 1e-3))
            split_s = b.train_steps * per_step + eval_s
            job_s = n * (splits * split_s + overhead)
            # Concurrent trials: CPUs / CPUs per trial, capped by GPUs where trials take GPUs.
            node = cpus / res.cpus_per_trial
            if res.gpus_per_trial > 0:
                node = min(node, gpus / res.gpus_per_trial)
            cpu_s += job_s
            wall_here_s += job_s / max(1.0, HERE_CPUS / res.cpus_per_trial)
            wall_node_s += job_s / max(1.0, node)
        out[f"full_trial_cpu_h_{label}"] = cpu_s / 3600
        out[f"full_wall_h_here_{label}"] = wall_here_s / 3600
        out[f"full_wall_h_node_{cpus}cpu_{gpus}gpu_{label}"] = wall_node_s / 3600
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpus", type=int, default=64, help="CPUs of the projected node")
    ap.add_argument("--gpus", type=int, default=4, help="GPUs of the projected node")
    ap.add_argument("--skip-mini", action="store_true", help="only time the full-size splits")
    ap.add_argument("--max-splits", type=int, help="project this many splits per trial")
    ap.add_argument("--train-steps", type=int, help="project this many training steps per split")
    args = ap.parse_args()
    fig: dict[str, float] = {}
    if not args.skip_mini:
        with tempfile.TemporaryDirectory() as tmp:
            fig |= run_mini(Path(tmp))
    for algo in ("ppo", "ddqn"):
        fig |= time_full_split(algo)
    fig |= project(fig, args.cpus, args.gpus, args.max_splits, args.train_steps)
    p1, _ = _configs(args.max_splits, args.train_steps)
    b, a = p1.budget, p1.asha
    asha = asha_expected_splits(b.max_splits, a.grace_period, a.reduction_factor)
    fig["asha_expected_splits_per_trial"] = asha
    print(f"\n== two-phase search bench ({HERE_CPUS}-core machine)")
    for k, v in fig.items():
        print(f"   {k:<42} {v:12.4g}")
    print(
        f"\n   ASHA expected splits per trial (grace {a.grace_period}, rf {a.reduction_factor:g}, "
        f"max_t {b.max_splits}; {b.train_steps:,} steps a split): {asha:.3f}"
    )
    print("   split_s = train_steps x train_s_per_step + eval_s_per_split")
    print("   full cpu-h = sum(n_trials x (splits x split_s + overhead_s)); wall = cpu-h / concurrent trials")
    if "mini_wall_s" in fig:
        fig["speedup_vs_original_mini_x"] = ORIGINAL_MINI_S / fig["mini_wall_s"]
        print(
            f"   mini: {fig['mini_wall_s']:.0f} s vs the original ~30 min: "
            f"{fig['speedup_vs_original_mini_x']:.0f}x faster"
        )
    node_key = f"full_wall_h_node_{args.cpus}cpu_{args.gpus}gpu_asha"
    fig["speedup_vs_original_full_low_x"] = ORIGINAL_FULL_S[0] / 3600 / fig[node_key]
    print(
        f"   full on a {args.cpus}-CPU node with ASHA: {fig[node_key]:.2f} h vs the original 48-72 h: "
        f"{fig['speedup_vs_original_full_low_x']:.0f}x+ faster"
    )
    print(json.dumps({k: round(v, 6) for k, v in fig.items()}))


if __name__ == "__main__":
    main()
