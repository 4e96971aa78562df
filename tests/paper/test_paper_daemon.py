"""``paper start|stop|status`` in live mode against a store that receives new closed candles."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from cappuccino_ray.cli import main
from cappuccino_ray.data import RawCandles, store_candles
from tests.paper.helpers import SHARED_1H, make_checkpoint

pytestmark = pytest.mark.skipif(
    not (SHARED_1H / "BTCUSDT_1h.csv.gz").is_file(),
    reason=f"real candles not found at {SHARED_1H} (../shared/data)",
)
COINS = ("BTC", "ETH", "SOL")
SETTINGS = {"fee_model": "flat", "max_hold_days": 1.0, "slippage_bps": 5.0}


def _frames() -> dict[str, pd.DataFrame]:
    out = {}
    for c in COINS:
        f = pd.read_csv(SHARED_1H / f"{c}USDT_1h.csv.gz", parse_dates=["timestamp"]).tail(120)
        f["timestamp"] = f["timestamp"].dt.tz_convert(None).astype("datetime64[ns]")
        out[f"{c}/USDT"] = f.reset_index(drop=True)
    return out


def _store(frames: dict[str, pd.DataFrame], store: Path, rows: slice) -> None:
    for sym, f in frames.items():
        raw = RawCandles(frame=f.iloc[rows].reset_index(drop=True), symbol=sym, interval="1h", source="test")
        store_candles(raw, store_dir=store, exchange="binance")


def _status(state: Path) -> dict[str, Any]:
    from cappuccino_ray.paper.daemon import status

    return status(state)


def _wait(state: Path, last_bar: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (state / "book.sqlite").is_file():
            st = _status(state)
            if st["last_bar"] == last_bar:
                return st
            if not st["running"]:
                break
        time.sleep(0.2)
    pytest.fail(f"the paper daemon did not reach {last_bar}; log: {(state / 'paper.log').read_text()}")


def test_daemon_trades_new_candles_and_stops(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = _frames()
    store, state = tmp_path / "store", tmp_path / "state"
    _store(frames, store, slice(0, 81))
    data_cfg = tmp_path / "data.yaml"
    data_cfg.write_text(
        yaml.safe_dump(
            {"source": "store", "store_dir": str(store), "exchange": "binance", "symbols": list(frames)}
        )
    )
    ckpt = make_checkpoint(tmp_path / "ckpt", tuple(frames), SETTINGS, seed=1)
    args = ["paper", "start", str(ckpt), "--state", str(state), "--live", "--poll-seconds", "0.2"]
    args += ["--data-config", str(data_cfg), "--deploy-config", str(tmp_path / "none.yaml")]
    assert main(args) == 0
    capsys.readouterr()
    try:
        last = frames["BTC/USDT"]["timestamp"]
        first = _wait(state, f"{last[80]:%Y-%m-%dT%H:%M:%S}Z")  # live starts at the newest closed bar
        assert first["running"] is True and first["bars"] == 0 and first["mode"] == "live"
        assert main(args) == 2  # one daemon per book
        assert "already runs" in capsys.readouterr().err
        _store(frames, store, slice(81, 120))  # the downloader's work: 39 new closed candles
        st = _wait(state, f"{last[119]:%Y-%m-%dT%H:%M:%S}Z")
        assert st["bars"] == 39
        assert isinstance(st["equity"], float) and isinstance(st["buy_and_hold"], float)
        assert 0.0 <= st["max_drawdown"] < 1.0
        assert st["data_age_hours"] > 24 * 365  # 2023 candles are stale today
    finally:
        assert main(["paper", "stop", "--state", str(state), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stopped"] is not None
    st = _status(state)
    assert st["running"] is False and st["bars"] == 39
    assert main(["paper", "status", "--state", str(state)]) == 0
    text = capsys.readouterr().out
    assert "not running" in text and "buy-and-hold" in text and "fee tier" in text
    events = [json.loads(x) for x in (state / "notifications.jsonl").read_text().splitlines()]
    assert any(e["event"] == "paper_daily" for e in events)  # the 39 bars cross midnight
