"""Incremental candle downloads with ccxt, merged into the local store.

For each symbol only what the store lacks is fetched: from ``since`` up to the
first stored bar (if ``since`` is earlier), and from the bar after the last
stored one up to the last *closed* bar. The bar still forming at the exchange
is never kept. Pages are de-duplicated by timestamp; every write goes through
:func:`store_candles` (validated, merged, atomic), every ``chunk_bars`` candles
and once at the end, so an interrupted download keeps what it completed and
the same command resumes from there.

Network errors and rate-limit replies (HTTP 429) are retried with exponential
back-off, at most ``max_retries`` times per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pandas as pd

from cappuccino_ray.data.ingest import ImportResult, store_candles
from cappuccino_ray.data.readers import RawCandles, candles_from_ccxt, normalise_symbol
from cappuccino_ray.data.store import dataset_path, read_info
from cappuccino_ray.errors import DataError
from cappuccino_ray.intervals import interval_ns, validate_interval

__all__ = ["DownloadResult", "download", "make_exchange", "parse_since"]

_MAX_BACKOFF_S = 60.0


@dataclass(frozen=True)
class DownloadResult:
    """Outcome of one symbol's download.

    Attributes:
        symbol: Unified symbol.
        fetched: New closed candles stored.
        requests: Candle requests made (retries included).
        retries: Requests repeated after a network error or rate-limit reply.
        stored: The last store write, or ``None`` if nothing new was fetched.
    """

    symbol: str
    fetched: int
    requests: int
    retries: int
    stored: ImportResult | None


def make_exchange(exchange_id: str, *, api_url: str | None = None, rate_limit: bool = True) -> Any:
    """Construct a ccxt exchange by id, optionally pointing its REST URLs at ``api_url``.

    Args:
        exchange_id: A ccxt id such as ``coinbase`` or ``binance``.
        api_url: Replaces the scheme and host of every REST URL (a proxy or a local test server).
        rate_limit: Keep ccxt's own request throttling on.

    Raises:
        DataError: If ccxt has no such exchange.
    """
    import ccxt

    if exchange_id not in ccxt.exchanges:
        raise DataError(
            f"unknown exchange {exchange_id!r}; use a ccxt id such as coinbase, kraken or binance"
        )
    ex = getattr(ccxt, exchange_id)({"enableRateLimit": rate_limit, "timeout": 30_000})
    if api_url:
        base = urlsplit(api_url)

        def repoint(v: Any) -> Any:
            if isinstance(v, str):
                u = urlsplit(v)
                return urlunsplit((base.scheme, base.netloc, u.path, u.query, u.fragment))
            if isinstance(v, dict):
                return {k: repoint(x) for k, x in v.items()}
            return v

        ex.urls["api"] = repoint(ex.urls["api"])
    return ex


def parse_since(since: str | None) -> int | None:
    """``YYYY-MM-DD`` or an ISO time (UTC) to epoch milliseconds; ``None`` stays ``None``.

    Raises:
        DataError: If the text is not a date.
    """
    if since is None:
        return None
    try:
        ts = pd.Timestamp(since)
    except ValueError as exc:
        raise DataError(f"--since {since!r} is not a date; write it as YYYY-MM-DD") from exc
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return int(ts.value // 10**6)


class _Fetcher:
    """One exchange, one symbol, one timeframe: paged fetches with bounded retries."""

    def __init__(
        self, exchange: Any, symbol: str, interval: str, max_retries: int, backoff_s: float, sleep: Any
    ) -> None:
        self.ex, self.symbol, self.interval = exchange, symbol, interval
        self.max_retries, self.backoff_s, self.sleep = max_retries, backoff_s, sleep
        self.requests = self.retries = 0

    def page(self, since_ms: int, limit: int) -> list[list[Any]]:
        import ccxt

        for attempt in range(self.max_retries + 1):
            self.requests += 1
            try:
                return list(self.ex.fetch_ohlcv(self.symbol, self.interval, since=since_ms, limit=limit))
            except ccxt.NetworkError as exc:  # includes RateLimitExceeded (HTTP 429)
                if attempt == self.max_retries:
                    raise DataError(
                        f"{self.ex.id} {self.symbol}: gave up after {self.max_retries} retries ({exc}); "
                        "the candles fetched so far are stored, run the same command again to resume"
                    ) from exc
                self.retries += 1
                self.sleep(min(_MAX_BACKOFF_S, self.backoff_s * 2**attempt))
            except ccxt.BadSymbol as exc:
                raise DataError(f"{self.ex.id} has no market {self.symbol}; check --symbols") from exc
            except ccxt.ExchangeError as exc:
                raise DataError(f"{self.ex.id} {self.symbol}: the exchange refused ({exc})") from exc
        raise AssertionError("unreachable")  # pragma: no cover


def download(
    exchange: Any,
    symbols: Sequence[str],
    interval: str,
    *,
    store_dir: str | Path,
    since: str | None = None,
    gap_policy: str = "ffill",
    max_gap_bars: int = 48,
    limit: int = 300,
    chunk_bars: int = 50_000,
    max_retries: int = 5,
    backoff_s: float = 1.0,
    now_ms: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[DownloadResult]:
    """Fetch the candles the store lacks for each symbol and merge them in.

    Args:
        exchange: A ccxt exchange (see :func:`make_exchange`); its id names the store folder.
        symbols: Unified symbols, e.g. ``["BTC/USD", "ETH/USD"]``.
        interval: Candle interval; the exchange must offer it.
        store_dir: Root of the store.
        since: First day to fetch (``YYYY-MM-DD``); needed when a symbol has no stored data.
        gap_policy: ``ffill`` or ``refuse`` for gaps the exchange leaves.
        max_gap_bars: Longest gap ``ffill`` repairs.
        limit: Candles per request.
        chunk_bars: Store every this many new candles.
        max_retries: Retries per request after a network error or a rate-limit reply.
        backoff_s: First back-off delay; doubles per retry, capped at 60 s.
        now_ms: The current time in epoch ms (default: the exchange's clock, else the local one);
            bars not closed by then are skipped.
        sleep: Sleep function used for back-off.

    Returns:
        One result per symbol.

    Raises:
        DataError: Unknown interval or symbol, no ``since`` for a new dataset, or retries exhausted.
    """
    validate_interval(interval)
    timeframes = getattr(exchange, "timeframes", None) or {}
    if timeframes and interval not in timeframes:
        raise DataError(
            f"{exchange.id} has no {interval} candles (it offers {', '.join(timeframes)}); download a finer "
            f"interval that divides {interval} and resample"
        )
    step = interval_ns(interval) // 10**6  # ms, ccxt's unit
    now = _exchange_now(exchange) if now_ms is None else now_ms
    last_closed = (now // step) * step - step
    since_ms = parse_since(since)
    results = []
    for raw_symbol in symbols:
        symbol = normalise_symbol(raw_symbol)
        ranges = _missing_ranges(store_dir, exchange.id, symbol, interval, since_ms, last_closed, step)
        fetcher = _Fetcher(exchange, symbol, interval, max_retries, backoff_s, sleep)
        writer = _Writer(exchange.id, symbol, interval, store_dir, gap_policy, max_gap_bars)
        try:
            for start, stop in ranges:
                cursor = start
                while cursor <= stop:
                    new = _closed_new_rows(fetcher.page(cursor, limit), cursor, stop)
                    if not new:
                        cursor += limit * step  # an empty window (before listing, or a long halt)
                        continue
                    writer.pending.extend(new)
                    cursor = int(new[-1][0]) + step
                    if len(writer.pending) >= chunk_bars:
                        writer.flush()
        finally:
            writer.flush()
        results.append(
            DownloadResult(symbol, writer.fetched, fetcher.requests, fetcher.retries, writer.stored)
        )
    return results


def _closed_new_rows(rows: list[list[Any]], cursor: int, stop: int) -> list[list[Any]]:
    """Rows with open time in ``[cursor, stop]``, time-ordered, one per timestamp."""
    times = np.array([int(r[0]) for r in rows], dtype=np.int64)
    ok = (times >= cursor) & (times <= stop)
    new = sorted((r for r, k in zip(rows, ok, strict=True) if k), key=lambda r: int(r[0]))
    return [r for i, r in enumerate(new) if i == 0 or int(r[0]) != int(new[i - 1][0])]


class _Writer:
    """Collects fetched rows and merges them into the store in batches."""

    def __init__(
        self,
        exchange_id: str,
        symbol: str,
        interval: str,
        store_dir: str | Path,
        gap_policy: str,
        max_gap: int,
    ) -> None:
        self.exchange_id, self.symbol, self.interval, self.store_dir = (
            exchange_id,
            symbol,
            interval,
            store_dir,
        )
        self.gap_policy, self.max_gap = gap_policy, max_gap
        self.pending: list[list[Any]] = []
        self.fetched = 0
        self.stored: ImportResult | None = None

    def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        source = f"ccxt:{self.exchange_id}"
        raw = RawCandles(
            frame=candles_from_ccxt(batch, source=source),
            symbol=self.symbol,
            interval=self.interval,
            source=source,
        )
        self.stored = store_candles(
            raw,
            store_dir=self.store_dir,
            exchange=self.exchange_id,
            gap_policy=self.gap_policy,
            max_gap_bars=self.max_gap,
        )
        self.fetched += len(batch)


def _exchange_now(exchange: Any) -> int:
    """The exchange's clock in epoch ms (what "closed" means there), else the local clock."""
    import ccxt

    if exchange.has.get("fetchTime"):
        try:
            return int(exchange.fetch_time())
        except (ccxt.NetworkError, ccxt.ExchangeError, TypeError, ValueError):
            pass  # the local clock is a fine stand-in; a skew only delays the newest bar
    return int(time.time() * 1000)


def _missing_ranges(
    store_dir: str | Path,
    exchange_id: str,
    symbol: str,
    interval: str,
    since_ms: int | None,
    last_closed: int,
    step: int,
) -> list[tuple[int, int]]:
    """Inclusive ``(first, last)`` open-time ranges (ms) the store lacks, oldest first."""
    if not dataset_path(store_dir, exchange_id, symbol, interval).is_file():
        if since_ms is None:
            raise DataError(
                f"no stored {interval} candles for {symbol} on {exchange_id}; pass --since YYYY-MM-DD "
                "for the first download"
            )
        first = -(-since_ms // step) * step
        return [(first, last_closed)] if first <= last_closed else []
    info = read_info(store_dir, exchange_id, symbol, interval)
    stored_first = int(pd.Timestamp(info.first).value // 10**6)
    stored_last = int(pd.Timestamp(info.last).value // 10**6)
    ranges = []
    if since_ms is not None and since_ms < stored_first:
        ranges.append((-(-since_ms // step) * step, stored_first - step))
    if stored_last + step <= last_closed:
        ranges.append((stored_last + step, last_closed))
    return ranges
