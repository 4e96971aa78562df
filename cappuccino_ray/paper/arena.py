"""Champion vs challenger on paper: promotion earned over a window, demotion on paper losses.

The arena folder holds two books fed the same candles::

    <arena>/champion/     the book of the current deployment
    <arena>/challenger/   the book of the proposed run's winner (if any)
    <arena>/retired/      books of former champions and challengers
    <arena>/arena.json    the challenger: run id, report and checkpoint

:meth:`Arena.propose` takes a run whose winner passes the gate: it is deployed
at once when nothing is deployed, else it becomes the challenger (a newer one
replaces it). :meth:`Arena.adopt_scheduled` proposes the scheduler's gated
winners that it did not deploy itself (``auto_deploy: false``). After each
:meth:`Arena.step` (new closed bars into both books), the rules of
:class:`~cappuccino_ray.config.paper.PromotionConfig` are applied in order:

1. nothing deployed and a challenger waiting: promote it;
2. the champion's paper drawdown reaches ``demote_drawdown``, or its return
   trails buy-and-hold's by ``demote_lag``: demote it (roll back to the
   previous deployment, or pause: nothing current);
3. after ``min_bars`` common bars, a challenger whose paper Sharpe beats the
   champion's by more than ``sharpe_margin`` without a drawdown more than
   ``max_drawdown_excess`` deeper: promote it (deployed through the gate).

Every promotion and demotion is appended to the deployments' ``history.jsonl``
with its reason and notified.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cappuccino_ray.atomic import write_json_atomic
from cappuccino_ray.config.paper import PromotionConfig
from cappuccino_ray.data.market import MarketData
from cappuccino_ray.errors import CappuccinoError, DeployError
from cappuccino_ray.ops.state import now_utc, read_json
from cappuccino_ray.paper.book import Book
from cappuccino_ray.paper.engine import PaperEngine

__all__ = ["Arena", "Verdict", "judge_demotion", "judge_promotion", "run_arena"]

ARENA_FILE = "arena.json"


@dataclass(frozen=True)
class Verdict:
    """A rule's decision and why."""

    action: str
    """``none``, ``promote`` or ``demote``."""
    reason: str
    """One line for the history and the notification."""


def _series(bars: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([b[key] for b in bars], dtype=np.float64)


def judge_promotion(
    champion: list[dict[str, Any]], challenger: list[dict[str, Any]], cfg: PromotionConfig, interval: str
) -> Verdict:
    """Compare both books on the bars they share (rule 3 of the module docstring)."""
    from cappuccino_ray.validation import segment_metrics

    ch_by = {b["bar_time"]: b for b in challenger}
    common = [b for b in champion if b["bar_time"] in ch_by]
    if len(common) < cfg.min_bars:
        return Verdict("none", f"{len(common)} of {cfg.min_bars} bars side by side")
    cp = segment_metrics(_series(common, "equity"), interval=interval)
    cc = segment_metrics(_series([ch_by[b["bar_time"]] for b in common], "equity"), interval=interval)
    text = (
        f"over {len(common)} bars: challenger Sharpe {cc.sharpe:.3f}, drawdown {cc.max_drawdown:.1%}; "
        f"champion Sharpe {cp.sharpe:.3f}, drawdown {cp.max_drawdown:.1%}"
    )
    if (
        cc.sharpe > cp.sharpe + cfg.sharpe_margin
        and cc.max_drawdown <= cp.max_drawdown + cfg.max_drawdown_excess
    ):
        return Verdict("promote", f"challenger beats the champion {text}")
    return Verdict("none", f"challenger does not beat the champion {text}")


def judge_demotion(champion: list[dict[str, Any]], cfg: PromotionConfig, initial_cash: float) -> Verdict:
    """The champion's paper drawdown and lag behind buy-and-hold (rule 2 of the module docstring)."""
    if not champion:
        return Verdict("none", "no paper bars yet")
    eq = _series(champion, "equity")
    peak = max(initial_cash, float(eq.max()))
    dd = 1.0 - float(eq[-1]) / peak
    ret = float(eq[-1]) / initial_cash - 1.0
    bh = float(champion[-1]["benchmark"]) / initial_cash - 1.0
    if dd >= cfg.demote_drawdown:
        return Verdict("demote", f"paper drawdown {dd:.1%} reached the limit {cfg.demote_drawdown:.1%}")
    if bh - ret >= cfg.demote_lag:
        return Verdict(
            "demote",
            f"paper return {ret:+.1%} trails buy-and-hold {bh:+.1%} by {bh - ret:.1%}"
            f" (limit {cfg.demote_lag:.1%})",
        )
    return Verdict("none", f"paper drawdown {dd:.1%}, return {ret:+.1%} vs buy-and-hold {bh:+.1%}")


class Arena:
    """Paper-trades the champion and a challenger side by side and applies the promotion rule.

    Args:
        root: The arena folder.
        settings: The scheduler's :class:`~cappuccino_ray.ops.scheduler.OpsSettings`
            (deployments, gate, promotion rule, notifications).
    """

    def __init__(self, root: str | Path, settings: Any) -> None:
        """Open the arena (created if needed)."""
        from cappuccino_ray.ops.notify import Notifier

        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.settings = settings
        self.cfg: PromotionConfig = settings.deploy.promotion
        self.deployer = settings.deployer()
        self.notifier = Notifier(settings.deploy.notify, settings.paths.notifications)
        path = self.root / ARENA_FILE
        self.state: dict[str, Any] = read_json(path) if path.is_file() else {"challenger": None}
        self._open: dict[str, tuple[Book, PaperEngine]] = {}
        #: Each open book's bars, read once when it opens and extended by its engine bar by bar.
        self._bars: dict[str, list[dict[str, Any]]] = {}

    # -- challengers -------------------------------------------------------------------------------
    def propose(self, run: str | Path) -> str:
        """Take a run's winner: deployed at once if nothing is deployed, else the new challenger.

        Returns:
            ``promoted`` or ``challenger``.

        Raises:
            DeployError: If the run failed or its winner fails the gate (with the reasons).
        """
        from cappuccino_ray.paper.promotion import gated_report

        report_path, report, gate = gated_report(run, self.settings)
        if self.deployer.current_id() is None:
            self._promote(report_path, report, gate, "nothing was deployed")
            return "promoted"
        self._retire("challenger")
        self.state["challenger"] = {
            "run_id": report.get("run_id"),
            "report_path": str(report_path.resolve()),
            "since": now_utc().isoformat(),
        }
        self._save()
        self.notifier.notify(
            "challenger",
            f"run {report.get('run_id')} paper-trades as challenger",
            run_id=report.get("run_id"),
        )
        return "challenger"

    def adopt_scheduled(self) -> list[str]:
        """Propose the scheduler's new gated, undeployed winners (``auto_deploy: false``), oldest first.

        Returns:
            The run ids proposed now (each scheduled run is looked at once).
        """
        from cappuccino_ray.ops.state import SchedulerState

        seen = set(self.state.get("adopted") or [])
        out: list[str] = []
        for rec in SchedulerState(self.settings.paths.state).history:
            rid = rec.get("run_id")
            gate = rec.get("gate") or {}
            if rid in seen or rec.get("outcome") != "succeeded" or not gate.get("passed"):
                continue
            seen.add(rid)
            self.state["adopted"] = sorted(seen)
            self._save()
            if rec.get("deployed") or not rec.get("report_path"):
                continue  # the scheduler deployed it itself
            try:
                self.propose(rec["report_path"])
            except CappuccinoError as exc:
                self.notifier.notify("paper_error", f"scheduled run {rid} not proposed: {exc}", run_id=rid)
                continue
            out.append(str(rid))
        return out

    # -- bars --------------------------------------------------------------------------------------
    def step(self, market: MarketData, until: int | None = None) -> Verdict:
        """Feed new closed bars to both books, then apply the rules once.

        Args:
            market: Closed candles (a new book starts at the last bar processed).
            until: The last closed bar (default: the market's last); a replay passes the whole
                market and moves this, so features are computed once per replay, not per bar.

        Returns:
            What was done and why.
        """
        last = market.n_bars - 1 if until is None else until
        current = self.deployer.current_id()
        if current is not None:
            engine = self._engine("champion", current, lambda: self.deployer.checkpoint_dir(current))
            engine.run(market, start=last, until=last)
        chall = self.state.get("challenger")
        if chall is not None:
            engine = self._engine(
                "challenger", chall["report_path"], lambda: self._challenger_checkpoint(chall)
            )
            engine.run(market, start=last, until=last)
        if current is None:
            if chall is None:
                return Verdict("none", "nothing deployed and no challenger")
            report_path = Path(chall["report_path"])
            from cappuccino_ray.paper.promotion import gated_report

            _, report, gate = gated_report(report_path, self.settings)
            self._promote(report_path, report, gate, "nothing is deployed", from_book=True)
            return Verdict("promote", "nothing is deployed")
        champ_bars = self._bars["champion"]
        verdict = judge_demotion(champ_bars, self.cfg, self._initial("champion"))
        if verdict.action == "demote":
            self._demote(current, verdict.reason)
            return verdict
        if chall is None:
            return verdict
        verdict = judge_promotion(champ_bars, self._bars["challenger"], self.cfg, market.interval)
        if verdict.action == "promote":
            from cappuccino_ray.paper.promotion import gated_report

            report_path, report, gate = gated_report(Path(chall["report_path"]), self.settings)
            self._promote(report_path, report, gate, verdict.reason, from_book=True)
        return verdict

    def close(self) -> None:
        """Close both books."""
        for book, _ in self._open.values():
            book.close()
        self._open.clear()
        self._bars.clear()

    # -- internals ---------------------------------------------------------------------------------
    def _challenger_checkpoint(self, chall: dict[str, Any]) -> Path:
        from cappuccino_ray.paper.sources import resolve_checkpoint

        return resolve_checkpoint(Path(chall["report_path"]).parent)

    def _engine(self, slot: str, owner: str, checkpoint: Callable[[], Path]) -> PaperEngine:
        """The slot's engine; a book of another owner is retired first.

        ``checkpoint`` is called only when a new engine is opened (finding it verifies its files).
        """
        if slot in self._open:
            book, engine = self._open[slot]
            if book.meta().get("owner") == owner:
                return engine
            self._retire(slot)
        book = Book(self.root / slot)
        if book.meta().get("owner") not in (None, owner):
            book.close()
            self._retire(slot)
            book = Book(self.root / slot)
        bars = book.bars()
        engine = PaperEngine(checkpoint(), book, mode="arena", on_bar=lambda b: bars.append(asdict(b)))
        book.set_meta({"owner": owner})
        self._open[slot] = (book, engine)
        self._bars[slot] = bars
        return engine

    def _initial(self, slot: str) -> float:
        return float(self._open[slot][0].meta()["initial_cash"])

    def _retire(self, slot: str) -> None:
        self._bars.pop(slot, None)
        if slot in self._open:
            self._open.pop(slot)[0].close()
        src = self.root / slot
        if src.is_dir():
            dest = self.root / "retired" / f"{slot}-{now_utc():%Y%m%dT%H%M%S%fZ}"
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)

    def _history(self, action: str, dep_id: str | None, reason: str, **fields: Any) -> None:
        self.deployer.log(action, dep_id, reason=reason, **fields)

    def _promote(
        self, report_path: Path, report: Any, gate: Any, reason: str, *, from_book: bool = False
    ) -> None:
        before = self.deployer.current_id()
        manifest = self.deployer.deploy(report, gate=gate, report_path=report_path)
        self._history("promote", manifest["id"], reason, previous=before, run_id=report.get("run_id"))
        self.notifier.notify(
            "promoted", f"{manifest['id']} promoted: {reason}", deployment=manifest["id"], previous=before
        )
        self._retire("champion")
        if from_book:  # the challenger's paper record carries on as the champion's
            self._retire("challenger")
            with contextlib.suppress(FileNotFoundError):
                os.replace(self.root / "challenger", self.root / "champion")
            with Book(self.root / "champion") as book:
                book.set_meta({"owner": manifest["id"]})
        self.state["challenger"] = None
        self._save()

    def _demote(self, current: str, reason: str) -> None:
        how = self.cfg.on_demote
        target: str | None = None
        if how == "rollback":
            try:
                target = self.deployer.rollback()["id"]
            except DeployError:
                how = "pause"  # nothing earlier to roll back to
        if how == "pause":
            self.deployer.clear_current()
        self._history("demote", current, reason, outcome=how, current=target)
        self.notifier.notify(
            "demoted",
            f"{current} demoted ({how}{' to ' + target if target else ''}): {reason}",
            deployment=current,
        )
        self._retire("champion")

    def _save(self) -> None:
        write_json_atomic(self.root / ARENA_FILE, self.state)


def run_arena(arena: Arena, args: Any) -> list[dict[str, Any]]:
    """``paper arena run``: step the arena bar by bar over a replay folder, or poll the store (``--live``).

    Returns:
        Every promotion and demotion: ``{"bar", "action", "reason"}``.
    """
    from cappuccino_ray.paper.engine import StopFlag

    with StopFlag().installed() as stop:
        return _run_arena(arena, args, stop)


def _run_arena(arena: Arena, args: Any, stop: Any) -> list[dict[str, Any]]:
    import time

    from cappuccino_ray.paper.sources import (
        bar_index,
        iso_ns,
        load_candles,
        market_from_store,
        parse_time,
        to_ns,
    )

    until = parse_time(args.until)
    out: list[dict[str, Any]] = []

    def adopt() -> None:
        if args.from_scheduler:
            arena.adopt_scheduled()

    def record(when: Any, verdict: Verdict) -> None:
        if verdict.action != "none":
            out.append(
                {
                    "bar": iso_ns(to_ns(when)),
                    "action": verdict.action,
                    "reason": verdict.reason,
                }
            )

    if args.replay is not None:
        spec = _any_spec(arena)
        full = load_candles(args.replay, tuple(spec.symbols), spec.interval, spec.n_assets)
        first = bar_index(full, parse_time(args.start), side="start") or 0
        last = bar_index(full, until, side="end")
        for i in range(first, (full.n_bars - 1 if last is None else last) + 1):
            if stop.set:
                break
            adopt()
            record(full.timestamps[i], arena.step(full, until=i))
        return out
    while not stop.set:
        adopt()
        spec = _any_spec(arena)
        market = market_from_store(args.data_config, tuple(spec.symbols), spec.interval)
        record(market.timestamps[-1], arena.step(market))
        if until is not None and market.timestamps[-1] >= until:
            break
        deadline = time.monotonic() + args.poll_seconds
        while not stop.set and time.monotonic() < deadline:
            time.sleep(min(0.2, args.poll_seconds))
    return out


def _any_spec(arena: Arena) -> Any:
    """The agent description of the champion (or else the challenger): symbols and interval."""
    from cappuccino_ray.agents.checkpoint import read_agent_spec

    current = arena.deployer.current_id()
    if current is not None:
        return read_agent_spec(arena.deployer.checkpoint_dir(current))
    chall = arena.state.get("challenger")
    if chall is None:
        raise DeployError("nothing is deployed and there is no challenger; propose a run first")
    return read_agent_spec(arena._challenger_checkpoint(chall))
