"""Skill against noise through the real pipeline: does the deploy gate pass planted skill and refuse noise?

For each planted-pattern strength (the synthetic generator's ``planted_signal``;
0 is the null: a market with no learnable pattern) and each seed, runs the whole
two-phase job at the ``small`` preset (``configs/small.yaml``) on a generated
market with that strength and seed, then puts the winner through the deploy gate
with its default thresholds (``configs/deploy.yaml``). Prints one row per run
(PBO, deflated Sharpe, hold-out Sharpe against buy-and-hold, trades, gate verdict,
minutes) and, per strength, the gate's pass rate. Aim: strength 1.0 passes in at
least 4 of 5 seeds, the null in none. The default strengths are the null, 1.0
and 3.0, the strength the learning tests use. The deflated Sharpe is also shown
with the trials' own Sharpe variance as its null variance (``dsr_variance: trials``).

Usage: python bench/bench_honesty.py [--strengths 0 1.0 3.0] [--seeds 5] [--bars 8760] [--keep DIR]
       [--train-steps N] [--first-seed K]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def run_one(strength: float, seed: int, bars: int, root: Path, config_dir: Path) -> dict[str, Any]:
    import ray

    from cappuccino_ray.config import from_mapping
    from cappuccino_ray.config.data import DataConfig
    from cappuccino_ray.config.ops import GateConfig
    from cappuccino_ray.config.search import RunConfig
    from cappuccino_ray.ops.gate import evaluate_gate
    from cappuccino_ray.search.pipeline import PipelineOptions, run_pipeline

    data = from_mapping(
        DataConfig,
        {"source": "synthetic", "synthetic": {"n_bars": bars, "seed": seed, "planted_signal": strength}},
        source="bench",
    )
    opts = PipelineOptions(
        config_dir=config_dir,
        data=data,
        preset="small",
        seed=seed,
        run=RunConfig(results_dir=str(root / f"s{strength}_{seed}"), verbose=False),
        write_html=False,
    )
    t0 = time.monotonic()
    try:
        report = run_pipeline(opts)
    finally:
        ray.shutdown()
    gate = evaluate_gate(report, GateConfig())
    hold = report["holdout"]
    by_variance = report["phase2"]["deflated_sharpe"].get("by_variance", {})
    return {
        "strength": strength,
        "seed": seed,
        "pbo": report["pbo"],
        "dsr": report["deflated_sharpe"],
        "dsr_trials": by_variance.get("trials", {}).get("value"),
        "bot_sharpe": hold["bot"]["sharpe"],
        "bh_sharpe": hold["buy_and_hold"]["sharpe"],
        "trades": hold["bot"]["n_trades"],
        "passed": gate.passed,
        "reasons": gate.reasons,
        "refused_by": [c.name for c in gate.checks if not c.passed],
        "minutes": (time.monotonic() - t0) / 60,
    }


def _configs(train_steps: int | None, root: Path) -> Path:
    """The repo's configs, or a copy whose small preset trains ``train_steps`` per split."""
    if train_steps is None:
        return REPO / "configs"
    import shutil

    import yaml

    out = root / "configs"
    shutil.copytree(REPO / "configs", out)
    small = yaml.safe_load((out / "small.yaml").read_text())
    for phase in ("phase1", "phase2"):
        small[phase]["budget"]["train_steps"] = train_steps
    (out / "small.yaml").write_text(yaml.safe_dump(small))
    return out


def _fmt(v: object) -> str:
    return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--strengths", type=float, nargs="+", default=[0.0, 1.0, 3.0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds run from this one on")
    ap.add_argument("--bars", type=int, default=8760, help="1h bars of each generated market")
    ap.add_argument("--keep", type=Path, help="keep the runs' folders here (default: a temporary folder)")
    ap.add_argument("--train-steps", type=int, help="steps per split in both phases (default: small.yaml's)")
    args = ap.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench_honesty_") as scratch:
        tmp = args.keep or scratch
        Path(tmp).mkdir(parents=True, exist_ok=True)
        config_dir = _configs(args.train_steps, Path(tmp))
        for strength in args.strengths:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                row = run_one(strength, seed, args.bars, Path(tmp), config_dir)
                rows.append(row)
                print(
                    f"strength {strength:<4} seed {seed}  PBO {_fmt(row['pbo'])}  DSR {_fmt(row['dsr'])} "
                    f"(trials' variance {_fmt(row['dsr_trials'])})  "
                    f"hold-out Sharpe {_fmt(row['bot_sharpe'])} vs {_fmt(row['bh_sharpe'])}  "
                    f"trades {row['trades']}  gate "
                    f"{'PASS' if row['passed'] else 'refused (' + ', '.join(row['refused_by']) + ')'}  "
                    f"{row['minutes']:.1f} min",
                    flush=True,
                )
    print()
    print(f"{'strength':>8} {'runs':>5} {'gate passes':>12} {'mean PBO':>9} {'mean DSR':>9} {'min/run':>8}")
    figures: dict[str, object] = {
        "seeds": args.seeds,
        "first_seed": args.first_seed,
        "bars": args.bars,
        "preset": "small",
        "train_steps_per_split": args.train_steps,
    }
    for strength in args.strengths:
        mine = [r for r in rows if r["strength"] == strength]
        passes = sum(bool(r["passed"]) for r in mine)
        pbos = [float(r["pbo"]) for r in mine if r["pbo"] is not None]
        dsrs = [float(r["dsr"]) for r in mine if r["dsr"] is not None]
        trials = [float(r["dsr_trials"]) for r in mine if r["dsr_trials"] is not None]
        minutes = sum(float(r["minutes"]) for r in mine) / max(len(mine), 1)
        mean_pbo = sum(pbos) / len(pbos) if pbos else None
        mean_dsr = sum(dsrs) / len(dsrs) if dsrs else None
        print(
            f"{strength:>8} {len(mine):>5} {passes:>8} / {len(mine):<3} {_fmt(mean_pbo):>9} "
            f"{_fmt(mean_dsr):>9} {minutes:>8.1f}"
        )
        key = f"strength_{strength:g}"
        figures[f"{key}_gate_pass_rate"] = passes / max(len(mine), 1)
        figures[f"{key}_mean_pbo"] = mean_pbo
        figures[f"{key}_mean_dsr"] = mean_dsr
        figures[f"{key}_mean_dsr_trials_variance"] = sum(trials) / len(trials) if trials else None
        figures[f"{key}_minutes_per_run"] = round(minutes, 2)
        refusals: dict[str, int] = {}
        for r in mine:
            for name in r["refused_by"]:
                refusals[name] = refusals.get(name, 0) + 1
        figures[f"{key}_runs_refused_by_check"] = refusals
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
