"""Five-field cron expressions evaluated in an IANA time zone, with cron's daylight-saving rules.

A wall time that does not exist (clocks jump forward over it) runs at the first
instant after the jump; a wall time that happens twice (clocks fall back) runs
once, at its first occurrence.

The type lives here, below both ``config`` (which checks a cron string when the
schedule file loads) and ``ops`` (which computes next runs), so that neither
package imports the other for it. The project keeps its own parser: neither
croniter nor cronsim is installed with the project's dependencies, and this
one gives a one-line error naming the bad field and its allowed range, and
applies the DST rules above (tested against a brute-force search).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cappuccino_ray.errors import ConfigError

__all__ = ["CronExpr", "aware_utc", "resolve_wall_time"]

_WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Far enough to find Feb 29 or "31 in a 30-day month" combinations; nothing later can match.
_SEARCH_DAYS = 366 * 8
_FIELDS: tuple[tuple[str, int, int], ...] = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
_MONTH_NAMES = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
_DOW_NAMES = {d: (i + 1) % 7 for i, d in enumerate(_WEEKDAY_NAMES)}  # cron: 0 = Sunday


def resolve_wall_time(naive: datetime, tz: ZoneInfo) -> datetime:
    """Turn a local wall-clock time into an aware UTC instant, applying the DST rules.

    Args:
        naive: Wall-clock time without tzinfo.
        tz: Its time zone.

    Returns:
        The UTC instant: the first occurrence of an ambiguous time, the end of
        the jump for a time skipped by the clocks going forward.
    """
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first
    # Skipped: the instant of the jump is between the two readings of the wall time.
    lo = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    hi = first
    lo, hi = min(lo, hi), max(lo, hi)
    t = lo
    while t <= hi:
        if t.astimezone(tz).replace(tzinfo=None) > naive:
            return t
        t += timedelta(minutes=1)
    return hi  # pragma: no cover - a gap is always inside [lo, hi]


def _parse_field(text: str, name: str, lo: int, hi: int, names: Mapping[str, int]) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ConfigError(f"cron {name} field {text!r} has an empty list item")
        body, _, step_txt = part.partition("/")
        step = 1
        if step_txt:
            if not step_txt.isdigit() or int(step_txt) == 0:
                raise ConfigError(f"cron {name} step {step_txt!r} must be a whole number >= 1")
            step = int(step_txt)
        if body == "*":
            start, stop = lo, hi
        elif "-" in body:
            a, _, b = body.partition("-")
            start, stop = _value(a, name, lo, hi, names), _value(b, name, lo, hi, names)
            if start > stop:
                raise ConfigError(f"cron {name} range {body!r} runs backwards; write it low-high")
        else:
            start = _value(body, name, lo, hi, names)
            stop = hi if step_txt else start
        values.update(range(start, stop + 1, step))
    return frozenset(values)


def _value(text: str, name: str, lo: int, hi: int, names: Mapping[str, int]) -> int:
    key = text.lower()
    if key in names:
        return names[key]
    if not text.isdigit():
        raise ConfigError(f"cron {name} value {text!r} is not a number (allowed {lo}-{hi})")
    v = int(text)
    if not lo <= v <= hi:
        raise ConfigError(f"cron {name} value {v} is out of range; allowed {lo}-{hi}")
    return v


@dataclass(frozen=True)
class CronExpr:
    """A parsed five-field cron expression evaluated in a time zone.

    Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or
    jan-dec), day of week (0-7 or sun-sat; 0 and 7 are Sunday). Each field
    takes ``*``, values, lists (``1,15``), ranges (``1-5``) and steps
    (``*/15``, ``10-50/20``, ``5/10``). As in classic cron, when both day
    fields are restricted a day matches if either does.
    """

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    doms: frozenset[int]
    months: frozenset[int]
    dows: frozenset[int]
    dom_any: bool
    dow_any: bool
    tz: ZoneInfo

    @classmethod
    def parse(cls, text: str, tz: str | ZoneInfo = "UTC") -> CronExpr:
        """Parse ``text``; raise :class:`ConfigError` saying which field is wrong and why."""
        parts = text.split()
        if len(parts) != 5:
            raise ConfigError(
                f"cron expression {text!r} has {len(parts)} fields; write five: "
                "minute hour day-of-month month day-of-week, e.g. '0 2 * * 0'"
            )
        names: list[Mapping[str, int]] = [{}, {}, {}, _MONTH_NAMES, _DOW_NAMES]
        sets = [
            _parse_field(p, name, lo, hi, n)
            for p, (name, lo, hi), n in zip(parts, _FIELDS, names, strict=True)
        ]
        dows = frozenset(d % 7 for d in sets[4])
        zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        dom_any, dow_any = parts[2].startswith("*"), parts[4].startswith("*")
        expr = cls(text, sets[0], sets[1], sets[2], sets[3], dows, dom_any, dow_any, zone)
        if not any(expr._day_matches(date(2000, 1, 1) + timedelta(days=i)) for i in range(366 * 4)):
            raise ConfigError(f"cron expression {text!r} never fires (e.g. 30 February); fix the day fields")
        return expr

    def _day_matches(self, d: date) -> bool:
        if d.month not in self.months:
            return False
        dom_ok = d.day in self.doms
        dow_ok = (d.isoweekday() % 7) in self.dows
        if self.dom_any or self.dow_any:
            return dom_ok and dow_ok
        return dom_ok or dow_ok

    def next_after(self, after: datetime) -> datetime:
        """The first firing strictly after ``after``, as an aware UTC datetime."""
        after_utc = aware_utc(after)
        day = after_utc.astimezone(self.tz).date() - timedelta(days=1)  # a skipped hour may move back
        times = sorted(time(h, m) for h in self.hours for m in self.minutes)
        for i in range(_SEARCH_DAYS):
            d = day + timedelta(days=i)
            if not self._day_matches(d):
                continue
            for t in times:
                when = resolve_wall_time(datetime.combine(d, t), self.tz)
                if when > after_utc:
                    return when
        raise ConfigError(f"cron expression {self.text!r} has no run in the next {_SEARCH_DAYS} days")

    def describe(self) -> str:
        """One human line."""
        return f"cron '{self.text}' ({self.tz.key})"


def aware_utc(dt: datetime) -> datetime:
    """``dt`` in UTC; a naive datetime is refused (a schedule needs to know its zone).

    Raises:
        ConfigError: If ``dt`` has no time zone.
    """
    if dt.tzinfo is None:
        raise ConfigError(f"datetime {dt.isoformat()} has no time zone; pass an aware datetime")
    return dt.astimezone(UTC)
