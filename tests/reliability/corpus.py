"""The corpus of bad inputs and faults: each case a workspace change, a command line and the expected refusal.

A case runs in a fresh copy of a small workspace (``configs/`` with generated
candles, a candle folder, two deployments, a scheduler state) and names, in
``expect``, the words its one stderr line must hold: the thing that is wrong
(file, key, row) and the fix. ``test_bad_inputs.py`` runs every case through
the real CLI entry point.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CASES", "Case", "candles_csv"]

Files = Mapping[str, bytes | str | None]


@dataclass(frozen=True)
class Case:
    """One bad input or fault."""

    id: str
    """Test id: ``<area>-<what>``."""
    argv: tuple[str, ...]
    """The command line (``{ws}`` is replaced by the workspace path)."""
    expect: tuple[str, ...]
    """Words the stderr line must contain (case-insensitive)."""
    files: Files = field(default_factory=dict)
    """Workspace files to write (``None`` deletes) before the command."""
    code: int = 2
    """Expected exit code."""
    warning: bool = False
    """The line is a warning (``warning: ...``) and the command still succeeds."""
    setup: Callable[[Path], None] | None = None
    """Extra workspace preparation."""
    max_s: float = 8.0
    """Time limit: refused at load, without starting Ray."""


# -- helpers ------------------------------------------------------------------------------------------

HEADER = "timestamp,open,high,low,close,volume"


def candles_csv(n: int = 48, *, rows: Mapping[int, str] | None = None, header: str = HEADER) -> str:
    """``n`` hourly candles from 2024-01-01 as CSV; ``rows`` replaces data row ``i`` (0-based) verbatim."""
    lines = [header] if header else []
    for i in range(n):
        day, hour = divmod(i, 24)
        ts = f"2024-01-{day + 1:02d}T{hour:02d}:00:00Z"
        price = 100.0 + (i % 7)
        line = f"{ts},{price},{price + 2},{price - 2},{price + 1},{10 + i}"
        lines.append((rows or {}).get(i, line))
    return "\n".join(lines) + "\n"


def _row(i: int, o: str = "100", h: str = "102", lo: str = "98", c: str = "101", v: str = "10") -> str:
    day, hour = divmod(i, 24)
    return f"2024-01-{day + 1:02d}T{hour:02d}:00:00Z,{o},{h},{lo},{c},{v}"


def _import(name: str, *extra: str) -> tuple[str, ...]:
    return ("data", "import", name, "--store", "store", *extra)


MINI = ("run", "--mini", "--quiet")
FULL = ("run", "--quiet")
WINNER = {
    "holding_days": 3,
    "interval": "1h",
    "algo": "ppo",
    "hyperparameters": {"lr": 3e-5},
    "checkpoint_path": None,
}


def _winner(**changes: object) -> str:
    return json.dumps({**WINNER, **changes})


def _phase2(path: str) -> tuple[str, ...]:
    return (*MINI, "--phase2-only", "--phase1-results", path)


# -- data files: `data import FILE` -------------------------------------------------------------------


def _data_cases() -> Iterator[Case]:
    bad_values: list[tuple[str, int, str, tuple[str, ...]]] = [
        ("nan-close", 5, _row(5, c="nan"), ("row 6", "close", "NaN")),
        ("inf-close", 5, _row(5, c="inf"), ("row 6", "close", "infinite")),
        ("minus-inf-low", 7, _row(7, lo="-inf"), ("row 8", "low", "infinite")),
        ("inf-volume", 3, _row(3, v="inf"), ("row 4", "volume", "infinite")),
        ("zero-open", 4, _row(4, o="0"), ("row 5", "open", "not positive")),
        ("negative-close", 9, _row(9, c="-5"), ("row 10", "close", "not positive")),
        ("negative-volume", 2, _row(2, v="-1"), ("row 3", "volume", "negative")),
        ("high-below-low", 6, _row(6, h="90", lo="95", o="92", c="93"), ("row 7", "high is below low")),
        ("text-close", 5, _row(5, c="abc"), ("row 6", "close", "'abc'", "not a number")),
        ("text-volume", 8, _row(8, v="lots"), ("row 9", "volume", "not a number")),
        ("comma-decimal", 3, _row(3, c='"101,5"'), ("row 4", "close", "not a number")),
        ("bad-timestamp", 5, "2024-01-0xT05:00:00Z,100,102,98,101,10", ("row 6", "timestamp", "not a date")),
        ("timestamp-words", 5, "yesterday,100,102,98,101,10", ("row 6", "timestamp", "ISO-8601")),
        ("empty-timestamp", 5, ",100,102,98,101,10", ("row 6", "timestamp")),
    ]
    for name, i, row, expect in bad_values:
        files = {"BTCUSDT_1h.csv": candles_csv(rows={i: row})}
        yield Case(f"data-{name}", _import("BTCUSDT_1h.csv"), expect, files)
    latin1 = candles_csv().encode().replace(b"\n2024-01-01T09", b"\n2024-01-01T09\xe9", 1)
    yield Case(
        "data-non-utf8-bytes", _import("BTCUSDT_1h.csv"), ("line 11", "UTF-8"), {"BTCUSDT_1h.csv": latin1}
    )
    yield Case(
        "data-non-utf8-gz",
        _import("BTCUSDT_1h.csv.gz"),
        ("line 11", "UTF-8"),
        setup=lambda ws: _gz(ws / "BTCUSDT_1h.csv.gz", latin1),
    )
    yield Case(
        "data-empty-file", _import("BTCUSDT_1h.csv"), ("BTCUSDT_1h.csv", "empty"), {"BTCUSDT_1h.csv": ""}
    )
    yield Case(
        "data-missing-column",
        _import("BTCUSDT_1h.csv"),
        ("missing column", "close"),
        {"BTCUSDT_1h.csv": "timestamp,open,high,low,volume\n2024-01-01T00:00:00Z,1,2,0.5,3\n"},
    )
    yield Case(
        "data-unknown-suffix", _import("BTCUSDT_1h.xlsx"), ("unknown file type",), {"BTCUSDT_1h.xlsx": "x"}
    )
    yield Case("data-missing-file", _import("nope_1h.csv"), ("nope_1h.csv", "not found"))
    yield Case(
        "data-garbage-parquet",
        _import("BTCUSDT_1h.parquet"),
        ("BTCUSDT_1h.parquet",),
        {"BTCUSDT_1h.parquet": b"PAR1junk"},
    )
    yield Case(
        "data-garbage-feather",
        _import("BTCUSDT_1h.feather"),
        ("BTCUSDT_1h.feather",),
        {"BTCUSDT_1h.feather": b"junk"},
    )
    yield Case(
        "data-garbage-json",
        _import("BTCUSDT_1h.json"),
        ("BTCUSDT_1h.json",),
        {"BTCUSDT_1h.json": "{not json"},
    )
    yield Case(
        "data-garbage-gz",
        _import("BTCUSDT_1h.csv.gz"),
        ("BTCUSDT_1h.csv.gz",),
        {"BTCUSDT_1h.csv.gz": b"not gzip"},
    )
    yield Case(
        "data-headerless-4-columns",
        _import("BTCUSDT_1h.csv"),
        ("6 columns",),
        {"BTCUSDT_1h.csv": "1704067200000,1,2,0.5\n1704070800000,1,2,0.5\n"},
    )
    yield Case("data-no-symbol", _import("candles_1h.csv"), ("--symbol",), {"candles_1h.csv": candles_csv()})
    yield Case(
        "data-bad-symbol-flag",
        _import("BTCUSDT_1h.csv", "--symbol", "???"),
        ("symbol", "BASE/QUOTE"),
        {"BTCUSDT_1h.csv": candles_csv()},
    )
    yield Case(
        "data-bad-interval-flag",
        _import("BTCUSDT_1h.csv", "--interval", "7m"),
        ("7m",),
        {"BTCUSDT_1h.csv": candles_csv()},
    )
    yield Case(
        "data-name-vs-spacing",
        _import("BTCUSDT_4h.csv"),
        ("4h", "1h", "--interval"),
        {"BTCUSDT_4h.csv": candles_csv()},
    )
    yield Case(
        "data-one-row-no-interval",
        _import("BTCUSDT.csv"),
        ("--interval",),
        {"BTCUSDT.csv": candles_csv(1)},
    )
    yield Case(
        "data-folder-all-or-nothing",
        _import("incoming"),
        ("ZZZUSDT_1h.csv", "row 3", "infinite"),
        {
            "incoming/AAAUSDT_1h.csv": candles_csv(),
            "incoming/BBBUSDT_1h.csv": candles_csv(),
            "incoming/ZZZUSDT_1h.csv": candles_csv(rows={2: _row(2, h="inf")}),
        },
    )
    yield Case(
        "data-folder-unreadable-last",
        _import("incoming"),
        ("ZZZUSDT_1h.csv", "empty"),
        {"incoming/AAAUSDT_1h.csv": candles_csv(), "incoming/ZZZUSDT_1h.csv": ""},
    )
    yield Case(
        "data-import-bad-config",
        (*_import("BTCUSDT_1h.csv"), "--config", "configs/nope.yaml"),
        ("nope.yaml", "not found"),
        {"BTCUSDT_1h.csv": candles_csv()},
    )
    yield Case(
        "data-long-gap-refused",
        (*_import("BTCUSDT_1h.csv"), "--config", "configs/refuse.yaml"),
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
        ("inf", {4: _row(4, c="inf")}),
        ("nan", {4: _row(4, o="nan")}),
        ("text", {4: _row(4, v="x")}),
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


# -- config files -------------------------------------------------------------------------------------

#: Config file -> a command that reads it.
CONFIG_READERS: dict[str, tuple[str, ...]] = {
    "phase1.yaml": MINI,
    "phase2.yaml": MINI,
    "mini.yaml": MINI,
    "data.yaml": MINI,
    "schedule.yaml": ("scheduler", "show-schedule"),
    "deploy.yaml": ("deploy", "list"),
}
#: A top-level key of each file, to repeat or misspell.
CONFIG_KEYS = {
    "phase1.yaml": "seed",
    "phase2.yaml": "seed",
    "mini.yaml": "phase1",
    "data.yaml": "source",
    "schedule.yaml": "mode",
    "deploy.yaml": "deployments_dir",
}


def _config_file_cases() -> Iterator[Case]:
    for name, argv in CONFIG_READERS.items():
        path = f"configs/{name}"
        key = CONFIG_KEYS[name]
        stem = name.removesuffix(".yaml")
        yield Case(f"config-{stem}-empty", argv, (name, "empty"), {path: ""})
        yield Case(f"config-{stem}-only-comments", argv, (name, "empty"), {path: "# nothing here\n\n"})
        yield Case(
            f"config-{stem}-syntax", argv, (name, "not valid YAML", "fix the syntax"), {path: "a: [1, 2\n"}
        )
        yield Case(f"config-{stem}-tabs", argv, (name, "not valid YAML"), {path: "a:\n\t- 1\n"})
        yield Case(f"config-{stem}-list", argv, (name, "mapping"), {path: "- 1\n- 2\n"})
        yield Case(f"config-{stem}-scalar", argv, (name, "mapping"), {path: "just text\n"})
        yield Case(f"config-{stem}-non-utf8", argv, (name, "UTF-8"), {path: b"seed: \xff\xfe\n"})
        yield Case(f"config-{stem}-folder", argv, (name, "folder"), setup=_replace_with_dir(path))

        def dup(ws: Path, path: str = path, key: str = key) -> None:
            p = ws / path
            text = p.read_text()
            line = next(ln for ln in text.splitlines() if ln.startswith(f"{key}:"))
            p.write_text(text + line + "\n")

        yield Case(f"config-{stem}-duplicate-key", argv, (name, repr(key), "twice"), setup=dup)

        def typo(ws: Path, path: str = path, key: str = key) -> None:
            p = ws / path
            p.write_text(
                p.read_text().replace(f"\n{key}:", f"\n{key}x:", 1).replace(f"{key}:", f"{key}x:", 1)
            )

        yield Case(f"config-{stem}-unknown-key", argv, (name, f"{key}x"), setup=typo)
    yield Case(
        "config-phase1-nested-duplicate",
        MINI,
        ("phase1.yaml", "'grace_period'", "twice"),
        setup=_append_under("configs/phase1.yaml", "  grace_period: 1", "  reduction_factor:"),
    )
    yield Case(
        "config-mini-nested-duplicate",
        MINI,
        ("mini.yaml", "'trials_per_combo'", "twice"),
        setup=_append_under("configs/mini.yaml", "  trials_per_combo: 3", "  budget:"),
    )
    yield Case("config-folder-missing", (*MINI, "--config", "nowhere"), ("nowhere", "not found"))


def _replace_with_dir(path: str) -> Callable[[Path], None]:
    def setup(ws: Path) -> None:
        (ws / path).unlink()
        (ws / path).mkdir()

    return setup


def _append_under(path: str, line: str, before: str) -> Callable[[Path], None]:
    def setup(ws: Path) -> None:
        p = ws / path
        text = p.read_text()
        i = text.index(before)
        p.write_text(text[:i] + line + "\n" + text[i:])

    return setup


def _set_key(path: str, key: str, value: str) -> Callable[[Path], None]:
    """Replace the first ``key:`` line of a YAML file (keeping its indent) with ``key: value``."""

    def setup(ws: Path) -> None:
        p = ws / path
        out, done = [], False
        for line in p.read_text().splitlines():
            stripped = line.lstrip()
            if not done and stripped.startswith(f"{key}:"):
                indent = line[: len(line) - len(stripped)]
                line = f"{indent}{key}: {value}"
                done = True
            out.append(line)
        assert done, f"{key} not in {path}"
        p.write_text("\n".join(out) + "\n")

    return setup


def _config_value_cases() -> Iterator[Case]:
    p1 = "configs/phase1.yaml"
    p2 = "configs/phase2.yaml"
    values: list[tuple[str, str, str, str, tuple[str, ...]]] = [
        # (id, file, key, value, expect)
        ("trials-zero", p1, "trials_per_combo", "0", ("trials_per_combo",)),
        ("trials-negative", p1, "trials_per_combo", "-3", ("trials_per_combo",)),
        ("trials-text", p1, "trials_per_combo", "many", ("trials_per_combo",)),
        ("trials-float", p1, "trials_per_combo", "2.5", ("trials_per_combo",)),
        ("holding-empty", p1, "holding_days", "[]", ("holding_days",)),
        ("holding-negative", p1, "holding_days", "[3, -1]", ("holding_days",)),
        ("holding-text", p1, "holding_days", "[3, week]", ("holding_days",)),
        ("intervals-unknown", p1, "intervals", "[1h, 7m]", ("7m",)),
        ("intervals-empty", p1, "intervals", "[]", ("intervals",)),
        ("intervals-scalar", p1, "intervals", "1h", ("intervals",)),
        ("seed-text", p1, "seed", "abc", ("seed",)),
        ("seed-list", p1, "seed", "[1]", ("seed",)),
        ("cpus-zero", p1, "cpus_per_trial", "0", ("cpus_per_trial",)),
        ("cpus-negative", p1, "cpus_per_trial", "-1", ("cpus_per_trial",)),
        ("cpus-text", p1, "cpus_per_trial", "all", ("cpus_per_trial",)),
        ("concurrent-negative", p1, "max_concurrent", "-1", ("max_concurrent",)),
        ("grace-zero", p1, "grace_period", "0", ("grace_period",)),
        ("reduction-one", p1, "reduction_factor", "1", ("reduction_factor",)),
        ("failures-negative", p1, "max_failures", "-1", ("max_failures",)),
        ("failures-text", p1, "max_failures", "lots", ("max_failures",)),
        ("p2-algos-unknown", p2, "algos", "[ppo, a2c]", ("a2c",)),
        ("p2-algos-empty", p2, "algos", "[]", ("algos",)),
        ("p2-pbo-odd", p2, "pbo_partitions", "3", ("pbo_partitions",)),
        ("p2-pbo-text", p2, "pbo_partitions", "eight", ("pbo_partitions",)),
        ("p2-warm-start-text", p2, "warm_start", "maybe", ("warm_start",)),
        ("p2-seed-float", p2, "seed", "1.5", ("seed",)),
        ("p2-cpus-zero", p2, "cpus_per_trial", "0", ("cpus_per_trial",)),
        ("p2-failures-negative", p2, "max_failures", "-2", ("max_failures",)),
    ]
    for cid, path, key, value, expect in values:
        # The full run (no --mini): mini.yaml overrides some of these keys.
        yield Case(f"config-{cid}", FULL, (Path(path).name, *expect), setup=_set_key(path, key, value))
    mini = "configs/mini.yaml"
    for cid, key, value, expect in [
        ("mini-trials-zero", "trials_per_combo", "0", ("trials_per_combo",)),
        ("mini-intervals-unknown", "intervals", "[1h, 3h]", ("3h",)),
        ("mini-holding-text", "holding_days", "[x]", ("holding_days",)),
        ("mini-pbo-odd", "pbo_partitions", "5", ("pbo_partitions",)),
        ("mini-budget-scalar", "budget", "600", ("budget",)),
        ("mini-resources-list", "resources", "[1]", ("resources",)),
    ]:
        yield Case(f"config-{cid}", MINI, ("mini.yaml", *expect), setup=_set_key(mini, key, value))
    yield Case(
        "config-mini-unknown-section",
        MINI,
        ("mini.yaml", "phase3"),
        setup=_append("configs/mini.yaml", "phase3: {}"),
    )
    yield Case(
        "config-mini-groups",
        MINI,
        ("n_test_groups",),
        setup=_set_key(mini, "budget", "{train_steps: 600, n_groups: 4, n_test_groups: 4, max_splits: 2}"),
    )
    data = "configs/data.yaml"
    for cid, key, value, expect in [
        ("data-source-unknown", "source", "ftp", ("source",)),
        ("data-interval-unknown", "base_interval", "3h", ("3h",)),
        ("data-gap-policy", "gap_policy", "skip", ("gap_policy",)),
        ("data-max-gap-negative", "max_gap_bars", "-1", ("max_gap_bars",)),
        ("data-align-policy", "align_policy", "merge", ("align_policy",)),
        ("data-symbols-empty", "symbols", "[]", ("symbols",)),
        ("data-symbols-bad", "symbols", "[BTCUSD$]", ("BTCUSD$",)),
        ("data-n-bars-text", "n_bars", "lots", ("n_bars",)),
        ("data-n-bars-zero", "n_bars", "0", ("n_bars",)),
        ("data-start-text", "start", "someday", ("start",)),
    ]:
        yield Case(f"config-{cid}", MINI, expect, setup=_set_key(data, key, value))
    sched = "configs/schedule.yaml"
    for cid, key, value, expect in [
        ("schedule-kind", "schedule", "hourly", ("schedule",)),
        ("schedule-day", "day", "funday", ("day",)),
        ("schedule-time", "time", '"25:00"', ("time",)),
        ("schedule-timezone", "timezone", "Mars/Base", ("timezone",)),
        ("schedule-mode", "mode", "huge", ("mode",)),
        ("schedule-day-of-month", "day_of_month", "32", ("day_of_month",)),
        ("schedule-poll-zero", "poll_seconds", "0", ("poll_seconds",)),
    ]:
        yield Case(
            f"config-{cid}",
            ("scheduler", "show-schedule"),
            ("schedule.yaml", *expect),
            setup=_set_key(sched, key, value),
        )

    def cron(ws: Path) -> None:
        _set_key(sched, "schedule", "cron")(ws)
        _set_key(sched, "cron", '"61 2 * * 0"')(ws)

    yield Case("config-schedule-cron", ("scheduler", "show-schedule"), ("schedule.yaml", "cron"), setup=cron)
    dep = "configs/deploy.yaml"
    for cid, key, value, expect in [
        ("deploy-max-pbo-text", "max_pbo", "low", ("max_pbo",)),
        ("deploy-min-trades-negative", "min_trades", "-1", ("min_trades",)),
        ("deploy-webhook-format", "webhook_format", "teams", ("webhook_format",)),
        ("deploy-retries-text", "retries", "x", ("retries",)),
        ("deploy-required-files-scalar", "required_files", "7", ("required_files",)),
    ]:
        yield Case(
            f"config-{cid}", ("deploy", "list"), ("deploy.yaml", *expect), setup=_set_key(dep, key, value)
        )


def _append(path: str, text: str) -> Callable[[Path], None]:
    def setup(ws: Path) -> None:
        p = ws / path
        p.write_text(p.read_text() + text + "\n")

    return setup


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
        ("checkpoint-missing", {w: _winner(checkpoint_path="{ws}/p1/gone")}, w, ("checkpoint", "missing")),
        (
            "checkpoint-is-file",
            {w: _winner(checkpoint_path="{ws}/p1/afile"), "p1/afile": "x"},
            w,
            ("checkpoint", "missing"),
        ),
        ("non-utf8", {w: b'{"interval": "\xff"}'}, w, ("phase1_winner.json", "not valid JSON")),
    ]
    for cid, files, path, expect in docs:
        yield Case(f"phase1-results-{cid}", _phase2(path), expect, files, max_s=15.0)
    yield Case(
        "phase1-results-in-run-folder-missing-checkpoint",
        _phase2("run1"),
        ("checkpoint", "missing"),
        {
            "run1/phase1/phase1_winner.json": _winner(
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
        *_config_file_cases(),
        *_config_value_cases(),
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
