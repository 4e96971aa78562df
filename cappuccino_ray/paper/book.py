"""The paper-trading book: one SQLite database per state folder (stdlib ``sqlite3``, WAL).

Tables::

    meta       key -> value: schema version, checkpoint and its SHA-256, symbols,
               interval, mode, first decision bar
    account    one row: the market core's whole account state after the last
               processed bar (cash, units, ages, value, weights, the fee-volume
               ring buffer and its position, the benchmark's cash and units),
               the order decided on that bar and waiting for the next open,
               and the last bar processed
    bars       one row per processed bar: equity, buy-and-hold, cash, fees,
               traded USD, fills, forced sales, fee tier and rate, trailing volume
    orders     the target weight per asset decided on each bar (NULL: hold), and its
               fate on the next bar: pending, filled, kept or skipped
    fills      per-asset fills (units, price with slippage, USD, fee, forced)
    positions  units, age in bars and weight per asset after the last bar

Each bar is one transaction (``BEGIN IMMEDIATE`` .. ``COMMIT``): a kill at any
instant leaves the book at the previous bar or at this one, never between.
Arrays are stored as raw float64/int64 bytes, so a restart rebuilds the core's
state bit for bit. A process writing the book holds an exclusive ``flock`` on
``paper.lock`` beside it: a second writer is refused, not queued.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cappuccino_ray.errors import DataError
from cappuccino_ray.ops.state import SchedulerLock, now_utc, pid_alive

__all__ = ["BOOK_FILE", "LOCK_FILE", "SCHEMA_VERSION", "Account", "Book", "BookBar", "Fill"]

BOOK_FILE = "book.sqlite"
LOCK_FILE = "paper.lock"
PID_FILE = "paper.pid"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS account (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    bar_time INTEGER NOT NULL, started INTEGER NOT NULL,
    cash REAL NOT NULL, value REAL NOT NULL, units BLOB NOT NULL, age BLOB NOT NULL,
    weights BLOB NOT NULL, ring BLOB NOT NULL, ring_pos INTEGER NOT NULL, vol_sum REAL NOT NULL,
    bench_cash REAL NOT NULL, bench_units BLOB NOT NULL, pending BLOB
);
CREATE TABLE IF NOT EXISTS bars (
    bar_time INTEGER PRIMARY KEY, bar_iso TEXT NOT NULL, equity REAL NOT NULL,
    benchmark REAL NOT NULL, cash REAL NOT NULL, fees REAL NOT NULL, traded REAL NOT NULL,
    n_trades INTEGER NOT NULL, n_forced INTEGER NOT NULL, fee_tier INTEGER NOT NULL,
    fee_rate REAL NOT NULL, volume_30d REAL NOT NULL, recorded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT, decided_bar INTEGER NOT NULL, symbol TEXT NOT NULL,
    target_weight REAL, status TEXT NOT NULL, fill_bar INTEGER
);
CREATE TABLE IF NOT EXISTS fills (
    id INTEGER PRIMARY KEY AUTOINCREMENT, bar_time INTEGER NOT NULL, symbol TEXT NOT NULL,
    side TEXT NOT NULL, units REAL NOT NULL, price REAL NOT NULL, usd REAL NOT NULL,
    fee REAL NOT NULL, forced INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS positions (
    symbol TEXT PRIMARY KEY, units REAL NOT NULL, age_bars INTEGER NOT NULL, weight REAL NOT NULL
);
"""


@dataclass
class Account:
    """The market core's state of one account between two bars.

    Attributes:
        cash: USD.
        units: Holdings per asset, ``(n,)``.
        age: Position ages in bars, ``(n,)`` int.
        value: Value at the last marked close.
        weights: Weights at the last marked close, ``(n,)``.
        ring: Traded USD of the last ``W`` fills (the fee-volume window), ``(W,)``.
        ring_pos: Next slot of ``ring`` to overwrite.
        vol_sum: Running sum of ``ring``.
        bench_cash: Buy-and-hold's cash.
        bench_units: Buy-and-hold's units, ``(n,)``.
    """

    cash: float
    units: np.ndarray
    age: np.ndarray
    value: float
    weights: np.ndarray
    ring: np.ndarray
    ring_pos: int
    vol_sum: float
    bench_cash: float
    bench_units: np.ndarray


@dataclass(frozen=True)
class Fill:
    """One asset's fill on one bar (derived from the core's units before and after)."""

    symbol: str
    side: str
    units: float
    price: float
    usd: float
    fee: float
    forced: bool


@dataclass(frozen=True)
class BookBar:
    """What one processed bar adds to the book."""

    bar_time: int
    bar_iso: str
    equity: float
    benchmark: float
    cash: float
    fees: float
    traded: float
    n_trades: int
    n_forced: int
    fee_tier: int
    fee_rate: float
    volume_30d: float


def _f64(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float64).copy()


def _i64(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.int64).copy()


def _blob(a: np.ndarray, dtype: Any = np.float64) -> bytes:
    return np.ascontiguousarray(a, dtype=dtype).tobytes()


class Book:
    """A paper-trading book in ``state_dir``.

    Args:
        state_dir: The state folder (created if needed).
        write: Take the writer's lock (a paper run); False opens it for reading (status).

    Raises:
        DataError: If the book is corrupt, or (``write``) another process holds it.
    """

    def __init__(self, state_dir: str | Path, *, write: bool = True) -> None:
        """Open (and for a writer, lock and create) the database."""
        self.dir = Path(state_dir)
        self.path = self.dir / BOOK_FILE
        self._lock: SchedulerLock | None = None
        if write:
            self.dir.mkdir(parents=True, exist_ok=True)
            lock = SchedulerLock(self.dir / LOCK_FILE)
            if not lock.acquire():
                pid = _read_pid(self.dir / PID_FILE)
                who = f" (PID {pid})" if pid and pid_alive(pid) else ""
                raise DataError(
                    f"paper book {self.path} is locked by another paper process{who}; "
                    "stop it first (cappuccino-ray paper stop --state DIR)"
                )
            self._lock = lock
        elif not self.path.is_file():
            raise DataError(f"no paper book at {self.path}; start one with cappuccino-ray paper run")
        try:
            self.conn = sqlite3.connect(self.path, timeout=2.0, isolation_level=None)
            if write:
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=FULL")
                self.conn.executescript(_SCHEMA)
            check = self.conn.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check says {check[0] if check else 'nothing'}")
            version = self.meta().get("schema_version")
        except sqlite3.OperationalError as exc:
            self.close()
            if "locked" in str(exc):
                raise DataError(f"paper book {self.path} is locked by another process ({exc})") from exc
            raise DataError(f"paper book {self.path} is unreadable ({exc})") from exc
        except sqlite3.DatabaseError as exc:
            self.close()
            raise DataError(
                f"paper book {self.path} is corrupt ({exc}); move it away and start a new book"
            ) from exc
        if version is None and write:
            self.set_meta({"schema_version": SCHEMA_VERSION})
        elif version is not None and int(version) != SCHEMA_VERSION:
            self.close()
            raise DataError(
                f"paper book {self.path} has schema {version}; this version reads {SCHEMA_VERSION}"
            )

    def close(self) -> None:
        """Close the database and drop the lock."""
        conn = getattr(self, "conn", None)
        if conn is not None:
            conn.close()
            self.conn = None  # type: ignore[assignment]
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Book:
        """The book itself."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close on leaving a ``with`` block."""
        self.close()

    # -- reads -------------------------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        """Every meta entry, JSON-decoded."""
        return {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM meta")}

    def account(self) -> tuple[int, bool, Account, np.ndarray | None] | None:
        """``(last bar time, started, account, pending targets)``, or None for a new book."""
        row = self.conn.execute(
            "SELECT bar_time, started, cash, value, units, age, weights, ring, ring_pos, vol_sum, "
            "bench_cash, bench_units, pending FROM account WHERE id = 1"
        ).fetchone()
        if row is None:
            return None
        acct = Account(
            cash=float(row[2]),
            units=_f64(row[4]),
            age=_i64(row[5]),
            value=float(row[3]),
            weights=_f64(row[6]),
            ring=_f64(row[7]),
            ring_pos=int(row[8]),
            vol_sum=float(row[9]),
            bench_cash=float(row[10]),
            bench_units=_f64(row[11]),
        )
        pending = None if row[12] is None else _f64(row[12])
        return int(row[0]), bool(row[1]), acct, pending

    def _rows(self, sql: str) -> list[dict[str, Any]]:
        cur = self.conn.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur]

    def bars(self) -> list[dict[str, Any]]:
        """Every processed bar, oldest first."""
        return self._rows("SELECT * FROM bars ORDER BY bar_time")

    def fills(self) -> list[dict[str, Any]]:
        """Every fill, oldest first."""
        return self._rows("SELECT * FROM fills ORDER BY id")

    def orders(self) -> list[dict[str, Any]]:
        """Every order, oldest first."""
        return self._rows("SELECT * FROM orders ORDER BY id")

    def positions(self) -> list[dict[str, Any]]:
        """Units, age and weight per asset after the last bar."""
        return self._rows("SELECT symbol, units, age_bars, weight FROM positions ORDER BY symbol")

    # -- writes ------------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` .. ``COMMIT`` (rolled back on any exception)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def set_meta(self, values: Mapping[str, Any]) -> None:
        """Write meta entries (one transaction)."""
        with self.transaction() as c:
            c.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in values.items()],
            )

    def record_bar(
        self,
        *,
        bar_time: int,
        started: bool,
        account: Account,
        pending: np.ndarray | None,
        symbols: Sequence[str],
        bar: BookBar | None,
        fills: Sequence[Fill] = (),
    ) -> None:
        """Record one processed bar in one transaction.

        Args:
            bar_time: The bar's open time (int ns).
            started: Whether the account has started (its first fill bar passed).
            account: The core's state after the bar.
            pending: Targets decided on this bar for the next open (None: none).
            symbols: Asset names in core order.
            bar: The bar's figures (None for the first decision bar, before any fill).
            fills: Per-asset fills of this bar.

        Raises:
            DataError: If this bar was already recorded (a bar is never traded twice).
        """
        a = account
        try:
            with self.transaction() as c:
                if bar is not None:
                    c.execute(
                        "INSERT INTO bars VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (
                            bar.bar_time, bar.bar_iso, bar.equity, bar.benchmark, bar.cash, bar.fees,
                            bar.traded, bar.n_trades, bar.n_forced, bar.fee_tier, bar.fee_rate,
                            bar.volume_30d, now_utc().isoformat(),
                        ),
                    )  # fmt: skip
                # An order's fate: filled, kept (no target: hold), or skipped (band, minimum,
                # not tradable, or overridden by a forced sale).
                filled = sorted({f.symbol for f in fills if not f.forced})
                c.execute(
                    "UPDATE orders SET fill_bar = ?, status = CASE "
                    f"WHEN symbol IN ({','.join('?' * len(filled))}) THEN 'filled' "
                    "WHEN target_weight IS NULL THEN 'kept' ELSE 'skipped' END WHERE status = 'pending'",
                    (bar_time, *filled),
                )
                c.executemany(
                    "INSERT INTO fills (bar_time, symbol, side, units, price, usd, fee, forced) "
                    "VALUES (?,?,?,?,?,?,?,?)",
                    [
                        (bar_time, f.symbol, f.side, f.units, f.price, f.usd, f.fee, int(f.forced))
                        for f in fills
                    ],
                )
                if pending is not None:
                    c.executemany(
                        "INSERT INTO orders (decided_bar, symbol, target_weight, status) "
                        "VALUES (?,?,?,'pending')",
                        [
                            (bar_time, s, None if np.isnan(w) else float(w))
                            for s, w in zip(symbols, pending, strict=True)
                        ],
                    )
                c.execute(
                    "INSERT OR REPLACE INTO account VALUES (1,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        bar_time, int(started), a.cash, a.value, _blob(a.units), _blob(a.age, np.int64),
                        _blob(a.weights), _blob(a.ring), a.ring_pos, a.vol_sum, a.bench_cash,
                        _blob(a.bench_units), None if pending is None else _blob(pending),
                    ),
                )  # fmt: skip
                c.executemany(
                    "INSERT OR REPLACE INTO positions VALUES (?,?,?,?)",
                    [
                        (s, float(u), int(g), float(w))
                        for s, u, g, w in zip(symbols, a.units, a.age, a.weights, strict=True)
                    ],
                )
        except sqlite3.IntegrityError as exc:
            raise DataError(
                f"bar {bar.bar_iso if bar else bar_time} is already in the book; not trading it twice"
            ) from exc


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None
