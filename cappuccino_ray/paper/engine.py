"""The paper-trading engine: one closed candle at a time, recorded in the book.

For each newly closed bar ``i`` (in order, never twice):

1. The targets decided on bar ``i - 1`` are filled at bar ``i``'s open and the
   account is marked at its close, through the order router (the market core
   on paper), starting from the account state the book holds.
2. The agent decides its targets on bar ``i``'s observation: they wait in the
   book for bar ``i + 1``. Features are computed once per run over the candles
   it is given; they are past-only, so bar ``i``'s row is what the candles up to
   ``i`` alone give (the look-ahead tests check it to the bit).
3. Both land in the book in one transaction.

The first bar a book sees only decides (the account is all cash, as the env
after a reset). So a run over bars ``a..b`` makes the same decisions on the
same observations and the same fills as the env's evaluation over that
segment: ``backtest`` and ``paper run --replay`` agree to the last bit.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

from cappuccino_ray.data.market import MarketData
from cappuccino_ray.errors import ConfigError, DataError
from cappuccino_ray.paper.backtest import check_market
from cappuccino_ray.paper.book import Book, BookBar
from cappuccino_ray.paper.orders import CoreRouter, OrderRouter
from cappuccino_ray.paper.sources import iso_ns, to_ns

__all__ = ["PaperEngine", "StopFlag"]


class StopFlag:
    """Set by SIGTERM/SIGINT while installed: the engine stops between two bars."""

    def __init__(self) -> None:
        """Not set."""
        self.set = False
        self._previous: list[tuple[int, Any]] = []

    @contextmanager
    def installed(self) -> Iterator[StopFlag]:
        """Handle SIGTERM and SIGINT by setting the flag; the previous handlers come back on exit."""

        def handler(signum: int, frame: FrameType | None) -> None:
            del signum, frame
            self.set = True

        previous = [(sig, signal.signal(sig, handler)) for sig in (signal.SIGTERM, signal.SIGINT)]
        try:
            yield self
        finally:
            for sig, old in previous:
                signal.signal(sig, old)


class PaperEngine:
    """Paper-trades one checkpoint into one book.

    Args:
        checkpoint: The checkpoint folder.
        book: The open (writable) book.
        mode: ``replay`` or ``live`` (recorded in the book).
        router: The order step (default: paper fills through the market core).
        on_bar: Called after each recorded bar with the bar's figures.

    Raises:
        ConfigError: If the book belongs to another checkpoint.
    """

    def __init__(
        self,
        checkpoint: str | Path,
        book: Book,
        *,
        mode: str = "replay",
        router: OrderRouter | None = None,
        on_bar: Callable[[BookBar], None] | None = None,
    ) -> None:
        """Load the agent and its mechanics; tie the book to the checkpoint."""
        from cappuccino_ray.agents.inference import load_agent

        self.checkpoint = Path(checkpoint)
        self.agent = load_agent(self.checkpoint)
        self.spec = self.agent.spec
        self.settings = self.spec.env_settings  # the checkpoint's own, fee tiers included
        self.book = book
        self.on_bar = on_bar
        self.symbols: tuple[str, ...] = tuple(self.spec.symbols)
        from cappuccino_ray.ops.deploy import checkpoint_digest

        digest = checkpoint_digest(self.checkpoint)
        meta = book.meta()
        if "checkpoint_sha256" in meta and meta["checkpoint_sha256"] != digest:
            raise ConfigError(
                f"the book in {book.dir} paper-trades checkpoint {meta.get('checkpoint')} "
                f"(sha256 {meta['checkpoint_sha256'][:12]}); pass that checkpoint or a new --state folder"
            )
        if "checkpoint_sha256" not in meta:
            book.set_meta(
                {
                    "checkpoint": str(self.checkpoint),
                    "checkpoint_sha256": digest,
                    "algorithm": self.spec.algo,
                    "interval": self.spec.interval,
                    "symbols": list(self.symbols),
                    "mode": mode,
                    "initial_cash": self.settings.initial_cash,
                }
            )
        self.router = router

    def _setup_of(self, market: MarketData) -> Any:
        """The env setup of ``market`` (its features once, the fee model and core parameters)."""
        from cappuccino_ray.env.setup import build_setup

        setup = build_setup({"market": market, "settings": self.settings, "mode": "eval", "info": True})
        if self.router is None:
            self.router = CoreRouter(setup.fee_model, setup.params)
        return setup

    def process(self, market: MarketData, i: int, setup: Any, observer: Any) -> BookBar | None:
        """Process closed bar ``i`` of ``market`` (fill the last decision, decide, record).

        Args:
            market: The candles.
            i: The closed bar.
            setup: ``market``'s env setup (:meth:`_setup_of`).
            observer: An ``Observer`` of its features.

        Returns:
            The bar's figures, or None for the book's first bar (a decision only).

        Raises:
            DataError: If bar ``i`` does not follow the book's last bar.
        """
        n = market.n_assets
        state = self.book.account()
        t_ns = to_ns(market.timestamps[i])
        if state is None:
            weights, age_frac = np.zeros(n), np.zeros(n)
            from cappuccino_ray.paper.orders import fresh_account

            account, bar = fresh_account(n, setup.params), None
            fills: tuple[Any, ...] = ()
        else:
            last, started, prev, pending = state
            if i < 1 or to_ns(market.timestamps[i - 1]) != last:
                raise DataError(
                    f"bar {iso_ns(t_ns)} does not follow the book's last bar {iso_ns(last)}; "
                    "the candles changed or have a hole"
                )
            if pending is None:
                raise DataError(f"the book has no decision for bar {iso_ns(last)}; it is damaged")
            rows = slice(i - 1, i + 1)
            assert self.router is not None  # set with the setup
            ex = self.router.execute(
                prev if started else None,
                pending,
                (market.open[rows], market.close[rows], market.tradable[rows]),
                self.symbols or tuple(market.symbols),
            )
            r = ex.result
            account, fills = ex.account, ex.fills
            weights, age_frac = account.weights, ex.age_fraction
            bar = BookBar(
                bar_time=t_ns,
                bar_iso=iso_ns(t_ns),
                equity=float(r.value[0]),
                benchmark=ex.benchmark,
                cash=float(r.cash[0]),
                fees=float(r.fees[0]),
                traded=float(r.traded[0]),
                n_trades=int(r.n_trades[0]),
                n_forced=int(r.forced[:, 0].sum()),
                fee_tier=int(r.tier[0]),
                fee_rate=float(r.rate[0]),
                volume_30d=float(r.volume_30d[0]),
            )
        obs = observer.build(np.array([i]), np.asarray(weights)[:, None], np.asarray(age_frac)[:, None])[0]
        target = self.agent.target_weights(obs)
        self.book.record_bar(
            bar_time=t_ns,
            started=state is not None,
            account=account,
            pending=target,
            symbols=self.symbols or tuple(market.symbols),
            bar=bar,
            fills=fills,
        )
        if bar is not None and self.on_bar is not None:
            self.on_bar(bar)
        return bar

    def run(
        self,
        market: MarketData,
        *,
        start: int | None = None,
        until: int | None = None,
        stop: StopFlag | None = None,
    ) -> int:
        """Process every bar of ``market`` after the book's last one, up to ``until``.

        Args:
            market: Closed candles of the checkpoint's symbols (a replay folder or the store).
            start: First decision bar of a new book (default: the first warmed-up bar).
            until: Last bar to process (default: the last bar of ``market``).
            stop: Checked between bars.

        Returns:
            The number of bars processed.
        """
        from cappuccino_ray.env.setup import Observer

        check_market(self.spec, market)
        setup = self._setup_of(market)
        observer = Observer(setup.features, self.settings.lookback)
        state = self.book.account()
        lo = int(setup.warmup + self.settings.lookback - 1)  # the first bar that can decide
        if state is None:
            i0 = lo if start is None else max(start, lo)
        else:
            idx = int(np.searchsorted(market.timestamps, np.datetime64(state[0], "ns")))
            if idx >= market.n_bars or to_ns(market.timestamps[idx]) != state[0]:
                raise DataError(
                    f"the book's last bar {iso_ns(state[0])} is not in these candles "
                    f"({iso_ns(to_ns(market.timestamps[0]))}..{iso_ns(to_ns(market.timestamps[-1]))})"
                )
            i0 = idx + 1
        hi = market.n_bars - 1 if until is None else min(until, market.n_bars - 1)
        done = 0
        for i in range(i0, hi + 1):
            if stop is not None and stop.set:
                break
            self.process(market, i, setup, observer)
            done += 1
        return done
