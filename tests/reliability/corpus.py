"""The corpus of bad inputs and faults: each case a workspace change, a command line and the expected refusal.

A case runs in a fresh copy of a small workspace (``configs/`` with generated
candles, a candle folder, two deployments, a scheduler state) and names, in
``expect``, the words its one stderr line must hold: the thing that is wrong
(file, key, row) and the fix. ``test_bad_inputs.py`` runs every case through
the real CLI entry point. The cases of config files are in ``corpus_config.py``;
the ``Case`` shape and the builders of candle files and phase documents in ``cases.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

from .cases import MINI, WINNER, Case, Files, candles_csv, data_import, phase2_only, row, winner_doc
from .corpus_config import config_cases

__all__ = ["CASES", "Case"]

# -- data files: `data import FILE` -------------------------------------------------------------------


def _data_cases() -> Iterator[Case]:
    bad_values: list[tuple[str, int, str, tuple[str, ...]]] = [
        ("nan-close", 5, row(5, c="nan"), ("row 6", "close", "NaN")),
        ("inf-close", 5, row(5, c="inf"), ("row 6", "close", "infinite")),
        ("minus-inf-low", 7, row(7, lo="-inf"), ("row 8", "low", "infinite")),
        ("inf-volume", 3, row(3, v="inf"), ("row 4", "volume", "infinite")),
        ("zero-open", 4, row(4, o="0"), ("row 5", "open", "not positive")),
        ("negative-close", 9, row(9, c="-5"), ("row 10", "close", "not positive")),
        ("negative-volume", 2, row(2, v="-1"), ("row 3", "volume", "negative")),
        ("high-below-low", 6, row(6, h="90", lo="95", o="92", c="93"), ("row 7", "high is below low")),
        ("text-close", 5, row(5, c="abc"), ("row 6", "close", "'abc'", "not a number")),
        ("text-volume", 8, row(8, v="lots"), ("row 9", "volume", "not a number")),
        ("comma-decimal", 3, row(3, c='"101,5"'), ("row 4", "close", "not a number")),
        ("bad-timestamp", 5, "2024-01-0xT05:00:00Z,100,102,98,101,10", ("row 6", "timestamp", "not a date")),
        ("timestamp-words", 5, "yesterday,100,102,98,101,10", ("row 6", "timestamp", "ISO-8601")),
        ("empty-timestamp", 5, ",100,102,98,101,10", ("row 6", "timestamp")),
    ]
    for name, i, line, expect in bad_values:
        files = {"BTCUSDT_1h.csv": candles_csv(rows={i: line})}
        yield Case(f"data-{name}", data_import("BTCUSDT_1h.csv"), expect, files)
    latin1 = candles_csv().encode().replace(b"\n2024-01-01T09", b"\n2024-01-01T09\xe9", 1)
    yield Case(
        "data-non-utf8-bytes", data_import("BTCUSDT_1h.csv"), ("line 11", "UTF-8"), {"BTCUSDT_1h.csv": latin1}
    )
    yield Case(
        "data-non-utf8-gz",
        data_import("BTCUSDT_1h.csv.gz"),
        ("line 11", "UTF-8"),
        setup=lambda ws: _gz(ws / "BTCUSDT_1h.csv.gz", latin1),
    )
    yield Case(
        "data-empty-file", data_import("BTCUSDT_1h.csv"), ("BTCUSDT_1h.csv", "empty"), {"BTCUSDT_1h.csv": ""}
    )
    yield Case(
        "data-missing-column",
        data_import("BTCUSDT_1h.csv"),
        ("missing column", "close"),
        {"BTCUSDT_1h.csv": "timestamp,open,high,low,volume\n2024-01-01T00:00:00Z,1,2,0.5,3\n"},
    )
    yield Case(
        "data-unknown-suffix",
        data_import("BTCUSDT_1h.xlsx"),
        ("unknown file type",),
        {"BTCUSDT_1h.xlsx": "x"},
    )
    yield Case("data-missing-file", data_import("nope_1h.csv"), ("nope_1h.csv", "not found"))
    yield Case(
        "data-garbage-parquet",
        data_import("BTCUSDT_1h.parquet"),
        ("BTCUSDT_1h.parquet",),
        {"BTCUSDT_1h.parquet": b"PAR1junk"},
    )
    yield Case(
        "data-garbage-feather",
        data_import("BTCUSDT_1h.feather"),
        ("BTCUSDT_1h.feather",),
        {"BTCUSDT_1h.feather": b"junk"},
    )
    yield Case(
        "data-garbage-json",
        data_import("BTCUSDT_1h.json"),
        ("BTCUSDT_1h.json",),
        {"BTCUSDT_1h.json": "{not json"},
    )
    yield Case(
        "data-garbage-gz",
        data_import("BTCUSDT_1h.csv.gz"),
        ("BTCUSDT_1h.csv.gz",),
        {"BTCUSDT_1h.csv.gz": b"not gzip"},
    )
    yield Case(
        "data-headerless-4-columns",
        data_import("BTCUSDT_1h.csv"),
        ("6 columns",),
        {"BTCUSDT_1h.csv": "1704067200000,1,2,0.5\n1704070800000,1,2,0.5\n"},
    )
    yield Case(
        "data-no-symbol", data_import("candles_1h.csv"), ("--symbol",), {"candles_1h.csv": candles_csv()}
    )
    yield Case(
        "data-bad-symbol-flag",
        data_import("BTCUSDT_1h.csv", "--symbol", "???"),
        ("symbol", "BASE/QUOTE"),
        {"BTCUSDT_1h.csv": candles_csv()},
    )
    yield Case(
        "data-bad-interval-flag",
        data_import("BTCUSDT_1h.csv", "--interval", "7m"),
        ("7m",),
        {"BTCUSDT_1h.csv": candles_csv()},
    )
    yield Case(
        "data-name-vs-spacing",
        data_import("BTCUSDT_4h.csv"),
        ("4h", "1h", "--interval"),
        {"BTCUSDT_4h.csv": candles_csv()},
    )
    yield Case(
        "data-one-row-no-interval",
        data_import("BTCUSDT.csv"),
        ("--interval",),
        {"BTCUSDT.csv": candles_csv(1)},
    )
    yield Case(
        "data-folder-all-or-nothing",
        data_import("incoming"),
        ("ZZZUSDT_1h.csv", "row 3", "infinite"),
        {
            "incoming/AAAUSDT_1h.csv": candles_csv(),
            "incoming/BBBUSDT_1h.csv": candles_csv(),
            "incoming/ZZZUSDT_1h.csv": candles_csv(rows={2: row(2, h="inf")}),
        },
    )
    yield Case(
        "data-folder-unreadable-last",
        data_import("incoming"),
        ("ZZZUSDT_1h.csv", "empty"),
        {"incoming/AAAUSDT_1h.csv": candles_csv(), "incoming/ZZZUSDT_1h.csv": ""},
    )
    yield Case(
        "data-import-bad-config",
        (*data_import("BTCUSDT_1h.csv"), "--config", "configs/nope.yaml"),
        ("nope.yaml", "not found"),
        {"BTCUSDT_1h.csv": candles_csv()},
    )
    yield Case(
        "data-long-gap-refused",
        (*data_import("BTCUSDT_1h.csv"), "--config", "configs/refuse.yaml"),
        ("gap",),
        {
            "configs/refuse.yaml": "gap_policy: refuse\n",
            "BTCUSDT_1h.csv": "\n".join(candles_csv().splitlines()[:10] + candles_csv().splitlines()[20:])
            + "\n",
        },
    )
    yield Case("data-show-unknown", ("data", "show", "DOGE/USD", "--store", "store"), ("DOGE",))
    yield Case("data-show-rows-text", ("data", "show", "BTC/USD", "--rows", "x"), ("--rows", "invalid int"))
    # The same data errors through a job's --data folder: refused before Ray starts.
    for name, rows in (
        ("inf", {4: row(4, c="inf")}),
        ("nan", {4: row(4, o="nan")}),
        ("text", {4: row(4, v="x")}),
    ):
        yield Case(
            f"run-data-folder-{name}",
            (*MINI, "--data", "candles"),
            ("BTCUSD_1h.csv", "row 5"),
            {"candles/BTCUSD_1h.csv": candles_csv(rows=rows), "candles/ETHUSD_1h.csv": candles_csv()},
        )
    yield Case(
        "run-data-csv-file",
        (*MINI, "--data", "candles/BTCUSD_1h.csv"),
        ("--data", "folder"),
        {"candles/BTCUSD_1h.csv": candles_csv()},
    )
    yield Case("run-data-missing", (*MINI, "--data", "nowhere"), ("nowhere", "--data"))
    yield Case(
        "run-data-empty-folder",
        (*MINI, "--data", "emptydir"),
        ("emptydir", "no candle files"),
        setup=lambda ws: (ws / "emptydir").mkdir(),
    )
    yield Case(
        "run-data-empty-file",
        (*MINI, "--data", "candles"),
        ("BTCUSD_1h.csv", "empty"),
        {"candles/BTCUSD_1h.csv": ""},
    )
    yield Case(
        "run-data-yaml-list", (*MINI, "--data", "d.yaml"), ("d.yaml", "mapping"), {"d.yaml": "- 1\n- 2\n"}
    )


def _gz(path: Path, data: bytes) -> None:
    import gzip

    path.write_bytes(gzip.compress(data))


# -- command-line arguments ---------------------------------------------------------------------------


def _cli_cases() -> Iterator[Case]:
    args: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
        ("no-command", (), ("COMMAND", "--help")),
        ("unknown-command", ("trian",), ("invalid choice", "trian")),
        ("seed-text", ("run", "--seed", "abc"), ("--seed", "'abc'")),
        ("holdout-text", ("run", "--holdout-fraction", "half"), ("--holdout-fraction",)),
        ("holdout-high", (*MINI, "--holdout-fraction", "0.7"), ("holdout_fraction",)),
        ("holdout-negative", (*MINI, "--holdout-fraction", "-0.1"), ("holdout_fraction",)),
        ("unknown-flag", ("run", "--minii"), ("--minii",)),
        ("phase2-no-results", ("phase2", "--mini"), ("--phase1-results",)),
        ("phase2-only-no-results", (*MINI, "--phase2-only"), ("--phase1-results",)),
        ("results-format", ("results", "--format", "xml"), ("--format", "xml")),
        ("results-query", ("results", "--query", "best"), ("--query", "best")),
        ("data-no-subcommand-paths", ("data", "import"), ("PATH",)),
        ("deploy-no-action", ("deploy",), ("ACTION",)),
        ("deploy-bad-action", ("deploy", "remove"), ("remove",)),
        ("scheduler-no-action", ("scheduler",), ("ACTION",)),
        ("scheduler-n-text", ("scheduler", "show-schedule", "-n", "x"), ("-n", "'x'")),
        ("address-unreachable", (*MINI, "--address", "127.0.0.1:1"), ("127.0.0.1:1", "--address")),
        ("address-not-host-port", (*MINI, "--address", "somewhere"), ("somewhere", "HOST:PORT")),
        ("address-bad-port", (*MINI, "--address", "127.0.0.1:http"), ("HOST:PORT",)),
        ("results-is-a-file", (*MINI, "--results", "afile"), ("afile", "not a folder")),
    ]
    for cid, argv, expect in args:
        files: dict[str, str | bytes | None] = {"afile": "x"} if "afile" in argv else {}
        yield Case(f"cli-{cid}", argv, expect, files, max_s=15.0 if "--address" in argv else 8.0)


# -- phase documents and checkpoints ------------------------------------------------------------------


def _phase_doc_cases() -> Iterator[Case]:
    w = "p1/phase1_winner.json"
    docs: list[tuple[str, Files, str, tuple[str, ...]]] = [
        ("missing", {}, "nowhere.json", ("nowhere.json",)),
        ("empty-folder", {"p1/.keep": ""}, "p1", ("phase1_winner.json",)),
        ("invalid-json", {w: "{oops"}, w, ("phase1_winner.json", "not valid JSON")),
        ("empty-file", {w: ""}, w, ("phase1_winner.json", "not valid JSON")),
        ("array", {w: "[]"}, w, ("phase1_winner.json", "not an object")),
        (
            "no-interval",
            {w: json.dumps({k: v for k, v in WINNER.items() if k != "interval"})},
            w,
            ("'interval'",),
        ),
        (
            "no-holding",
            {w: json.dumps({k: v for k, v in WINNER.items() if k != "holding_days"})},
            w,
            ("'holding_days'",),
        ),
        (
            "no-hyperparameters",
            {w: json.dumps({k: v for k, v in WINNER.items() if k != "hyperparameters"})},
            w,
            ("'hyperparameters'",),
        ),
        ("checkpoint-missing", {w: winner_doc(checkpoint_path="{ws}/p1/gone")}, w, ("checkpoint", "missing")),
        (
            "checkpoint-is-file",
            {w: winner_doc(checkpoint_path="{ws}/p1/afile"), "p1/afile": "x"},
            w,
            ("checkpoint", "missing"),
        ),
        ("non-utf8", {w: b'{"interval": "\xff"}'}, w, ("phase1_winner.json", "not valid JSON")),
    ]
    for cid, files, path, expect in docs:
        yield Case(f"phase1-results-{cid}", phase2_only(path), expect, files, max_s=15.0)
    yield Case(
        "phase1-results-in-run-folder-missing-checkpoint",
        phase2_only("run1"),
        ("checkpoint", "missing"),
        {
            "run1/phase1/phase1_winner.json": winner_doc(
                checkpoint_path="{ws}/run1/phase1/trial_x/checkpoint_000001"
            )
        },
        max_s=15.0,
    )


# -- scheduler state ----------------------------------------------------------------------------------

STATE = "logs/scheduler_state.json"


def _state_cases() -> Iterator[Case]:
    states: list[tuple[str, bytes | str, tuple[str, ...]]] = [
        ("invalid-json", "{oops", ("scheduler_state.json", "not valid JSON")),
        ("empty", "", ("scheduler_state.json", "not valid JSON")),
        ("array", "[]", ("scheduler_state.json", "not an object")),
        ("string", '"abc"', ("scheduler_state.json", "not an object")),
        ("history-string", '{"history": "abc"}', ("'history'", "expected list")),
        ("history-of-numbers", '{"history": [1, 2]}', ("history entry 0",)),
        (
            "current-run-string",
            '{"status": "running", "current_run": "abc"}',
            ("'current_run'", "expected dict"),
        ),
        ("last-run-list", '{"last_run": []}', ("'last_run'",)),
        ("status-number", '{"status": 5}', ("'status'",)),
        ("pid-text", '{"daemon_pid": "x"}', ("'daemon_pid'",)),
        ("version-bool", '{"version": true}', ("'version'",)),
        ("non-utf8", b'{"status": "\xff"}', ("scheduler_state.json", "not valid JSON")),
    ]
    for cid, text, expect in states:
        yield Case(f"state-{cid}", ("scheduler", "status"), expect, {STATE: text})
    yield Case(
        "state-is-folder",
        ("scheduler", "status"),
        ("scheduler_state.json", "folder"),
        setup=lambda ws: (ws / STATE).mkdir(parents=True),
    )


# -- deployments and results --------------------------------------------------------------------------


def _deploy_cases() -> Iterator[Case]:
    yield Case(
        "deploy-list-corrupt-manifest",
        ("deploy", "list"),
        ("20240101-a", "not valid JSON"),
        {"deployments/20240101-a/manifest.json": "{oops"},
        code=0,
        warning=True,
    )
    yield Case(
        "deploy-list-manifest-array",
        ("deploy", "list"),
        ("20240101-a", "not a manifest"),
        {"deployments/20240101-a/manifest.json": "[]"},
        code=0,
        warning=True,
    )
    yield Case("deploy-show-unknown", ("deploy", "show", "nope"), ("'nope'", "known"))
    yield Case("deploy-rollback-unknown", ("deploy", "rollback", "nope"), ("'nope'", "known"))
    yield Case(
        "deploy-rollback-corrupt",
        ("deploy", "rollback", "20240101-a"),
        ("20240101-a", "not valid JSON"),
        {"deployments/20240101-a/manifest.json": "{oops"},
    )
    yield Case(
        "deploy-show-corrupt",
        ("deploy", "show", "20240101-a"),
        ("20240101-a", "not valid JSON"),
        {"deployments/20240101-a/manifest.json": "{oops"},
    )
    yield Case(
        "deploy-rollback-damaged",
        ("deploy", "rollback", "20240101-a"),
        ("20240101-a", "differ"),
        {"deployments/20240101-a/checkpoint/weights.pt": b"edited"},
    )
    yield Case(
        "deploy-rollback-oldest", ("deploy", "rollback"), ("oldest",), setup=_point_current("20240101-a")
    )
    yield Case(
        "deploy-rollback-nothing",
        ("deploy", "rollback"),
        ("nothing is deployed",),
        {"deployments/current": None},
    )
    yield Case(
        "deploy-show-nothing", ("deploy", "show"), ("nothing is deployed",), {"deployments/current": None}
    )


def _point_current(dep_id: str) -> Callable[[Path], None]:
    def setup(ws: Path) -> None:
        link = ws / "deployments" / "current"
        link.unlink()
        link.symlink_to(dep_id)

    return setup


def _results_cases() -> Iterator[Case]:
    yield Case("results-dir-missing", ("results", "--results-dir", "nowhere"), ("nowhere", "not found"))
    yield Case(
        "results-dir-is-file", ("results", "--results-dir", "afile"), ("afile", "is a file"), {"afile": "x"}
    )
    yield Case("results-run-unknown", ("results", "nope"), ("'nope'", "not found"))
    yield Case("report-run-unknown", ("report", "nope"), ("'nope'", "not found"))
    yield Case(
        "report-no-runs",
        ("report", "--results-dir", "emptydir"),
        ("no runs",),
        setup=lambda ws: (ws / "emptydir").mkdir(),
    )
    yield Case(
        "results-corrupt-report-listing",
        ("results",),
        ("20240101-000000_mini_bad", "not valid JSON"),
        {"results/20240101-000000_mini_bad/two_phase_training_report.json": "{oops"},
        code=0,
        warning=True,
    )
    yield Case(
        "results-corrupt-experiment",
        ("results", "20240101-000000_mini_bad"),
        ("phase1", "Tune cannot read"),
        {
            "results/20240101-000000_mini_bad/run_config.json": "{}",
            "results/20240101-000000_mini_bad/phase1/experiment_state-2024-01-01_00-00-00.json": "{oops",
        },
        max_s=20.0,
    )


def _all() -> list[Case]:
    cases = [
        *_data_cases(),
        *config_cases(),
        *_cli_cases(),
        *_phase_doc_cases(),
        *_state_cases(),
        *_deploy_cases(),
        *_results_cases(),
    ]
    ids = [c.id for c in cases]
    dupes = {i for i in ids if ids.count(i) > 1}
    assert not dupes, f"duplicate case ids: {dupes}"
    return cases


CASES: list[Case] = _all()
