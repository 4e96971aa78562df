"""Incremental ccxt downloads against a local HTTP server emulating Coinbase's candle endpoint.

The server speaks the Coinbase Advanced Trade public API that ccxt's ``coinbase``
class calls: the product list (for ``load_markets``) and
``/api/v3/brokerage/market/products/{id}/candles`` (newest first, ``start``/``end``
in epoch seconds, both inclusive). It also answers the bar still forming at
its clock, can reply 429 (rate limit) or drop the connection on chosen requests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from cappuccino_ray.cli import main
from cappuccino_ray.data import read_dataset, read_info
from cappuccino_ray.data.download import download, make_exchange
from cappuccino_ray.errors import DataError

STEP_S = 300
T0 = 1_704_067_200  # 2024-01-01T00:00Z


def candle(t: int, *, forming: bool = False) -> dict[str, str]:
    i = (t - T0) // STEP_S
    o = 100.0 + (i % 17)
    c = o + (0.5 if forming else 1.0)
    return {
        "start": str(t),
        "open": f"{o}",
        "high": f"{c + 1}",
        "low": f"{o - 1}",
        "close": f"{c}",
        "volume": f"{1 + i % 5}",
    }


class CoinbaseServer:
    """A tiny Coinbase API: ``now`` is its clock (epoch s), ``faults`` maps candle request no. to a fault."""

    def __init__(self) -> None:
        self.now = T0 + 1000 * STEP_S + 100  # bar 1000 is forming
        self.faults: dict[int, str] = {}
        self.candle_requests: list[tuple[int, int]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path.endswith("/candles"):
                    n = len(server.candle_requests) + 1
                    q = parse_qs(url.query)
                    server.candle_requests.append((int(q["start"][0]), int(q["end"][0])))
                    fault = server.faults.get(n)
                    if fault == "drop":
                        self.close_connection = True
                        return  # no reply at all: the client sees the connection closed
                    if fault == "429":
                        self.reply(429, {"error": "rate_limit_exceeded", "message": "Too many requests"})
                        return
                    self.reply(200, {"candles": server.candles(int(q["start"][0]), int(q["end"][0]))})
                elif url.path.endswith("/v2/time"):
                    self.reply(200, {"data": {"epoch": server.now, "iso": "unused"}})
                elif url.path.endswith("/brokerage/market/products"):
                    self.reply(200, {"products": [] if "FUTURE" in url.query else [server.product()]})
                else:
                    self.reply(200, {"data": []})

            def reply(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def candles(self, start: int, end: int) -> list[dict[str, str]]:
        first = max(T0, -(-start // STEP_S) * STEP_S)
        times = range(first, min(end, self.now) + 1, STEP_S)
        return [candle(t, forming=t + STEP_S > self.now) for t in reversed(times)]

    @staticmethod
    def product() -> dict[str, Any]:
        return {
            "product_id": "BTC-USD",
            "base_currency_id": "BTC",
            "quote_currency_id": "USD",
            "product_type": "SPOT",
            "status": "online",
            "base_increment": "0.00000001",
            "quote_increment": "0.01",
            "price_increment": "0.01",
            "base_min_size": "0.00000001",
            "quote_min_size": "1",
            "trading_disabled": False,
            "is_disabled": False,
        }


@pytest.fixture
def server() -> Iterator[CoinbaseServer]:
    srv = CoinbaseServer()
    thread = threading.Thread(target=srv.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def expected_close(times_s: np.ndarray) -> np.ndarray:
    return 101.0 + ((times_s - T0) // STEP_S) % 17


def run(srv: CoinbaseServer, store: Path, **kw: Any) -> Any:
    ex = make_exchange("coinbase", api_url=srv.url, rate_limit=False)
    ex.timeout = 5000
    delays: list[float] = []
    res = download(
        ex,
        ["BTC/USD"],
        "5m",
        store_dir=store,
        now_ms=srv.now * 1000,
        sleep=delays.append,
        backoff_s=0.5,
        **kw,
    )
    return res, delays


def test_download_retries_then_stores_closed_candles_once(server: CoinbaseServer, tmp_path: Path) -> None:
    server.faults = {2: "429", 3: "drop", 5: "429"}
    (res,), delays = run(server, tmp_path, since="2024-01-01")
    frame = read_dataset(tmp_path, "coinbase", "BTC/USD", "5m")
    t = frame["timestamp"].to_numpy().astype(np.int64) // 10**9
    assert len(frame) == 1000  # bars 0..999; bar 1000 is still forming and is not stored
    assert np.array_equal(t, T0 + STEP_S * np.arange(1000))
    np.testing.assert_array_equal(frame["close"].to_numpy(), expected_close(t))
    assert frame["tradable"].all()
    assert res.fetched == 1000 and res.retries == 3
    assert delays == [0.5, 1.0, 0.5]  # back-off doubles within one request, restarts on the next


def test_download_is_incremental(server: CoinbaseServer, tmp_path: Path) -> None:
    run(server, tmp_path, since="2024-01-01")
    before = len(server.candle_requests)
    server.now += 50 * STEP_S  # 50 more bars have closed
    (res,), _ = run(server, tmp_path, since="2024-01-01")
    first_new = server.candle_requests[before][0]
    assert first_new == T0 + 1000 * STEP_S  # starts right after the stored last bar
    assert res.fetched == 50
    frame = read_dataset(tmp_path, "coinbase", "BTC/USD", "5m")
    t = frame["timestamp"].to_numpy().astype(np.int64) // 10**9
    assert len(frame) == 1050 and len(np.unique(t)) == 1050
    np.testing.assert_array_equal(frame["close"].to_numpy(), expected_close(t))
    (res,), _ = run(server, tmp_path)
    assert res.fetched == 0 and res.stored is None  # up to date: nothing written


def test_download_gives_up_after_bounded_retries_and_keeps_store(
    server: CoinbaseServer, tmp_path: Path
) -> None:
    run(server, tmp_path, since="2024-01-01")
    info = read_info(tmp_path, "coinbase", "BTC/USD", "5m")
    server.now += 600 * STEP_S
    n = len(server.candle_requests)
    server.faults = {n + 2 + k: "429" for k in range(10)}  # the second new page never succeeds
    with pytest.raises(DataError, match="gave up after 3 retries"):
        run(server, tmp_path, max_retries=3)
    after = read_info(tmp_path, "coinbase", "BTC/USD", "5m")
    # The first page (300 bars, all closed) was stored before giving up; nothing partial.
    assert after.rows == info.rows + 300
    frame = read_dataset(tmp_path, "coinbase", "BTC/USD", "5m")
    t = frame["timestamp"].to_numpy().astype(np.int64) // 10**9
    assert np.array_equal(t, T0 + STEP_S * np.arange(1300))


def test_first_download_needs_since_and_a_known_interval(server: CoinbaseServer, tmp_path: Path) -> None:
    ex = make_exchange("coinbase", api_url=server.url, rate_limit=False)
    with pytest.raises(DataError, match="--since"):
        download(ex, ["BTC/USD"], "5m", store_dir=tmp_path, now_ms=server.now * 1000)
    with pytest.raises(DataError, match="no 4h candles"):
        download(ex, ["BTC/USD"], "4h", store_dir=tmp_path, since="2024-01-01")
    with pytest.raises(DataError, match="unknown exchange"):
        make_exchange("no-such-exchange")


def test_cli_download_against_local_server(
    server: CoinbaseServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.now = T0 + 40 * STEP_S + 10
    args = ["data", "download", "--symbols", "BTC/USD", "--interval", "5m", "--since", "2024-01-01"]
    assert main([*args, "--store", str(tmp_path), "--api-url", server.url]) == 0
    out = capsys.readouterr().out
    # The CLI takes "now" from the exchange's clock: bar 40 is still forming there.
    assert "BTC/USD: 40 new candles, 1 requests, 0 retries" in out
