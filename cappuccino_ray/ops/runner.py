"""One scheduled run: refresh data, check freshness, run the job, gate, deploy, record, notify.

:meth:`JobRunner.run_once` never raises for a failed run: every failure (data
refresh, stale data, the job's exit code, a missing or stale report, an
incomplete checkpoint) becomes a ``failed`` history entry with its reason and
a ``run_failed`` notification. The job runs as a subprocess in its own
process group, so stopping the scheduler stops the whole job.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cappuccino_ray.config._loader import load_config
from cappuccino_ray.config.data import DataConfig
from cappuccino_ray.config.ops import DeployConfig, ScheduleConfig
from cappuccino_ray.errors import CappuccinoError
from cappuccino_ray.ops.deploy import Deployer, check_report
from cappuccino_ray.ops.gate import evaluate_gate
from cappuccino_ray.ops.notify import Notifier
from cappuccino_ray.ops.state import OpsPaths, SchedulerState, now_utc, read_json, recover_stale_run
from cappuccino_ray.run_files import TRAINING_REPORT_FILE as REPORT_NAME

__all__ = ["REPORT_NAME", "JobRunner", "RunFailure", "last_candle_time"]

log = logging.getLogger(__name__)
DataClock = Callable[[], datetime | None]


class RunFailure(CappuccinoError):
    """A run step failed; the message is the reason recorded in the history."""


def last_candle_time(data_config: str | Path) -> datetime | None:
    """Open time (UTC) of the last candle the job would train on; None for synthetic data.

    Read from the store's metadata (no candles are loaded): the latest bar every
    symbol has, which is where the aligned market ends.

    Args:
        data_config: Path of the data config (``configs/data.yaml``).

    Returns:
        An aware UTC datetime, or None when the source is synthetic (no freshness to check).

    Raises:
        DataError: If a symbol's dataset is missing or unreadable.
    """
    cfg = load_config(DataConfig, data_config)
    if cfg.source == "synthetic":
        return None
    from cappuccino_ray.data.store import read_info

    lasts = [
        datetime.fromisoformat(read_info(cfg.store_dir, cfg.exchange, sym, cfg.base_interval).last)
        for sym in cfg.symbols
    ]
    return min(t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC) for t in lasts)


class JobRunner:
    """Runs the two-phase job once and records the outcome."""

    def __init__(
        self,
        cfg: ScheduleConfig,
        deploy_cfg: DeployConfig,
        *,
        root: str | Path = ".",
        data_clock: DataClock | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """Set up a runner.

        Args:
            cfg: Schedule settings (command, refresh step, freshness, folders).
            deploy_cfg: Deployment folder, checkpoint rules, gate and notification settings.
            root: Folder that relative paths in the configs are resolved from.
            data_clock: Returns the last candle's time; default reads ``cfg.data_config``.
            environ: Environment of the job and the webhook lookup (default ``os.environ``).
        """
        self.cfg = cfg
        self.deploy_cfg = deploy_cfg
        self.root = Path(root).resolve()
        self.paths = OpsPaths(self._path(cfg.logs_dir))
        self.environ = dict(os.environ if environ is None else environ)
        self.notifier = Notifier(deploy_cfg.notify, self.paths.notifications, environ=self.environ)
        self.deployer = Deployer(
            self._path(deploy_cfg.deployments_dir), required_files=deploy_cfg.required_files
        )
        self.data_clock: DataClock = data_clock or (lambda: last_candle_time(self._path(cfg.data_config)))
        self.stop_event = threading.Event()

    def _path(self, p: str | Path) -> Path:
        q = Path(p)
        return q if q.is_absolute() else self.root / q

    def command(self, run_id: str, run_dir: Path) -> list[str]:
        """The job's command line with placeholders filled in."""
        template = self.cfg.command or ("{python}", "-m", "cappuccino_ray", "run", "{mini_flag}")
        values = {
            "python": sys.executable,
            "mode": self.cfg.mode,
            "mini_flag": "--mini" if self.cfg.mode == "mini" else "",
            "run_id": run_id,
            "run_dir": str(run_dir),
        }
        return _fill(template, **values)

    def recover_stale(self, state: SchedulerState) -> dict[str, Any] | None:
        """Record a run left ``running`` by a dead process as failed and send ``run_failed``.

        Only call this while holding the scheduler lock (see :func:`recover_stale_run`).

        Returns:
            The failure record added to the history, or None if nothing was stale.
        """
        stale = recover_stale_run(state)
        if stale:
            rid = stale.get("run_id")
            log.warning("recorded interrupted run %s as failed", rid)
            self.notifier.notify("run_failed", f"run {rid} failed: {stale['reason']}", run_id=rid)
        return stale

    # -- the run ---------------------------------------------------------------------------------
    def run_once(self, state: SchedulerState, *, trigger: str = "schedule") -> dict[str, Any]:
        """Do one whole run and append its record to ``state``'s history.

        Args:
            state: The scheduler state (saved as the run progresses).
            trigger: ``schedule`` or ``manual``, recorded.

        Returns:
            The history record: outcome ``succeeded`` or ``failed`` (with ``reason``).
        """
        started = now_utc()
        run_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
        self.paths.runs.mkdir(parents=True, exist_ok=True)
        log_path = self.paths.runs / f"{run_id}.log"
        record: dict[str, Any] = {
            "run_id": run_id,
            "trigger": trigger,
            "mode": self.cfg.mode,
            "started_at": started.isoformat(),
            "owner_pid": os.getpid(),
            "log": str(log_path),
        }
        state.start_run(dict(record))
        self.notifier.notify(
            "run_started", f"{self.cfg.mode} run {run_id} started ({trigger})", run_id=run_id
        )
        try:
            self._run_steps(state, record, started, log_path)
            record["outcome"] = "succeeded"
        except RunFailure as exc:
            record.update(outcome="failed", reason=str(exc))
        except Exception as exc:  # a bug in a step must not kill the daemon; keep it in the record
            log.exception("run %s crashed", run_id)
            record.update(outcome="failed", reason=f"internal error: {type(exc).__name__}: {exc}")
        finished = now_utc()
        record.update(finished_at=finished.isoformat(), duration_s=(finished - started).total_seconds())
        state.finish_run(record)
        self._notify_end(record)
        return record

    def _notify_end(self, record: dict[str, Any]) -> None:
        rid = record["run_id"]
        if record["outcome"] == "failed":
            self.notifier.notify("run_failed", f"run {rid} failed: {record['reason']}", run_id=rid)
            return
        w = record.get("winner") or {}
        msg = (
            f"run {rid} finished in {record['duration_s']:.0f} s: winner {w.get('algorithm')} "
            f"{w.get('interval')} hold {w.get('holding_days')} d; deployed: {record.get('deployed') or 'no'}"
        )
        self.notifier.notify("run_finished", msg, run_id=rid, deployed=record.get("deployed"))

    def _run_steps(
        self, state: SchedulerState, record: dict[str, Any], started: datetime, log_path: Path
    ) -> None:
        run_id = record["run_id"]
        self._refresh_data(log_path)
        self._check_fresh(started)
        run_dir = self._path(self.cfg.results_dir) / "scheduled" / run_id
        cmd = self.command(run_id, run_dir)
        record["command"] = cmd
        self._run_job(state, cmd, log_path, run_id)
        uses_run_dir = any("{run_dir}" in part for part in (self.cfg.command or ()))
        report_path = run_dir / REPORT_NAME if uses_run_dir else self._find_report(started, state)
        if not report_path.is_file():
            raise RunFailure(f"the job exited cleanly but wrote no report at {report_path}")
        record["report_path"] = str(report_path)
        try:
            report = read_json(report_path)
            expected = run_id if any("{run_id}" in p for p in (self.cfg.command or ())) else None
            check_report(report, expected_run_id=expected, not_before=started)
        except CappuccinoError as exc:
            raise RunFailure(f"report {report_path}: {exc}") from exc
        record["pipeline_run_id"] = report.get("run_id")
        record["winner"] = report.get("winner")
        gate = evaluate_gate(report, self.deploy_cfg.gate)
        record["gate"] = gate.to_dict()
        if not gate.passed:
            self.notifier.notify(
                "gate_failed",
                f"winner of run {run_id} not deployed: " + "; ".join(gate.reasons),
                run_id=run_id,
                reasons=gate.reasons,
                current=self.deployer.current_id(),
            )
            record["deployed"] = None
            return
        self.notifier.notify("gate_passed", f"winner of run {run_id} passed the gate", run_id=run_id)
        if not self.cfg.auto_deploy:
            record["deployed"] = None
            return
        try:
            manifest = self.deployer.deploy(
                report, gate=gate, report_path=report_path, not_before=started, expected_run_id=None
            )
        except CappuccinoError as exc:
            raise RunFailure(f"deployment refused: {exc}") from exc
        record["deployed"] = manifest["id"]
        self.notifier.notify(
            "deployed",
            f"deployed {manifest['id']} ({manifest['algorithm']} {manifest['interval']})",
            run_id=run_id,
            deployment=manifest["id"],
            replaces=manifest.get("replaces"),
        )

    def refresh_command(self) -> list[str]:
        """The data refresh command, or ``[]`` when there is nothing to refresh."""
        if not self.cfg.refresh:
            return []
        data_config = self._path(self.cfg.data_config)
        template = self.cfg.refresh_command
        if not template:
            if not data_config.is_file() or load_config(DataConfig, data_config).source != "store":
                return []
            template = ("{python}", "-m", "cappuccino_ray", "data", "download", "--config", "{data_config}")
        return _fill(template, python=sys.executable, data_config=str(data_config))

    def _refresh_data(self, log_path: Path) -> None:
        cmd = self.refresh_command()
        if not cmd:
            return
        with log_path.open("a") as fh:
            fh.write(f"== data refresh: {' '.join(cmd)}\n")
            fh.flush()
            try:
                proc = subprocess.run(
                    cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=self.root, env=self.environ, timeout=3600
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise RunFailure(f"data refresh could not run ({exc}); fix refresh_command") from exc
        if proc.returncode != 0:
            raise RunFailure(f"data refresh exited with code {proc.returncode}; see {log_path}")

    def _check_fresh(self, now: datetime) -> None:
        if self.cfg.max_data_age_hours <= 0:
            return
        try:
            last = self.data_clock()
        except CappuccinoError as exc:
            raise RunFailure(f"could not read the data to check its freshness: {exc}") from exc
        if last is None:
            return
        age_h = (now - last).total_seconds() / 3600
        if age_h > self.cfg.max_data_age_hours:
            raise RunFailure(
                f"stale data: the last candle is from {last.isoformat()}, {age_h:.1f} h old "
                f"(max_data_age_hours {self.cfg.max_data_age_hours:g}); configure a download in "
                "refresh_command or raise max_data_age_hours"
            )

    def _run_job(self, state: SchedulerState, cmd: list[str], log_path: Path, run_id: str) -> None:
        env = dict(self.environ, CAPPUCCINO_RUN_ID=run_id)
        with log_path.open("a") as fh:
            fh.write(f"== job: {' '.join(cmd)}\n")
            fh.flush()
            try:
                proc = subprocess.Popen(
                    cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=self.root, env=env, start_new_session=True
                )
            except OSError as exc:
                raise RunFailure(f"the job could not start ({exc}); check the schedule's command") from exc
        state.update_current(job_pid=proc.pid, command=cmd)
        deadline = now_utc() + timedelta(hours=self.cfg.run_timeout_hours)
        while True:
            try:
                code = proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                pass
            if self.stop_event.is_set() or now_utc() > deadline:
                _stop_group(proc)
                why = "the scheduler was stopped" if self.stop_event.is_set() else "run_timeout_hours passed"
                raise RunFailure(f"cancelled: {why}; the job was stopped")
        if code != 0:
            raise RunFailure(f"the job exited with code {code}; see {log_path}")

    def _find_report(self, started: datetime, state: SchedulerState) -> Path:
        root = self._path(self.cfg.results_dir)
        seen = {r.get("report_path") for r in state.history}
        cutoff = started.timestamp() - 1
        fresh = (
            [p for p in root.rglob(REPORT_NAME) if p.stat().st_mtime >= cutoff and str(p) not in seen]
            if root.is_dir()
            else []
        )
        if not fresh:
            raise RunFailure(f"the job exited cleanly but wrote no new {REPORT_NAME} under {root}")
        return max(fresh, key=lambda p: p.stat().st_mtime)


def _stop_group(proc: subprocess.Popen[bytes], grace_s: float = 30.0) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def _fill(template: tuple[str, ...], **values: str) -> list[str]:
    """Fill ``{name}`` placeholders; empty results are dropped (e.g. ``{mini_flag}`` in full mode)."""
    out = []
    for part in template:
        try:
            text = part.format(**values)
        except (KeyError, IndexError, ValueError) as exc:
            known = ", ".join("{" + k + "}" for k in values)
            raise RunFailure(
                f"command part {part!r} has an unknown placeholder ({exc}); use {known}, double other braces"
            ) from exc
        if text:
            out.append(text)
    return out
