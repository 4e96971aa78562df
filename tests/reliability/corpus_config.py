"""Corpus cases of config files: broken YAML in every file, and bad keys and values the loader refuses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from .cases import FULL, MINI, Case

__all__ = ["config_cases"]


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
        ("curve-negative", p1, "curve_every_s", "-1", ("curve_every_s",)),
        ("curve-text", p1, "curve_every_s", "often", ("curve_every_s",)),
        ("p2-algos-unknown", p2, "algos", "[ppo, a2c]", ("a2c",)),
        ("p2-algos-empty", p2, "algos", "[]", ("algos",)),
        ("p2-pbo-odd", p2, "pbo_partitions", "3", ("pbo_partitions",)),
        ("p2-pbo-text", p2, "pbo_partitions", "eight", ("pbo_partitions",)),
        ("p2-warm-start-text", p2, "warm_start", "maybe", ("warm_start",)),
        ("p2-seed-float", p2, "seed", "1.5", ("seed",)),
        ("p2-cpus-zero", p2, "cpus_per_trial", "0", ("cpus_per_trial",)),
        ("p2-failures-negative", p2, "max_failures", "-2", ("max_failures",)),
        ("p2-curve-negative", p2, "curve_every_s", "-0.5", ("curve_every_s",)),
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


def _space_cases() -> Iterator[Case]:
    """Search spaces and fixed keys checked against the algorithms' declared hyperparameters."""
    space = "configs/phase1.yaml"
    under_space = "  lr:"
    cases: list[tuple[str, str, tuple[str, ...]]] = [
        (
            "learning-rate",
            "  learning_rate: {type: float, low: 1.0e-5, high: 1.0e-4}",
            ("learning_rate", "'lr'"),
        ),
        ("gamma-above-1", "  gamma_: {type: float, low: 0.9, high: 1.5}", ("gamma_", "'gamma'")),
        ("lookback-5000", "  lookbak: {type: int, low: 1, high: 5000}", ("lookbak", "'lookback'")),
    ]
    for name, line, expect in cases:
        yield Case(
            f"space-{name}", MINI, ("phase1.yaml", *expect), setup=_append_under(space, line, under_space)
        )
    yield Case(
        "space-gamma-range",
        MINI,
        ("phase1.yaml", "space.gamma is 1.5", "<= 1.0"),
        setup=_set_key(space, "gamma", "{type: float, low: 0.95, high: 1.5}"),
    )
    yield Case(
        "space-lookback-range",
        MINI,
        ("phase1.yaml", "space.lookback is 5000", "<= 64"),
        setup=_set_key(space, "lookback", "{type: int, low: 1, high: 5000}"),
    )
    yield Case(
        "space-string-in-numbers",
        MINI,
        ("phase1.yaml", "hidden_size", "whole number", "'wide'"),
        setup=_set_key("configs/mini.yaml", "hidden_size", "{type: categorical, choices: [16, wide]}"),
    )
    yield Case(
        "space-minibatch-above-batch",
        MINI,
        ("phase1.yaml", "minibatch_size can be drawn as 4096", "train_batch_size"),
        setup=_set_key("configs/mini.yaml", "minibatch_size", "{type: categorical, choices: [64, 4096]}"),
    )
    yield Case(
        "fixed-unknown-key",
        MINI,
        ("phase1.yaml", "fixed.num_envz", "'num_envs'"),
        setup=_set_key("configs/mini.yaml", "fixed", "{num_envz: 16}"),
    )
    yield Case(
        "fixed-zero-envs",
        MINI,
        ("phase1.yaml", "fixed.num_envs is 0", ">= 1"),
        setup=_set_key("configs/mini.yaml", "fixed", "{num_envs: 0}"),
    )
    yield Case(
        "phase2-ddqn-knows-no-clip-param",
        MINI,
        ("phase2.yaml", "spaces.ddqn.clip_param", "not a ddqn hyperparameter"),
        setup=_append_under(
            "configs/phase2.yaml", "    clip_param: {type: float, low: 0.1, high: 0.2}", "    buffer_size:"
        ),
    )


def _partition_cases() -> Iterator[Case]:
    """Budgets that cannot score whole backtest paths, and markets too short for the partition."""
    yield Case(
        "budget-not-whole-paths",
        MINI,
        ("mini.yaml", "max_splits (3) is not a whole number of backtest paths", "use one of 2, 4"),
        setup=_set_key(
            "configs/mini.yaml", "budget", "{train_steps: 600, n_groups: 4, n_test_groups: 2, max_splits: 3}"
        ),
    )
    yield Case(
        "asha-grace-above-splits",
        MINI,
        ("mini.yaml", "asha.grace_period (5) exceeds budget.max_splits (2)", "lower it"),
        setup=_set_key("configs/mini.yaml", "asha", "{grace_period: 5}"),
    )
    yield Case(
        "market-too-short-for-the-partition",
        MINI,
        ("phase2.yaml", "make CPCV groups of", "load more history"),
        setup=_set_key("configs/data.yaml", "n_bars", "3000"),
    )


def config_cases() -> Iterator[Case]:
    """Every config case."""
    yield from _config_file_cases()
    yield from _config_value_cases()
    yield from _space_cases()
    yield from _partition_cases()
