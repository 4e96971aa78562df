"""Next-run computation: weekly, monthly and five-field cron schedules in any time zone.

Schedules are wall-clock times in a configured IANA time zone. Daylight
saving time follows the classic cron rules:

* a wall time that does not exist (clocks jump forward over it) runs at the
  first instant after the jump (02:30 on a 02:00 -> 03:00 night runs at 03:00);
* a wall time that happens twice (clocks fall back) runs once, at its first
  occurrence.

Monthly schedules clamp the day to the month's end: ``day_of_month: 31``
runs on 30 April and on 28 (or 29) February.

The original system's ``.env.training`` variables are mapped onto a
:class:`~cappuccino_ray.config.ops.ScheduleConfig` by :func:`apply_env_training`.
"""

from __future__ import annotations

import calendar
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from cappuccino_ray.config._loader import from_mapping, to_dict
from cappuccino_ray.config.ops import WEEKDAYS, ScheduleConfig
from cappuccino_ray.cron import CronExpr, aware_utc, resolve_wall_time
from cappuccino_ray.errors import ConfigError

__all__ = [
    "ENV_TRAINING_KEYS",
    "CronExpr",
    "MonthlySchedule",
    "Schedule",
    "apply_env_training",
    "build_schedule",
    "read_env_file",
    "resolve_wall_time",
    "upcoming",
]

#: Variables of the original system's ``.env.training`` that are understood.
ENV_TRAINING_KEYS: tuple[str, ...] = (
    "TWO_PHASE_ENABLED",
    "TWO_PHASE_SCHEDULE",
    "TWO_PHASE_DAY",
    "TWO_PHASE_TIME",
    "TWO_PHASE_MODE",
    "TWO_PHASE_AUTO_DEPLOY",
    "TWO_PHASE_NOTIFICATION",
)


class Schedule(Protocol):
    """Anything that can say when it next fires."""

    def next_after(self, after: datetime) -> datetime:
        """The first run strictly after ``after`` (aware), as an aware UTC datetime."""
        ...

    def describe(self) -> str:
        """One human line, e.g. ``weekly on sunday at 02:00 (Europe/Berlin)``."""
        ...


@dataclass(frozen=True)
class MonthlySchedule:
    """Day of month + time, with the day clamped to the month's end."""

    day: int
    hour: int
    minute: int
    tz: ZoneInfo

    def next_after(self, after: datetime) -> datetime:
        """The first run strictly after ``after``, as an aware UTC datetime."""
        after_utc = aware_utc(after)
        local = after_utc.astimezone(self.tz)
        year, month = local.year, local.month - 1  # start one month back (time zone edges)
        for _ in range(15):
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            dom = min(self.day, calendar.monthrange(year, month)[1])
            when = resolve_wall_time(datetime(year, month, dom, self.hour, self.minute), self.tz)
            if when > after_utc:
                return when
        raise AssertionError("unreachable: a monthly schedule fires every month")  # pragma: no cover

    def describe(self) -> str:
        """One human line."""
        return (
            f"monthly on day {self.day} (clamped to the month's end) at "
            f"{self.hour:02d}:{self.minute:02d} ({self.tz.key})"
        )


@dataclass(frozen=True)
class _Weekly:
    cron: CronExpr
    day: str
    hhmm: str

    def next_after(self, after: datetime) -> datetime:
        return self.cron.next_after(after)

    def describe(self) -> str:
        return f"weekly on {self.day} at {self.hhmm} ({self.cron.tz.key})"


def build_schedule(cfg: ScheduleConfig) -> Schedule:
    """The :class:`Schedule` described by ``cfg``."""
    tz = ZoneInfo(cfg.timezone)
    hour, minute = cfg.hour_minute
    if cfg.schedule == "cron":
        return CronExpr.parse(cfg.cron, tz)
    if cfg.schedule == "monthly":
        return MonthlySchedule(cfg.day_of_month, hour, minute, tz)
    dow = (WEEKDAYS.index(cfg.day) + 1) % 7
    return _Weekly(CronExpr.parse(f"{minute} {hour} * * {dow}", tz), cfg.day, cfg.time)


def upcoming(schedule: Schedule, n: int, after: datetime) -> list[datetime]:
    """The next ``n`` runs after ``after`` (aware UTC datetimes)."""
    out: list[datetime] = []
    t = after
    for _ in range(n):
        t = schedule.next_after(t)
        out.append(t)
    return out


def read_env_file(path: str | Path) -> dict[str, str]:
    """Read ``KEY=value`` lines of a dotenv file (``#`` comments, ``export`` and quotes allowed)."""
    p = Path(path)
    if not p.is_file():
        return {}
    out: dict[str, str] = {}
    for n, raw in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{p}:{n}: expected KEY=value, got {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        out[key.strip()] = value
    return out


def _env_bool(key: str, value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{key}={value!r}: use true or false")


def _iter_env(env_file: str | Path | None, environ: Mapping[str, str] | None) -> Iterator[tuple[str, str]]:
    merged: dict[str, str] = read_env_file(env_file) if env_file else {}
    env = os.environ if environ is None else environ
    merged.update({k: v for k, v in env.items() if k in ENV_TRAINING_KEYS})
    for key in ENV_TRAINING_KEYS:
        if key in merged:
            yield key, merged[key]


def _apply_one(data: dict[str, Any], key: str, value: str) -> None:
    v = value.strip()
    if key == "TWO_PHASE_ENABLED":
        data["enabled"] = _env_bool(key, v)
    elif key == "TWO_PHASE_AUTO_DEPLOY":
        data["auto_deploy"] = _env_bool(key, v)
    elif key == "TWO_PHASE_TIME":
        data["time"] = v
    elif key == "TWO_PHASE_MODE":
        data["mode"] = v.lower()
    elif key == "TWO_PHASE_SCHEDULE":
        if v.lower() in ("weekly", "monthly", "cron"):
            data["schedule"] = v.lower()
        elif v.lower() == "daily":
            data["schedule"], data["cron"] = "cron", "__daily__"
        else:
            data["schedule"], data["cron"] = "cron", v
    elif key == "TWO_PHASE_DAY":
        if v.isdigit():
            data["day_of_month"] = int(v)
            return
        matches = [d for d in WEEKDAYS if d.startswith(v[:3].lower())] if len(v) >= 3 else []
        if not matches:
            raise ConfigError(f"TWO_PHASE_DAY={value!r}: use a weekday name or a day of month 1-31")
        data["day"] = matches[0]


def apply_env_training(
    cfg: ScheduleConfig,
    env_file: str | Path | None = ".env.training",
    environ: Mapping[str, str] | None = None,
) -> ScheduleConfig:
    """Override ``cfg`` with the original system's ``TWO_PHASE_*`` variables.

    Precedence: ``configs/schedule.yaml`` < the ``.env.training`` file < the
    process environment. ``TWO_PHASE_SCHEDULE`` is ``weekly``, ``monthly``,
    ``daily`` (a cron at ``TWO_PHASE_TIME`` every day) or a five-field cron
    expression; ``TWO_PHASE_DAY`` is a weekday name for weekly schedules and a
    day number for monthly ones. ``TWO_PHASE_NOTIFICATION`` switches the
    webhook; it is returned in the config's ``notify`` sense by the caller.

    Args:
        cfg: The schedule loaded from YAML.
        env_file: A dotenv file; missing is fine.
        environ: The environment (defaults to ``os.environ``).

    Returns:
        A validated copy of ``cfg`` with the overrides.
    """
    data: dict[str, Any] = to_dict(cfg)
    for key, value in _iter_env(env_file, environ):
        _apply_one(data, key, value)
    if data.get("cron") == "__daily__":
        h, _, m = str(data["time"]).partition(":")
        data["cron"] = f"{int(m)} {int(h)} * * *" if h.isdigit() and m.isdigit() else "0 0 * * *"
    return from_mapping(ScheduleConfig, data, source="schedule config + .env.training")


def env_notification(
    default: bool, env_file: str | Path | None = ".env.training", environ: Mapping[str, str] | None = None
) -> bool:
    """The ``TWO_PHASE_NOTIFICATION`` switch, or ``default`` when it is not set."""
    for key, value in _iter_env(env_file, environ):
        if key == "TWO_PHASE_NOTIFICATION":
            return _env_bool(key, value)
    return default
