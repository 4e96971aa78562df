"""``cappuccino-ray results`` and ``cappuccino-ray report``: look at what a run found.

``results`` with no run lists the runs under ``results/``; with a run it shows
the best trial per combination and per algorithm and the failed trials (or one
of them with ``--query``), as a table, CSV or JSON. ``report`` writes the HTML
report into the run folder and prints its path. Heavy modules load lazily.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import Any

from cappuccino_ray.errors import ConfigError

__all__ = ["register"]

_RESULTS_HELP = "folder or s3:// / gs:// URI holding the runs (default: results)"
_QUERIES = ("summary", "combos", "algos", "failed", "trials")


def register(sub: Any) -> None:
    """Add the ``results`` and ``report`` commands."""
    res = sub.add_parser(
        "results",
        help="list runs, or query one run's trials",
        description="Without RUN: list the runs. With RUN: best trials per combination and algorithm, "
        "and failed trials with their reasons.",
    )
    res.add_argument("run", nargs="?", help="run name under the results folder, or a run folder")
    res.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format")
    res.add_argument(
        "--query",
        choices=_QUERIES,
        default="summary",
        help="summary (default: combos, algos and failed), combos, algos, failed or trials (every trial)",
    )
    res.add_argument(
        "--results-dir",
        default="results",
        help=_RESULTS_HELP,
    )
    res.set_defaults(func=_results)

    rep = sub.add_parser(
        "report",
        help="write a run's HTML report and print its path",
        description="Write a self-contained HTML report (plots embedded) into the run folder.",
    )
    rep.add_argument("run", nargs="?", help="run name or folder (default: the newest run)")
    rep.add_argument(
        "--results-dir",
        default="results",
        help=_RESULTS_HELP,
    )
    rep.add_argument("--out", default=None, help="write here instead of <run>/report.html")
    rep.set_defaults(func=_report)


def _results(args: argparse.Namespace) -> int:
    with _local_view(args.results_dir, args.run) as (results_dir, run, shown):
        return _show_results(args, results_dir, run, shown)


@contextlib.contextmanager
def _local_view(results_dir: str, run: str | None) -> Iterator[tuple[str, str | None, str | None]]:
    """Runs on shared storage (``s3://...``) read from a temporary local copy without checkpoints.

    Yields ``(results_dir, run, shown)``: local stand-ins for the arguments, and the
    run's URI to show (``None`` for a local run).
    """
    from cappuccino_ray import storage

    remote_run = run if run is not None and storage.is_remote(run) else None
    if remote_run is None and run is not None and storage.is_remote(results_dir):
        remote_run = storage.join(results_dir, run)
    if remote_run is not None:
        with storage.local_copy(remote_run, exclude=("checkpoint_*",)) as local:
            yield results_dir, str(local), remote_run
    elif storage.is_remote(results_dir):
        with storage.local_copy(results_dir, exclude=("checkpoint_*",)) as local:
            yield str(local), None, None
    else:
        yield results_dir, run, None


def _show_results(args: argparse.Namespace, results_dir: str, run: str | None, shown: str | None) -> int:
    from cappuccino_ray.report import queries as q

    if run is None:
        print(q.format_rows(q.list_runs(results_dir), args.format))
        return 0
    run_dir = q.resolve_run(results_dir, run)
    trials = q.load_trials(run_dir)
    parts: dict[str, list[dict[str, Any]]] = {
        "combos": q.trial_rows(q.best_per_combination(trials), with_params=True),
        "algos": q.trial_rows(q.best_per_algorithm(trials), with_params=True),
        "failed": q.trial_rows(q.failed_trials(trials)),
        "trials": q.trial_rows(trials, with_params=True),
    }
    titles = {
        "combos": "Best trial per combination (phase 1)",
        "algos": "Best trial per algorithm",
        "failed": "Failed trials",
        "trials": "All trials",
    }
    chosen = ["combos", "algos", "failed"] if args.query == "summary" else [args.query]
    if args.format == "table":
        blocks = [f"{titles[k]}:\n{q.format_rows(parts[k], 'table')}" for k in chosen]
        print(f"run {shown or run_dir} ({len(trials)} trials)\n\n" + "\n\n".join(blocks))
    elif len(chosen) == 1:
        print(q.format_rows(parts[chosen[0]], args.format), end="" if args.format == "csv" else "\n")
    else:
        rows = [{"query": k, **row} for k in chosen for row in parts[k]]
        print(q.format_rows(rows, args.format), end="" if args.format == "csv" else "\n")
    return 0


def _report(args: argparse.Namespace) -> int:
    from cappuccino_ray import storage
    from cappuccino_ray.report.html import write_report
    from cappuccino_ray.report.queries import resolve_run

    if storage.is_remote(args.run or "") or storage.is_remote(args.results_dir):
        # Shared storage: the run's URI (the newest run by name when none is given; names start
        # with their start time), read and written back by write_report.
        run = args.run or (storage.list_dirs(args.results_dir) or [""])[-1]
        if not run:
            raise ConfigError(f"{args.results_dir}: no runs there; check the storage URI")
        target = run if storage.is_remote(run) else storage.join(args.results_dir, run)
        print(write_report(target, args.out))
        return 0
    run_dir = resolve_run(args.results_dir, args.run)
    print(write_report(run_dir, args.out))
    return 0
