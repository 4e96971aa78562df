"""A cheap stand-in for the two-phase job: writes a checkpoint and a valid report.

Usage: ops_fake_job.py --run-dir DIR --run-id ID [--behaviour good|bad_gate|fail|no_report|stale|slow]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def metrics(sharpe: float, mdd: float, n_trades: int) -> dict[str, float]:
    return {
        "total_return": 0.12,
        "annual_return": 0.3,
        "annual_volatility": 0.4,
        "sharpe": sharpe,
        "sortino": sharpe * 1.3,
        "max_drawdown": mdd,
        "calmar": 0.9,
        "turnover": 3.0,
        "fees_paid": 12.5,
        "n_trades": n_trades,
        "n_forced_sales": 0,
    }


def make_report(run_dir: Path, run_id: str, *, good: bool, finished: datetime) -> dict[str, object]:
    ckpt = run_dir / "checkpoint"
    return {
        "status": "completed",
        "run_id": run_id,
        "run_dir": str(run_dir),
        "mode": "mini",
        "started_at": (finished - timedelta(seconds=5)).isoformat(),
        "finished_at": finished.isoformat(),
        "duration_s": 5.0,
        "phase1": {"best_interval": "1h"},
        "phase2": {"trials": 4},
        "winner": {
            "algorithm": "ppo",
            "holding_days": 3,
            "interval": "1h",
            "checkpoint_path": str(ckpt),
            "objective": 0.8,
        },
        "holdout": {
            "bot": metrics(1.4 if good else 0.2, -0.18 if good else -0.7, 25),
            "buy_and_hold": metrics(0.9, -0.35, 1),
            "start": "2023-03-01T00:00:00",
            "end": "2023-04-30T23:00:00",
        },
        "pbo": 0.2 if good else 0.8,
        "deflated_sharpe": 0.97 if good else 0.1,
        "data_window": {
            "start": "2021-05-01T00:00:00",
            "end": "2023-04-30T23:00:00",
            "holdout_start": "2023-03-01",
        },
        "trial_counts": {"phase1": 5, "phase2": 4},
        "versions": {"ray": "2.60.0"},
        "config": {"seed": 0},
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--run-id", required=True)
    ap.add_argument("--behaviour", default="good")
    ap.add_argument("--sleep", type=float, default=0.0)
    a = ap.parse_args()
    run_dir = Path(a.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "job.pid").write_text(str(os.getpid()))
    print(f"fake job {a.run_id} {a.behaviour}", flush=True)
    if a.sleep:
        time.sleep(a.sleep)
    if a.behaviour == "fail":
        print("boom", file=sys.stderr)
        return 3
    if a.behaviour == "no_report":
        return 0
    ckpt = run_dir / "checkpoint"
    (ckpt / "policy").mkdir(parents=True, exist_ok=True)
    (ckpt / "rllib_checkpoint.json").write_text('{"type": "Algorithm"}')
    (ckpt / "policy" / "weights.bin").write_bytes(bytes(range(256)) * 8)
    finished = datetime.now(UTC)
    run_id = a.run_id
    if a.behaviour == "stale":
        finished -= timedelta(days=7)
        run_id = "an-earlier-run"
    report = make_report(run_dir, run_id, good=a.behaviour != "bad_gate", finished=finished)
    tmp = run_dir / "report.tmp"
    tmp.write_text(json.dumps(report))
    os.replace(tmp, run_dir / "two_phase_training_report.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
