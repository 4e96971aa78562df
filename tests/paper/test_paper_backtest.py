"""``cappuccino-ray backtest`` on hand-built candles: the exact fee, forced sale and equity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cappuccino_ray.cli import main
from cappuccino_ray.paper.backtest import METRICS
from cappuccino_ray.paper.book import Book
from cappuccino_ray.run_files import TRAINING_REPORT_FILE
from tests.paper.helpers import hand_candles, make_checkpoint, write_candles

# 1 % flat maker fee, 2 % taker, 100 bps slippage, a 3-bar holding limit, a 0.1 band: the
# constant 0.5 target buys once, never rebalances, and is force-sold (taker) 3 bars after the buy.
SETTINGS = {
    "initial_cash": 1000.0,
    "fee_model": "flat",
    "flat_fee": 0.01,
    "flat_taker_fee": 0.02,
    "slippage_bps": 100.0,
    "max_hold_days": 3 / 24,
    "min_order_usd": 0.0,
    "no_trade_band": 0.1,
}
START, END = 34, 38  # decision bar 34 (after the 33-bar warm-up), last bar marked 38


def _iso(bar: int) -> str:
    return f"2024-01-0{1 + bar // 24}T{bar % 24:02d}:00Z"


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    return make_checkpoint(tmp_path / "ckpt", ["AAA/USD"], SETTINGS, constant=[0.5])


def _backtest(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["backtest", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_exact_fee_forced_sale_and_equity(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = hand_candles(tmp_path / "data")
    code, out, err = _backtest(
        capsys, str(checkpoint), "--data", str(data), "--start", _iso(START), "--end", _iso(END), "--json"
    )
    assert code == 0, err
    res = json.loads(out)
    bot, bh = res["bot"], res["buy_and_hold"]
    # Bar 35 open 100: buy 500 USD at 101 (slippage), fee 5.
    units = 500.0 / 101.0
    # Bars 36, 37: the weight drifts to 0.52 and 0.55, inside the 0.1 band: no order.
    # Bar 38 open 100: the position is 3 bars old, force-sold at 99 with the 2 % taker fee.
    proceeds = units * 99.0
    final = 495.0 + proceeds * 0.98
    assert bot["n_trades"] == 2
    assert bot["n_forced_sales"] == 1
    assert bot["fees_paid"] == pytest.approx(5.0 + proceeds * 0.02, rel=1e-12)
    assert bot["final_equity"] == pytest.approx(final, rel=1e-12)
    assert bot["total_return"] == pytest.approx(final / 1000.0 - 1.0, rel=1e-12)
    assert bot["n_bars"] == 4
    # The running peak is the bar-36/37 value 495 + 120 * units; bar 38 is below it.
    peak = 495.0 + 120.0 * units
    assert bot["max_drawdown"] == pytest.approx(1.0 - final / peak, rel=1e-9)
    # Buy-and-hold: all in at bar 35, cut down so the 1 % fee fits: 1000 / 1.01 USD at 101.
    bh_units = 1000.0 / 1.01 / 101.0
    assert bh["final_equity"] == pytest.approx(bh_units * 100.0, rel=1e-12)
    assert bh["n_trades"] == 0
    assert res["start"] == "2024-01-02T10:00:00Z" and res["end"] == "2024-01-02T14:00:00Z"


def test_table_and_html(checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = hand_candles(tmp_path / "data")
    html = tmp_path / "bt.html"
    code, out, err = _backtest(
        capsys, str(checkpoint), "--data", str(data), "--start", _iso(START), "--html", str(html)
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].split() == ["metric", "agent", "buy-and-hold"]
    assert tuple(ln.split()[0] for ln in lines[2:]) == METRICS
    page = html.read_text()
    assert page.count("data:image/png;base64,") == 4


def test_a_run_folder_backtests_its_winner(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = hand_candles(tmp_path / "data")
    run = tmp_path / "run"
    run.mkdir()
    (run / TRAINING_REPORT_FILE).write_text(json.dumps({"winner": {"checkpoint_path": "../ckpt"}}))
    code, out, err = _backtest(capsys, str(run), "--data", str(data), "--start", _iso(START), "--json")
    assert code == 0, err
    assert json.loads(out)["bot"]["n_trades"] == 3  # 35 buy, 38 forced sale, 39 buy again


@pytest.mark.parametrize(
    ("symbol_file", "step", "words"),
    [
        ("ZZZ_USD_1h", "h", ["ZZZ/USD", "AAA/USD"]),
        ("AAAUSD_4h", "4h", ["AAA/USD (4h)", "do not make 1h bars"]),  # coarser: cannot be resampled
    ],
)
def test_other_symbols_or_interval_are_refused_with_one_line(
    checkpoint: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    symbol_file: str,
    step: str,
    words: list[str],
) -> None:
    if step == "4h":  # 4-hour candles for a 1h checkpoint
        n = 40
        times = np.datetime64("2024-01-01T00:00", "ns") + np.arange(n) * np.timedelta64(4, "h")
        write_candles(
            tmp_path / "data", symbol_file, times, np.tile([100.0, 101.0, 99.0, 100.0, 1.0], (n, 1))
        )
    else:
        hand_candles(tmp_path / "data", symbol_file)
    code, out, err = _backtest(capsys, str(checkpoint), "--data", str(tmp_path / "data"))
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    for w in words:
        assert w in err


def test_not_a_checkpoint_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _backtest(
        capsys, str(tmp_path), "--data", str(tmp_path), "--deploy-config", str(tmp_path / "x.yaml")
    )
    assert code == 2 and "not a checkpoint folder" in err


def test_the_paper_book_of_the_samehand_candles(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = hand_candles(tmp_path / "data")
    state = tmp_path / "state"
    args = ["paper", "run", str(checkpoint), "--state", str(state), "--replay", str(data)]
    assert main([*args, "--start", _iso(START), "--until", _iso(END), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    units = 500.0 / 101.0
    assert out["equity"] == pytest.approx(495.0 + units * 99.0 * 0.98, rel=1e-12)
    assert out["n_forced_sales"] == 1 and out["n_trades"] == 2
    with Book(state, write=False) as book:
        fills, orders = book.fills(), book.orders()
        bars = book.bars()
    assert [(f["side"], f["forced"]) for f in fills] == [("buy", 0), ("sell", 1)]
    assert fills[0]["price"] == pytest.approx(101.0) and fills[0]["usd"] == pytest.approx(500.0)
    assert fills[0]["fee"] == pytest.approx(5.0)
    assert fills[1]["price"] == pytest.approx(99.0) and fills[1]["units"] == pytest.approx(units)
    assert fills[1]["fee"] == pytest.approx(units * 99.0 * 0.02)
    # Decided on bars 34..38; the last waits for bar 39. The 0.5 targets of bars 35 and 36
    # fall inside the band; bar 37's is overridden by the forced sale.
    assert [o["status"] for o in orders] == ["filled", "skipped", "skipped", "skipped", "pending"]
    assert [o["target_weight"] for o in orders] == [0.5] * 5
    assert [b["n_forced"] for b in bars] == [0, 0, 0, 1]
