"""Run the paper trader (in this process or as a daemon), stop it, and report its status.

One paper trader per state folder: the running one holds the book's lock
(``paper.lock``) and writes its PID to ``paper.pid``; ``paper start`` spawns
``paper run`` detached (like the scheduler's daemon) and waits until it holds
the lock. ``--live`` polls the data store for newly closed candles (optionally
refreshing it with the downloader first); ``--replay D`` feeds a candle
folder's bars one at a time as if they were arriving. Daily summaries and any
error go through :class:`~cappuccino_ray.ops.notify.Notifier`
(``<state>/notifications.jsonl`` and the configured webhook).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from cappuccino_ray.errors import CappuccinoError, DataError
from cappuccino_ray.ops.state import SchedulerLock, now_utc, pid_alive, start_detached, terminate
from cappuccino_ray.paper.book import LOCK_FILE, PID_FILE, Book, BookBar

__all__ = ["DailySummary", "run_paper", "run_text", "spawn", "status", "status_text", "stop"]

LOG_FILE = "paper.log"
NOTIFICATIONS_FILE = "notifications.jsonl"


class DailySummary:
    """Notifies one summary per UTC day of bars (equity vs buy-and-hold, trades, forced sales).

    Args:
        notifier: Where summaries go (None: nowhere).
    """

    def __init__(self, notifier: Any | None) -> None:
        """Start with no day."""
        self.notifier = notifier
        self.day: str | None = None
        self.last: BookBar | None = None
        self.trades = 0
        self.forced = 0

    def on_bar(self, bar: BookBar) -> None:
        """Count the bar; on a new day, notify the previous day's summary."""
        day = bar.bar_iso[:10]
        if self.day is not None and day != self.day and self.last is not None:
            self.flush()
        self.day = day
        self.last = bar
        self.trades += bar.n_trades
        self.forced += bar.n_forced

    def flush(self) -> None:
        """Notify the summary of the day counted so far."""
        if self.notifier is not None and self.last is not None:
            b = self.last
            self.notifier.notify(
                "paper_daily",
                f"{self.day}: equity {b.equity:,.2f} vs buy-and-hold {b.benchmark:,.2f}, "
                f"{self.trades} trades, {self.forced} forced sales, fee tier {b.fee_tier}",
                day=self.day,
                equity=b.equity,
                buy_and_hold=b.benchmark,
                n_trades=self.trades,
                n_forced_sales=self.forced,
            )
        self.trades = self.forced = 0


def _notifier(args: argparse.Namespace) -> Any:
    from cappuccino_ray.config import DeployConfig, load_config
    from cappuccino_ray.ops.notify import Notifier

    path = Path(args.deploy_config)
    deploy = load_config(DeployConfig, path) if path.is_file() else DeployConfig()
    return Notifier(deploy.notify, Path(args.state) / NOTIFICATIONS_FILE)


def run_paper(args: argparse.Namespace, checkpoint: Path) -> dict[str, Any]:
    """``paper run``: process bars into the book until ``--until``, the candles' end or SIGTERM.

    Returns:
        The number of bars processed this time and the book's status.
    """
    from cappuccino_ray.paper.engine import StopFlag

    with StopFlag().installed() as stop:
        return _run_paper(args, checkpoint, stop)


def _run_paper(args: argparse.Namespace, checkpoint: Path, stop: Any) -> dict[str, Any]:
    from cappuccino_ray.paper.engine import PaperEngine
    from cappuccino_ray.paper.sources import bar_index, load_candles, parse_time

    state = Path(args.state)
    notifier = _notifier(args) if (args.live or args.notify) else None
    daily = DailySummary(notifier)
    done = 0
    with Book(state) as book:
        (state / PID_FILE).write_text(str(os.getpid()))
        try:
            engine = PaperEngine(
                checkpoint, book, mode="live" if args.live else "replay", on_bar=daily.on_bar
            )
            spec = engine.spec
            start, until = parse_time(args.start), parse_time(args.until)
            if args.replay is not None:
                market = load_candles(args.replay, tuple(spec.symbols), spec.interval, spec.n_assets)
                done = engine.run(
                    market,
                    start=bar_index(market, start, side="start"),
                    until=bar_index(market, until, side="end"),
                    stop=stop,
                )
            else:
                done = _live(args, engine, start, until, stop, notifier)
        except Exception as exc:  # the daemon's last word: any error is notified, then raised
            if notifier is not None:
                text = (
                    str(exc)
                    if isinstance(exc, CappuccinoError)
                    else f"internal error: {type(exc).__name__}: {exc}"
                )
                notifier.notify("paper_error", text, state=str(state))
            raise
        finally:
            daily.flush()  # the last, unfinished day's summary too
            with contextlib.suppress(FileNotFoundError):
                (state / PID_FILE).unlink()
    return {"processed": done, **status(state)}


def _live(
    args: argparse.Namespace,
    engine: Any,
    start: np.datetime64 | None,
    until: np.datetime64 | None,
    stop: Any,
    notifier: Any,
) -> int:
    """Poll the store for closed candles until ``until`` is processed or SIGTERM."""
    from cappuccino_ray.paper.sources import bar_index, market_from_store, to_ns

    spec = engine.spec
    done = 0
    last_error: str | None = None
    while not stop.set:
        if args.refresh:
            try:
                refresh_store(args.data_config, tuple(spec.symbols))
            except CappuccinoError as exc:  # a failed refresh is reported; the store may still be fresh
                if notifier is not None:
                    notifier.notify("paper_error", f"data refresh failed: {exc}")
        try:
            market = market_from_store(args.data_config, tuple(spec.symbols), spec.interval)
            first = bar_index(market, start, side="start") if start is not None else market.n_bars - 1
            done += engine.run(market, start=first, until=bar_index(market, until, side="end"), stop=stop)
            last_error = None
        except DataError as exc:  # a store being rewritten, a hole: report once, retry next poll
            if notifier is not None and str(exc) != last_error:
                notifier.notify("paper_error", f"store read failed, retrying: {exc}")
            last_error = str(exc)
        acct = engine.book.account()
        if until is not None and acct is not None and acct[0] >= to_ns(until):
            break
        deadline = time.monotonic() + args.poll_seconds
        while not stop.set and time.monotonic() < deadline:
            time.sleep(min(0.2, args.poll_seconds))
    return done


def refresh_store(data_config: str | Path, symbols: tuple[str, ...]) -> None:
    """Fetch the candles the store lacks (the downloader, closed bars only)."""
    from cappuccino_ray.config import DataConfig, load_config
    from cappuccino_ray.data.download import download, make_exchange

    cfg = load_config(DataConfig, data_config)
    download(
        make_exchange(cfg.exchange),
        list(symbols or cfg.symbols),
        cfg.base_interval,
        store_dir=cfg.store_dir,
        gap_policy=cfg.gap_policy,
        max_gap_bars=cfg.max_gap_bars,
    )


def _running_pid(state: Path) -> int | None:
    if not SchedulerLock(state / LOCK_FILE).is_locked_elsewhere():
        return None
    try:
        pid = int((state / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def spawn(args: argparse.Namespace, checkpoint: Path, *, wait_s: float = 30.0) -> int:
    """``paper start``: run ``paper run`` detached; return its PID once it holds the book.

    Raises:
        CappuccinoError: If one already runs on this state folder or the new one exits at start.
    """
    state = Path(args.state).resolve()
    running = _running_pid(state)
    if running:
        raise CappuccinoError(f"a paper trader already runs on {state} (PID {running}); stop it first")
    state.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "cappuccino_ray",
        "paper",
        "run",
        str(checkpoint.resolve()),
        "--state",
        str(state),
    ]
    cmd += ["--live"] if args.live else ["--replay", str(Path(args.replay).resolve())]
    cmd += ["--data-config", str(Path(args.data_config).resolve())]
    cmd += ["--deploy-config", str(Path(args.deploy_config).resolve())]
    cmd += ["--poll-seconds", str(args.poll_seconds)]
    for flag, value in (("--start", args.start), ("--until", args.until)):
        if value is not None:
            cmd += [flag, value]
    cmd += [f for f, on in (("--refresh", args.refresh), ("--notify", args.notify)) if on]
    # A short replay may finish before it is seen up: a clean exit counts as started.
    return start_detached(
        cmd,
        state / LOG_FILE,
        "the paper trader",
        lambda pid: _running_pid(state) == pid,
        wait_s=wait_s,
        may_finish=True,
    )


def stop(state_dir: str | Path, *, wait_s: float = 60.0) -> int | None:
    """``paper stop``: SIGTERM the daemon of ``state_dir`` and wait; its PID, or None if none ran."""
    state = Path(state_dir)
    pid = _running_pid(state)
    if pid is None:
        return None
    return terminate(pid, "the paper trader", wait_s=wait_s)


def status(state_dir: str | Path, *, now: Any = None) -> dict[str, Any]:
    """The book's figures: equity vs buy-and-hold, drawdown, trades, fee tier, last bar, data age.

    Raises:
        DataError: If there is no book or it is corrupt.
    """
    from cappuccino_ray.intervals import interval_ns

    state = Path(state_dir)
    with Book(state, write=False) as book:
        meta, bars, positions = book.meta(), book.bars(), book.positions()
        acct = book.account()
    initial = float(meta.get("initial_cash", 0.0)) or None
    out: dict[str, Any] = {
        "state": str(state),
        "running": _running_pid(state) is not None,
        "pid": _running_pid(state),
        "checkpoint": meta.get("checkpoint"),
        "mode": meta.get("mode"),
        "interval": meta.get("interval"),
        "symbols": meta.get("symbols"),
        "bars": len(bars),
        "last_bar": None,
        "positions": positions,
    }
    if acct is not None:
        from cappuccino_ray.paper.sources import iso_ns

        out["last_bar"] = iso_ns(acct[0])
        close_ns = acct[0] + interval_ns(str(meta.get("interval", "1h")))
        now_ns = int((now or now_utc()).timestamp() * 1e9)
        out["data_age_hours"] = max(0.0, (now_ns - close_ns) / 3.6e12)
    if bars:
        eq = np.array([b["equity"] for b in bars])
        peak = np.maximum.accumulate(np.concatenate([[initial or eq[0]], eq]))[1:]
        dd = 1.0 - eq / peak
        last = bars[-1]
        out.update(
            equity=float(eq[-1]),
            buy_and_hold=float(last["benchmark"]),
            total_return=None if initial is None else float(eq[-1] / initial - 1.0),
            buy_and_hold_return=None if initial is None else float(last["benchmark"] / initial - 1.0),
            drawdown=float(dd[-1]),
            max_drawdown=float(dd.max()),
            n_trades=int(sum(b["n_trades"] for b in bars)),
            n_forced_sales=int(sum(b["n_forced"] for b in bars)),
            fees_paid=float(sum(b["fees"] for b in bars)),
            fee_tier=int(last["fee_tier"]),
            fee_rate=float(last["fee_rate"]),
            volume_30d=float(last["volume_30d"]),
        )
    return out


def status_text(st: dict[str, Any]) -> str:
    """The status as readable lines."""
    run = f"running (PID {st['pid']})" if st["running"] else "not running"
    lines = [
        f"paper trader: {run}, {st.get('mode')} mode, book {st['state']}",
        f"checkpoint:   {st['checkpoint']}",
    ]
    if "equity" not in st:
        lines.append(f"last bar:     {st['last_bar'] or '-'} (no fill yet)")
        return "\n".join(lines)
    lines += [
        f"equity:       {st['equity']:,.2f} ({_pct(st['total_return'])}) vs buy-and-hold "
        f"{st['buy_and_hold']:,.2f} ({_pct(st['buy_and_hold_return'])})",
        f"drawdown:     {st['drawdown']:.2%} now, {st['max_drawdown']:.2%} max",
        f"trades:       {st['n_trades']} ({st['n_forced_sales']} forced sales), fees {st['fees_paid']:,.2f}",
        f"fee tier:     {st['fee_tier']} (rate {st['fee_rate']:.4%}, 30-day volume {st['volume_30d']:,.0f})",
        f"last bar:     {st['last_bar']} ({st['bars']} bars), data {st['data_age_hours']:.1f} h old",
    ]
    return "\n".join(lines)


def run_text(out: dict[str, Any]) -> str:
    """``paper run``'s closing lines."""
    return f"processed {out['processed']} bars\n" + status_text(out)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:+.2%}"
