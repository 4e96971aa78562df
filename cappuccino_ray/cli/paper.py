"""``cappuccino-ray backtest`` and ``cappuccino-ray paper run|start|stop|status``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``backtest`` command and the ``paper`` command group."""
    b: argparse.ArgumentParser = sub.add_parser("backtest", help="backtest a checkpoint, run or deployment")
    b.add_argument(
        "path", metavar="PATH", help="checkpoint folder, run folder, or deployment (current or an id)"
    )
    _source_args(b)
    b.add_argument("--start", default=None, help="first decision bar (ISO time)")
    b.add_argument("--end", default=None, help="last bar (ISO time)")
    b.add_argument("--json", action="store_true", help="print JSON instead of a table")
    b.add_argument("--html", default=None, metavar="OUT", help="also write the equity/drawdown figures here")
    b.set_defaults(func=_backtest)

    p: argparse.ArgumentParser = sub.add_parser("paper", help="paper-trade a checkpoint bar by bar")
    s = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (
        ("run", "paper-trade in this process until --until or the end of the candles"),
        ("start", "run the paper trader as a detached daemon (one per state folder)"),
    ):
        q = s.add_parser(name, help=text)
        q.add_argument("path", metavar="PATH", help="checkpoint folder, run folder or deployment")
        q.add_argument("--state", required=True, help="state folder holding the book")
        mode = q.add_mutually_exclusive_group(required=True)
        mode.add_argument("--replay", metavar="D", default=None, help="replay this candle folder as if live")
        mode.add_argument("--live", action="store_true", help="new closed candles from the data store")
        _source_args(q, data=False)
        q.add_argument("--start", default=None, help="first decision bar of a new book (ISO time)")
        q.add_argument("--until", default=None, help="stop after this bar (ISO time)")
        q.add_argument("--poll-seconds", type=float, default=60.0, help="live: seconds between store reads")
        q.add_argument("--refresh", action="store_true", help="live: run the downloader before each read")
        q.add_argument("--notify", action="store_true", help="send daily summaries (always on for --live)")
        q.add_argument("--json", action="store_true", help="print JSON")
    for name, text in (
        ("stop", "stop the paper daemon"),
        ("status", "equity, buy-and-hold, drawdown, trades"),
    ):
        q = s.add_parser(name, help=text)
        q.add_argument("--state", required=True, help="state folder holding the book")
        q.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_paper)
    _register_arena(s)


def _register_arena(s: Any) -> None:
    a: argparse.ArgumentParser = s.add_parser("arena", help="champion vs challenger on paper")
    acts = a.add_subparsers(dest="arena_action", required=True, metavar="ARENA_ACTION")
    prop = acts.add_parser("propose", help="RUN's winner: deployed if nothing is, else the challenger")
    prop.add_argument("run", metavar="RUN", help="run folder (or its two-phase report)")
    run = acts.add_parser("run", help="feed closed bars to champion and challenger; apply the rule")
    mode = run.add_mutually_exclusive_group(required=True)
    mode.add_argument("--replay", metavar="D", default=None, help="replay this candle folder bar by bar")
    mode.add_argument("--live", action="store_true", help="new closed candles from the data store")
    run.add_argument("--data-config", default="configs/data.yaml", help="data YAML (the store)")
    run.add_argument("--start", default=None, help="replay: first bar (ISO time)")
    run.add_argument("--until", default=None, help="stop after this bar (ISO time)")
    run.add_argument("--poll-seconds", type=float, default=60.0, help="live: seconds between store reads")
    run.add_argument(
        "--from-scheduler", action="store_true", help="propose the scheduler's gated, undeployed winners"
    )
    for q in (prop, run):
        q.add_argument("--arena", required=True, help="arena folder (champion and challenger books)")
        q.add_argument("--schedule-config", default="configs/schedule.yaml", help="schedule YAML (logs)")
        q.add_argument("--deploy-config", default="configs/deploy.yaml", help="deploy YAML (gate, promotion)")
        q.add_argument("--env-file", default=".env.training", help="dotenv with TWO_PHASE_* overrides")
        q.add_argument("--json", action="store_true", help="print JSON")


def _source_args(p: argparse.ArgumentParser, *, data: bool = True) -> None:
    if data:
        p.add_argument(
            "--data", default=None, metavar="D", help="candle folder or store (default: the store)"
        )
    p.add_argument("--data-config", default="configs/data.yaml", help="data YAML (the store when no --data)")
    p.add_argument("--deploy-config", default="configs/deploy.yaml", help="deployment YAML (deployments_dir)")


def _deploy_config(path: str) -> Any:
    from cappuccino_ray.config import DeployConfig, load_config

    return load_config(DeployConfig, path) if Path(path).is_file() else DeployConfig()


def checkpoint_of(args: argparse.Namespace) -> Path:
    """The checkpoint folder of ``args.path``."""
    from cappuccino_ray.paper.sources import resolve_checkpoint

    deploy = _deploy_config(args.deploy_config)
    return resolve_checkpoint(args.path, deployments_dir=deploy.deployments_dir)


def market_of(args: argparse.Namespace, checkpoint: Path, folder: str | None) -> Any:
    """The candles of the checkpoint's symbols and interval from ``folder`` or the store."""
    from cappuccino_ray.agents.checkpoint import read_agent_spec
    from cappuccino_ray.paper.sources import load_candles, market_from_store

    spec = read_agent_spec(checkpoint)
    if folder is not None:
        return load_candles(folder, tuple(spec.symbols), spec.interval, spec.n_assets)
    return market_from_store(args.data_config, tuple(spec.symbols), spec.interval)


def _backtest(args: argparse.Namespace) -> int:
    from cappuccino_ray.paper.backtest import metrics_table, run_backtest, write_html
    from cappuccino_ray.paper.sources import parse_time

    ckpt = checkpoint_of(args)
    market = market_of(args, ckpt, args.data)
    res = run_backtest(ckpt, market, start=parse_time(args.start), end=parse_time(args.end))
    if args.html:
        res.summary["html"] = str(write_html(res, args.html))
    print(json.dumps(res.summary, indent=2) if args.json else metrics_table(res.summary))
    return 0


def _paper(args: argparse.Namespace) -> int:
    from cappuccino_ray.paper import daemon

    if args.action == "arena":
        return _arena(args)
    if args.action == "run":
        out = daemon.run_paper(args, checkpoint_of(args))
        print(json.dumps(out) if args.json else daemon.run_text(out))
    elif args.action == "start":
        ckpt = checkpoint_of(args)
        pid = daemon.spawn(args, ckpt)
        out = {"pid": pid, "state": args.state}
        print(
            json.dumps(out) if args.json else f"paper trader started (PID {pid}); log: {args.state}/paper.log"
        )
    elif args.action == "stop":
        stopped = daemon.stop(args.state)
        print(
            json.dumps({"stopped": stopped})
            if args.json
            else (f"paper trader (PID {stopped}) stopped" if stopped else "paper trader was not running")
        )
    else:
        st = daemon.status(args.state)
        print(json.dumps(st, indent=2) if args.json else daemon.status_text(st))
    return 0


def _arena(args: argparse.Namespace) -> int:
    from cappuccino_ray.ops.scheduler import load_settings
    from cappuccino_ray.paper.arena import Arena, run_arena

    settings = load_settings(args.schedule_config, args.deploy_config, args.env_file)
    arena = Arena(args.arena, settings)
    try:
        if args.arena_action == "propose":
            outcome = arena.propose(args.run)
            current = arena.deployer.current_id()
            out: dict[str, Any] = {"outcome": outcome, "current": current}
            text = f"promoted: {current} is deployed" if outcome == "promoted" else "challenger set"
        else:
            verdicts = run_arena(arena, args)
            out = {"verdicts": verdicts, "current": arena.deployer.current_id()}
            text = "\n".join(f"{v['bar']}: {v['action']}: {v['reason']}" for v in verdicts) or "no change"
    finally:
        arena.close()
    print(json.dumps(out) if args.json else text)
    return 0
