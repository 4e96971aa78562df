"""Paper replay equals the backtest to the last bit on real candles, also across a SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cappuccino_ray.cli import main
from cappuccino_ray.errors import DataError
from cappuccino_ray.paper.backtest import run_backtest
from cappuccino_ray.paper.book import BOOK_FILE, Book
from cappuccino_ray.paper.sources import load_candles, parse_time
from tests.paper.helpers import COINS, SHARED_1H, make_checkpoint, make_ddqn_checkpoint, real_folder
from tests.python_run import REPO, child_env, run_cli

pytestmark = pytest.mark.skipif(
    not (SHARED_1H / "BTCUSDT_1h.csv.gz").is_file(),
    reason=f"real candles not found at {SHARED_1H} (../shared/data)",
)
SYMBOLS = tuple(f"{c}/USDT" for c in COINS)
# Tiered fees (the trailing volume moves the tier), a 1-day holding limit (forced sales).
SETTINGS = {"fee_model": "tiered", "max_hold_days": 1.0, "slippage_bps": 5.0, "min_order_usd": 10.0}
N_BARS = 700
START, UNTIL = "2023-04-04T00:00Z", "2023-04-20T23:00Z"  # 408 bars of the last 700 hours


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("paper")
    ckpt = make_checkpoint(root / "ckpt", SYMBOLS, SETTINGS, seed=3)
    data = real_folder(root / "data", N_BARS)
    market = load_candles(data, SYMBOLS, "1h", len(SYMBOLS))
    bt = run_backtest(ckpt, market, start=parse_time(START), end=parse_time(UNTIL))
    return {"root": root, "ckpt": ckpt, "data": data, "bt": bt}


def _book_series(state: Path) -> dict[str, np.ndarray]:
    with Book(state, write=False) as book:
        bars = book.bars()
    return {
        k: np.array([b[k] for b in bars])
        for k in ("bar_time", "equity", "benchmark", "fees", "n_trades", "n_forced", "fee_tier")
    }


def _assert_same_as_backtest(state: Path, bt: object) -> None:
    ev = bt.evaluation  # type: ignore[attr-defined]
    s = _book_series(state)
    assert len(s["bar_time"]) == len(ev.bars) == 407
    assert len(np.unique(s["bar_time"])) == len(s["bar_time"])  # no bar twice
    ts = ev.timestamps[1:].astype("datetime64[ns]").astype(np.int64)
    assert np.array_equal(s["bar_time"], ts)
    assert np.array_equal(s["equity"], ev.values[1:])  # bit for bit
    assert np.array_equal(s["benchmark"], ev.benchmark_values[1:])
    assert np.array_equal(s["fees"], ev.fees)
    assert np.array_equal(s["n_trades"], ev.n_trades)
    assert np.array_equal(s["n_forced"], ev.forced_sales)
    assert np.array_equal(s["fee_tier"], ev.fee_tier)


def test_the_run_exercises_tiers_and_forced_sales(world: dict[str, object]) -> None:
    ev = world["bt"].evaluation  # type: ignore[attr-defined]
    assert ev.fee_tier.max() > ev.fee_tier[0]  # the carried volume moved the tier
    assert ev.forced_sales.sum() > 0
    assert ev.n_trades.sum() > 100
    assert world["bt"].summary["start"] == "2023-04-04T00:00:00Z"  # type: ignore[attr-defined]


def test_paper_replay_equals_backtest(
    world: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    args = ["paper", "run", str(world["ckpt"]), "--state", str(state), "--replay", str(world["data"])]
    assert main([*args, "--start", START, "--until", UNTIL, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["processed"] == 408  # the first bar only decides
    _assert_same_as_backtest(state, world["bt"])
    bt = world["bt"].summary  # type: ignore[attr-defined]
    assert out["equity"] == bt["bot"]["final_equity"]
    assert out["n_trades"] == bt["bot"]["n_trades"]
    assert out["fees_paid"] == pytest.approx(bt["bot"]["fees_paid"], rel=1e-12)
    assert out["last_bar"] == "2023-04-20T23:00:00Z"
    assert out["total_return"] == bt["bot"]["total_return"]
    assert out["buy_and_hold_return"] == pytest.approx(bt["buy_and_hold"]["total_return"], rel=1e-12)
    assert out["max_drawdown"] == pytest.approx(bt["bot"]["max_drawdown"], rel=1e-12)
    with Book(state, write=False) as book:
        fills = book.fills()
        positions = book.positions()
    assert len(fills) == bt["bot"]["n_trades"]
    assert sum(f["forced"] for f in fills) == bt["bot"]["n_forced_sales"]
    assert [p["symbol"] for p in positions] == sorted(SYMBOLS)
    # A second run over the same bars trades nothing: every bar is already in the book.
    assert main([*args, "--until", UNTIL, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["processed"] == 0
    _assert_same_as_backtest(state, world["bt"])


def _count(state: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{state / BOOK_FILE}?mode=ro", uri=True, timeout=5)
        try:
            return int(con.execute("SELECT count(*) FROM bars").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_sigkill_in_the_middle_then_restart(world: dict[str, object], tmp_path: Path) -> None:
    state = tmp_path / "state"
    args = ["paper", "run", str(world["ckpt"]), "--state", str(state)]
    args += ["--replay", str(world["data"]), "--start", START, "--until", UNTIL]
    cmd = [sys.executable, "-m", "cappuccino_ray", *args]
    proc = subprocess.Popen(cmd, cwd=REPO, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while _count(state) < 60:
            assert proc.poll() is None, proc.communicate()[1].decode()
            assert time.monotonic() < deadline
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_at = _count(state)
    assert proc.returncode == -signal.SIGKILL
    assert 60 <= killed_at < 407  # killed in the middle
    done = run_cli(*args, "--json", cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["processed"] == 408 - 1 - killed_at  # resumes at the next bar
    _assert_same_as_backtest(state, world["bt"])


def test_a_corrupt_book_is_refused_with_one_line(
    world: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / BOOK_FILE).write_bytes(b"this is not a database" * 200)
    for args in (
        ["paper", "status", "--state", str(state)],
        ["paper", "run", str(world["ckpt"]), "--state", str(state), "--replay", str(world["data"])],
    ):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1
        assert "corrupt" in err and str(state / BOOK_FILE) in err


def test_a_locked_book_is_refused_with_one_line(
    world: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    with Book(state):  # another writer holds it
        code = main(
            ["paper", "run", str(world["ckpt"]), "--state", str(state), "--replay", str(world["data"])]
        )
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "locked" in err


def test_another_checkpoint_on_the_same_book_is_refused(
    world: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    other = make_checkpoint(tmp_path / "other", SYMBOLS, SETTINGS, seed=4)
    base = ["paper", "run", "--state", str(state), "--replay", str(world["data"]), "--start", START]
    assert main([base[0], base[1], str(world["ckpt"]), *base[2:], "--until", "2023-04-04T05:00Z"]) == 0
    capsys.readouterr()
    assert main([base[0], base[1], str(other), *base[2:], "--notify"]) == 2
    assert "paper-trades checkpoint" in capsys.readouterr().err
    events = [json.loads(x) for x in (state / "notifications.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events] == ["paper_error"] and "paper-trades checkpoint" in events[0][
        "message"
    ]


def test_lookback_and_rolling_features_replay_equals_backtest(tmp_path: Path) -> None:
    settings = {**SETTINGS, "lookback": 3, "rolling_features": True, "fee_model": "flat"}
    ckpt = make_checkpoint(tmp_path / "ckpt", SYMBOLS, settings, seed=5)
    data = real_folder(tmp_path / "data", 900)  # the 30-day rolling features warm up over 720 bars
    market = load_candles(data, SYMBOLS, "1h", len(SYMBOLS))
    bt = run_backtest(ckpt, market)
    with Book(tmp_path / "state") as book:
        from cappuccino_ray.paper.engine import PaperEngine

        assert PaperEngine(ckpt, book).run(market) == market.n_bars - 721
        bars = book.bars()
    ev = bt.evaluation
    assert len(bars) == len(ev.bars) == market.n_bars - 722
    assert np.array_equal([b["equity"] for b in bars], ev.values[1:])
    assert np.array_equal([b["fees"] for b in bars], ev.fees)
    assert ev.n_trades.sum() > 0


def test_discrete_agent_replay_equals_backtest(world: dict[str, object], tmp_path: Path) -> None:
    ckpt = make_ddqn_checkpoint(tmp_path / "ckpt", SYMBOLS, SETTINGS, seed=2)
    market = load_candles(world["data"], SYMBOLS, "1h", len(SYMBOLS))  # type: ignore[arg-type]
    bt = run_backtest(ckpt, market, start=parse_time(START), end=parse_time(UNTIL))
    with Book(tmp_path / "state") as book:
        from cappuccino_ray.paper.engine import PaperEngine

        PaperEngine(ckpt, book).run(
            market,
            start=int(np.searchsorted(market.timestamps, parse_time(START))),
            until=int(np.searchsorted(market.timestamps, parse_time(UNTIL))),
        )
        bars = book.bars()
    ev = bt.evaluation
    assert np.array_equal([b["equity"] for b in bars], ev.values[1:])
    assert np.array_equal([b["n_trades"] for b in bars], ev.n_trades)
    assert ev.n_trades.sum() > 0


def test_replay_through_the_exchange_halt_equals_backtest(tmp_path: Path) -> None:
    ckpt = make_checkpoint(tmp_path / "ckpt", SYMBOLS, SETTINGS, seed=7)
    data = real_folder(tmp_path / "data", 1000)
    market = load_candles(data, SYMBOLS, "1h", len(SYMBOLS))
    end = int(np.searchsorted(market.timestamps, parse_time("2023-03-27T00:00Z")))
    market = market.slice(0, end)
    assert not market.tradable[40:].all()  # the 2023-03-24 halt and the gap-filled hour are traded through
    bt = run_backtest(ckpt, market)
    with Book(tmp_path / "state") as book:
        from cappuccino_ray.paper.engine import PaperEngine

        PaperEngine(ckpt, book).run(market)
        bars = book.bars()
    ev = bt.evaluation
    assert np.array_equal([b["equity"] for b in bars], ev.values[1:])
    assert np.array_equal([b["n_trades"] for b in bars], ev.n_trades)


def test_finer_candles_are_resampled_to_the_checkpoint_interval_as_the_search_does(tmp_path: Path) -> None:
    import pandas as pd

    data = real_folder(tmp_path / "data", 500)
    market = load_candles(data, SYMBOLS, "4h", len(SYMBOLS))
    assert market.interval == "4h" and market.n_bars >= 120
    assert (market.timestamps.astype(np.int64) % (4 * 3600 * 10**9) == 0).all()  # on the epoch grid
    # One coin against its hourly file: first open, highest high, lowest low, last close, summed volume.
    hourly = pd.read_csv(data / f"{COINS[0]}USDT_1h.csv")
    hourly.index = pd.to_datetime(hourly["timestamp"], utc=True).dt.tz_localize(None)
    for k in (0, market.n_bars // 2, market.n_bars - 1):
        start = pd.Timestamp(market.timestamps[k])
        bucket = hourly.loc[start : start + pd.Timedelta(hours=3)]
        assert len(bucket) == 4
        assert market.open[k, 0] == bucket["open"].iloc[0] and market.close[k, 0] == bucket["close"].iloc[-1]
        assert market.high[k, 0] == bucket["high"].max() and market.low[k, 0] == bucket["low"].min()
        assert market.volume[k, 0] == pytest.approx(bucket["volume"].sum(), rel=1e-12)
    with pytest.raises(DataError, match=r"do not make 30m bars.*or finer ones that divide it"):
        load_candles(data, SYMBOLS, "30m", len(SYMBOLS))
