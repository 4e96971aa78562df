"""Operations configuration: the retraining schedule, the deployment gate, notifications.

``configs/schedule.yaml`` loads into :class:`ScheduleConfig` and
``configs/deploy.yaml`` into :class:`DeployConfig` (which holds the
:class:`GateConfig` and :class:`NotifyConfig`). The original system's
``.env.training`` variables override the schedule file: see
:func:`cappuccino_ray.ops.schedule.apply_env_training`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cappuccino_ray.config._loader import bounds
from cappuccino_ray.config.paper import PromotionConfig
from cappuccino_ray.cron import CronExpr
from cappuccino_ray.errors import ConfigError

__all__ = ["WEEKDAYS", "DeployConfig", "GateConfig", "NotifyConfig", "ScheduleConfig"]

#: Day names accepted by ``day`` (weekly schedules), Monday first.
WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class ScheduleConfig:
    """When and how the scheduler daemon runs the two-phase job."""

    enabled: bool = True
    """False keeps the daemon alive but never starts a scheduled run (``run-now`` still works)."""
    schedule: Literal["weekly", "monthly", "cron"] = "weekly"
    """``weekly`` (``day`` + ``time``), ``monthly`` (``day_of_month`` + ``time``) or ``cron``."""
    day: str = field(default="sunday", metadata=bounds(choices=WEEKDAYS))
    """Weekday of a weekly run."""
    day_of_month: int = field(default=1, metadata=bounds(ge=1, le=31))
    """Day of a monthly run; a day past the month's end runs on its last day (31 -> Feb 28/29)."""
    time: str = "02:00"
    """Wall-clock time ``HH:MM`` of a weekly or monthly run, in ``timezone``."""
    cron: str = "0 2 * * 0"
    """Five-field cron expression (minute hour day-of-month month day-of-week) for ``schedule: cron``."""
    timezone: str = "UTC"
    """IANA time zone of ``time`` and ``cron`` (e.g. ``Europe/Berlin``); DST is handled."""
    mode: Literal["mini", "full"] = "mini"
    """``mini`` runs the quick job (``run --mini``), ``full`` the whole search."""
    auto_deploy: bool = True
    """Deploy a winner that passes the gate; False only records the gate decision."""
    command: tuple[str, ...] = ()
    """The job's command line; empty runs ``python -m cappuccino_ray run [--mini]``.

    Placeholders: ``{python}`` (this interpreter), ``{mode}``, ``{mini_flag}``
    (``--mini`` or dropped), ``{run_id}`` and ``{run_dir}`` (the directory the
    report is expected in; without it the newest fresh report under
    ``results_dir`` is used).
    """
    refresh: bool = True
    """Refresh the data before each run; False skips the step."""
    refresh_command: tuple[str, ...] = ()
    """The refresh step; empty = ``cappuccino-ray data download`` when the data source is the store
    (nothing for synthetic data). Placeholders: ``{python}``, ``{data_config}``."""
    data_config: str = "configs/data.yaml"
    """Data config whose last candle is checked for freshness before a run."""
    max_data_age_hours: float = field(default=48.0, metadata=bounds(ge=0.0))
    """Refuse to train when the last candle is older than this; 0 turns the check off."""
    results_dir: str = "results"
    """Where the job writes its runs (searched for the report)."""
    logs_dir: str = "logs"
    """PID file, lock, daemon log, run logs, state file and notifications live here."""
    run_timeout_hours: float = field(default=72.0, metadata=bounds(gt=0.0))
    """A job running longer than this is stopped and recorded as failed."""
    poll_seconds: float = field(default=30.0, metadata=bounds(gt=0.0, le=3600.0))
    """Longest sleep of the daemon loop between checks of the clock."""
    history_limit: int = field(default=200, metadata=bounds(ge=1))
    """Runs kept in the state file's history (oldest dropped first)."""

    def validate(self) -> None:
        """Consistency rules across keys."""
        if not _TIME_RE.match(self.time):
            raise ConfigError(f"time is {self.time!r}; write it as HH:MM in 24-hour form, e.g. '02:00'")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"timezone is {self.timezone!r}: not a known IANA zone; use e.g. 'UTC' or 'Europe/Berlin'"
            ) from exc
        if self.schedule == "cron":
            CronExpr.parse(self.cron)

    @property
    def hour_minute(self) -> tuple[int, int]:
        """``time`` as ``(hour, minute)``."""
        h, m = self.time.split(":")
        return int(h), int(m)


@dataclass(frozen=True)
class GateConfig:
    """Thresholds a winner must pass on the hold-out period before it is deployed."""

    beat_buy_and_hold: bool = True
    """Require the bot's hold-out Sharpe to exceed buy-and-hold's by more than ``sharpe_margin``."""
    sharpe_margin: float = 0.0
    """Extra Sharpe the bot must have over buy-and-hold."""
    max_pbo: float = field(default=0.2, metadata=bounds(ge=0.0, le=1.0))
    """Probability of backtest overfitting must be at most this (the in-sample best loses out of
    sample in at most one CSCV split in five)."""
    min_deflated_sharpe: float = field(default=0.95, metadata=bounds(ge=0.0, le=1.0))
    """Deflated Sharpe probability must be at least this (95 % that the true Sharpe is above
    what the best of that many unskilled trials would show)."""
    max_drawdown: float = field(default=0.5, metadata=bounds(gt=0.0, le=1.0))
    """Largest hold-out drawdown allowed, as a positive fraction (0.5 = -50 %)."""
    min_trades: int = field(default=10, metadata=bounds(ge=0))
    """Trades the winner must make on the hold-out: a Sharpe from a handful of trades is luck."""
    allow_missing: bool = False
    """True lets a missing (``null``) PBO or deflated Sharpe pass; False fails the gate."""


@dataclass(frozen=True)
class NotifyConfig:
    """Where run events go: always ``logs/notifications.jsonl``, optionally a webhook."""

    webhook: bool = True
    """Post events to the webhook when its URL variable is set (``TWO_PHASE_NOTIFICATION``)."""
    webhook_env: str = "CAPPUCCINO_WEBHOOK_URL"
    """Environment variable holding the webhook URL; the URL never lives in a committed file."""
    webhook_format: Literal["slack", "discord"] = "slack"
    """``slack`` posts ``{"text": ...}``, ``discord`` posts ``{"content": ...}``."""
    retries: int = field(default=3, metadata=bounds(ge=0, le=10))
    """Retries after a failed post (timeouts, connection errors, 5xx, 429)."""
    backoff_s: float = field(default=1.0, metadata=bounds(ge=0.0, le=60.0))
    """First wait between attempts; doubles after each retry."""
    timeout_s: float = field(default=5.0, metadata=bounds(gt=0.0, le=120.0))
    """Timeout of one post."""


@dataclass(frozen=True)
class DeployConfig:
    """Where deployments live and what a checkpoint must hold to be deployed."""

    deployments_dir: str = "deployments"
    """Each deployment is ``<deployments_dir>/<id>/``; ``current`` links to the live one."""
    required_files: tuple[str, ...] = ()
    """Files that must exist in a checkpoint directory (besides it being non-empty)."""
    gate: GateConfig = field(default_factory=GateConfig)
    """Hold-out thresholds."""
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    """Notification settings."""
    promotion: PromotionConfig = field(default_factory=PromotionConfig)
    """Champion/challenger rule of paper trading (``cappuccino_ray.config.paper``)."""

    def validate(self) -> None:
        """Consistency rules across keys."""
        for name in self.required_files:
            if name.startswith("/") or ".." in name.split("/"):
                raise ConfigError(
                    f"required_files entry {name!r} must be a path inside the checkpoint, e.g. 'module_state'"
                )
