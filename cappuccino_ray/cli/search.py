"""``cappuccino-ray`` commands of the search domain: ``phase1``, ``phase2``, ``run`` and ``demo``.

Heavy modules (Ray, torch) are imported only when a command runs.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from cappuccino_ray.run_files import HTML_REPORT_FILE

__all__ = ["options_from_args", "register"]


def _common(p: argparse.ArgumentParser, *, data: bool = True) -> None:
    p.add_argument(
        "--config",
        metavar="DIR",
        help="config folder (default: ./configs if it holds phase1.yaml, else the packaged defaults)",
    )
    if data:
        p.add_argument("--data", metavar="PATH", help="data config YAML or a folder of candle files")
    p.add_argument("--mini", action="store_true", help="smoke test: tiny but real (configs/mini.yaml on top)")
    p.add_argument(
        "--preset",
        choices=("mini", "small"),
        help="configs/<preset>.yaml on top: small = enough trials for PBO and DSR to mean something",
    )
    p.add_argument("--seed", type=int, help="base seed of both phases")
    p.add_argument("--resume", action="store_true", help="continue the newest interrupted run of this config")
    p.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local Ray)")
    p.add_argument(
        "--results",
        default="results",
        metavar="DIR",
        help="results root: a folder or s3://, gs://, file:// URI (default: %(default)s)",
    )
    p.add_argument("--holdout-fraction", type=float, default=0.15, help="share of bars held out")
    p.add_argument("--quiet", action="store_true", help="no live progress view")
    p.add_argument(
        "--trial-logs",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="forward the trials' output to this driver (default: on with a cluster address, else off)",
    )
    p.add_argument(
        "--optuna-storage",
        metavar="URL",
        help="SQLAlchemy URL of the Optuna studies (default: sqlite optuna.db in a local run folder)",
    )
    p.add_argument(
        "--gpus-per-trial",
        type=float,
        metavar="N",
        help="GPUs per trial for both phases, e.g. 0.25 (four trials share a GPU; default: the phase files)",
    )


def register(sub: Any) -> None:
    """Add ``phase1``, ``phase2``, ``run`` and ``demo``."""
    p1 = sub.add_parser("phase1", help="phase 1: the holding time x interval search")
    _common(p1)
    p1.set_defaults(func=_cmd_pipeline, phase1_only=True, what="phase 1 winner")

    p2 = sub.add_parser("phase2", help="phase 2: PPO vs double-DQN on phase 1's winner")
    _common(p2)
    p2.add_argument(
        "--phase1-results", required=True, metavar="PATH", help="phase1_winner.json or its folder"
    )
    p2.set_defaults(func=_cmd_pipeline, phase2_only=True, what="two-phase report")

    run = sub.add_parser("run", help="the whole two-phase job, then the hold-out evaluation and report")
    _common(run)
    run.add_argument("--phase1-only", action="store_true", help="stop after phase 1")
    run.add_argument("--phase2-only", action="store_true", help="skip phase 1 (needs --phase1-results)")
    run.add_argument("--phase1-results", metavar="PATH", help="phase1_winner.json or its folder")
    run.set_defaults(func=_cmd_pipeline, what="two-phase report")

    demo = sub.add_parser("demo", help="the mini two-phase job on generated data, to its report")
    _common(demo, data=False)
    demo.set_defaults(func=_cmd_demo, mini=True, what="demo two-phase report")


def options_from_args(args: argparse.Namespace, **changes: Any) -> Any:
    """Build :class:`~cappuccino_ray.search.pipeline.PipelineOptions` from parsed arguments.

    Raises:
        ConfigError: If a run setting is out of range (e.g. ``--holdout-fraction 0.7``).
    """
    from cappuccino_ray.config import from_mapping
    from cappuccino_ray.config.paths import find_config_dir
    from cappuccino_ray.config.search import RunConfig
    from cappuccino_ray.search.pipeline import PipelineOptions

    run = {
        "results_dir": args.results,
        "holdout_fraction": args.holdout_fraction,
        "address": args.address,
        "verbose": not args.quiet,
        "trial_logs": args.trial_logs,
        "optuna_storage": args.optuna_storage,
    }
    values: dict[str, Any] = {
        "config_dir": find_config_dir(args.config),
        "data": getattr(args, "data", None),
        "mini": args.mini,
        "preset": getattr(args, "preset", None),
        "seed": args.seed,
        "resume": args.resume,
        "phase1_only": getattr(args, "phase1_only", False),
        "phase2_only": getattr(args, "phase2_only", False),
        "phase1_results": getattr(args, "phase1_results", None),
        "gpus_per_trial": getattr(args, "gpus_per_trial", None),
        "run": from_mapping(RunConfig, run, source="command line"),
        **changes,
    }
    return PipelineOptions(**values)


def _print_result(doc: dict[str, Any], what: str) -> None:
    keys = (
        "run_dir",
        "experiment_path",
        "winner",
        "holding_days",
        "interval",
        "objective",
        "pbo",
    )
    short = {k: doc[k] for k in keys if k in doc}
    if "run_dir" in doc:
        from cappuccino_ray import storage

        html = storage.join(str(doc["run_dir"]), HTML_REPORT_FILE)
        if storage.is_file(html):
            short["html_report"] = html
    print(f"{what}:\n{json.dumps(short, indent=2, default=str)}")


def _cmd_pipeline(args: argparse.Namespace, **changes: Any) -> int:
    from cappuccino_ray.search.pipeline import run_pipeline

    opts = options_from_args(args, **changes)
    doc = run_pipeline(opts)
    _print_result(doc, "phase 1 winner" if opts.phase1_only else args.what)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from cappuccino_ray.config import DataConfig, load_config
    from cappuccino_ray.config.paths import find_config_dir

    data = load_config(DataConfig, find_config_dir(args.config) / "data.yaml", {"source": "synthetic"})
    return _cmd_pipeline(args, data=data)
