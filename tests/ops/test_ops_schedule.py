"""Cron parsing and next-run computation, hand-computed, with DST and month-end clamping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cappuccino_ray.config import from_mapping
from cappuccino_ray.config.ops import ScheduleConfig
from cappuccino_ray.errors import ConfigError
from cappuccino_ray.ops.schedule import (
    CronExpr,
    apply_env_training,
    build_schedule,
    env_notification,
    read_env_file,
    resolve_wall_time,
    upcoming,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)  # type: ignore[misc]


def test_cron_fields_lists_ranges_steps_and_names() -> None:
    c = CronExpr.parse("*/15 9-17/4 1,15 jan-mar mon-fri")
    assert c.minutes == {0, 15, 30, 45}
    assert c.hours == {9, 13, 17}
    assert c.doms == {1, 15}
    assert c.months == {1, 2, 3}
    assert c.dows == {1, 2, 3, 4, 5}
    assert CronExpr.parse("5/20 * * * 7").minutes == {5, 25, 45}
    assert CronExpr.parse("0 0 * * 7").dows == {0}  # 7 is Sunday too


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("* * * *", "five"),
        ("60 * * * *", "minute value 60"),
        ("* 24 * * *", "hour value 24"),
        ("* * 0 * *", "day of month value 0"),
        ("* * * 13 *", "month value 13"),
        ("*/0 * * * *", "step"),
        ("5-1 * * * *", "backwards"),
        ("x * * * *", "not a number"),
        ("0 0 30 2 *", "never fires"),
        ("1,,2 * * * *", "empty"),
    ],
)
def test_cron_errors_say_what_is_wrong(text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        CronExpr.parse(text)


def test_cron_next_runs_hand_computed() -> None:
    c = CronExpr.parse("30 2 * * 1")  # Mondays 02:30 UTC
    # 2026-11-24 is a Tuesday -> next Monday is 2026-11-30.
    assert c.next_after(utc(2026, 11, 24, 12, 0)) == utc(2026, 11, 30, 2, 30)
    # Strictly after: exactly at a firing moves to the next week.
    assert c.next_after(utc(2026, 11, 30, 2, 30)) == utc(2026, 12, 7, 2, 30)
    c2 = CronExpr.parse("*/20 * * * *")
    assert upcoming(c2, 3, utc(2026, 1, 1, 10, 5)) == [
        utc(2026, 1, 1, 10, 20),
        utc(2026, 1, 1, 10, 40),
        utc(2026, 1, 1, 11, 0),
    ]
    # Year rollover and Feb 29: next 29 Feb after 2025 is 2028.
    assert CronExpr.parse("0 0 29 2 *").next_after(utc(2025, 3, 1)) == utc(2028, 2, 29)


def test_cron_day_of_month_or_day_of_week_when_both_restricted() -> None:
    # Classic cron: the 13th OR a Friday.
    c = CronExpr.parse("0 12 13 * 5")
    # From Mon 2026-11-09: Fri 13 Nov matches both; then Fri 20 Nov; then Fri 27 Nov; then Fri 4 Dec...
    got = upcoming(c, 4, utc(2026, 11, 9))
    assert got == [utc(2026, 11, 13, 12), utc(2026, 11, 20, 12), utc(2026, 11, 27, 12), utc(2026, 12, 4, 12)]
    # Only day-of-week restricted: AND with '*' day of month.
    assert CronExpr.parse("0 12 * * 3").next_after(utc(2026, 11, 9)) == utc(2026, 11, 11, 12)


def test_dst_spring_forward_skipped_time_runs_at_end_of_jump() -> None:
    # Europe/Berlin 2026-03-29: 02:00 CET -> 03:00 CEST. 02:30 does not exist.
    c = CronExpr.parse("30 2 * * *", BERLIN)
    assert c.next_after(utc(2026, 3, 28, 12)) == utc(2026, 3, 29, 1, 0)  # 03:00 CEST
    assert c.next_after(utc(2026, 3, 29, 1, 0)) == utc(2026, 3, 30, 0, 30)  # 02:30 CEST
    assert resolve_wall_time(datetime(2026, 3, 29, 2, 30), BERLIN) == utc(2026, 3, 29, 1, 0)
    # New York 2026-03-08: 02:00 EST -> 03:00 EDT.
    assert resolve_wall_time(datetime(2026, 3, 8, 2, 15), NEW_YORK) == utc(2026, 3, 8, 7, 0)


def test_dst_fall_back_repeated_time_runs_once() -> None:
    # Europe/Berlin 2026-10-25: 03:00 CEST -> 02:00 CET; 02:30 happens twice.
    c = CronExpr.parse("30 2 * * *", BERLIN)
    first = c.next_after(utc(2026, 10, 24, 12))
    assert first == utc(2026, 10, 25, 0, 30)  # 02:30 CEST, the first occurrence
    assert c.next_after(first) == utc(2026, 10, 26, 1, 30)  # not 01:30 UTC on the 25th
    # Every 30 minutes through the repeated hour: each wall time fires once.
    c2 = CronExpr.parse("*/30 1-3 25 10 *", BERLIN)
    got = upcoming(c2, 6, utc(2026, 10, 24, 12))
    assert got == [
        utc(2026, 10, 24, 23, 0),  # 01:00 CEST
        utc(2026, 10, 24, 23, 30),  # 01:30 CEST
        utc(2026, 10, 25, 0, 0),  # 02:00 CEST
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST
        utc(2026, 10, 25, 2, 0),  # 03:00 CET
        utc(2026, 10, 25, 2, 30),  # 03:30 CET
    ]


def cfg(**kw: object) -> ScheduleConfig:
    return from_mapping(ScheduleConfig, kw, source="test")


def test_weekly_schedule_in_a_time_zone() -> None:
    s = build_schedule(cfg(schedule="weekly", day="wednesday", time="18:45", timezone="America/New_York"))
    # Wed 2026-11-25 18:45 EST = 23:45 UTC
    assert s.next_after(utc(2026, 11, 24, 0)) == utc(2026, 11, 25, 23, 45)
    # Summer: EDT, 22:45 UTC
    assert s.next_after(utc(2026, 7, 1)) == utc(2026, 7, 1, 22, 45)
    assert "wednesday" in s.describe()


def test_monthly_schedule_clamps_to_month_end() -> None:
    s = build_schedule(cfg(schedule="monthly", day_of_month=31, time="06:00"))
    got = upcoming(s, 5, utc(2027, 12, 31, 7))
    assert got == [
        utc(2028, 1, 31, 6),
        utc(2028, 2, 29, 6),  # leap year
        utc(2028, 3, 31, 6),
        utc(2028, 4, 30, 6),
        utc(2028, 5, 31, 6),
    ]
    assert build_schedule(cfg(schedule="monthly", day_of_month=30)).next_after(utc(2026, 2, 1)) == utc(
        2026, 2, 28, 2
    )


def test_schedule_config_validation_messages() -> None:
    with pytest.raises(ConfigError, match="HH:MM"):
        cfg(time="25:00")
    with pytest.raises(ConfigError, match="IANA"):
        cfg(timezone="Mars/Olympus")
    with pytest.raises(ConfigError, match="five"):
        cfg(schedule="cron", cron="0 2 *")
    with pytest.raises(ConfigError, match="day"):
        cfg(day="funday")
    with pytest.raises(ConfigError, match="timezone"):
        cfg(timezon="UTC")


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ConfigError, match="time zone"):
        CronExpr.parse("0 0 * * *").next_after(datetime(2026, 1, 1))


def test_env_training_overrides_file_and_environment_overrides_env_file(tmp_path: object) -> None:
    from pathlib import Path

    env_file = Path(str(tmp_path)) / ".env.training"
    env_file.write_text(
        "# original system\n"
        "export TWO_PHASE_ENABLED=true\n"
        "TWO_PHASE_SCHEDULE=monthly\n"
        "TWO_PHASE_DAY=15\n"
        'TWO_PHASE_TIME="04:30"\n'
        "TWO_PHASE_MODE=full  # the whole search\n"
        "TWO_PHASE_AUTO_DEPLOY=false\n"
        "TWO_PHASE_NOTIFICATION=false\n"
        "UNRELATED=1\n"
    )
    assert read_env_file(env_file)["TWO_PHASE_TIME"] == "04:30"
    out = apply_env_training(ScheduleConfig(), env_file, environ={})
    assert (out.schedule, out.day_of_month, out.time, out.mode, out.auto_deploy) == (
        "monthly",
        15,
        "04:30",
        "full",
        False,
    )
    assert env_notification(True, env_file, environ={}) is False
    # The process environment wins over the file.
    out2 = apply_env_training(
        ScheduleConfig(), env_file, environ={"TWO_PHASE_MODE": "mini", "TWO_PHASE_DAY": "sat"}
    )
    assert out2.mode == "mini"
    assert out2.day == "saturday"
    daily = apply_env_training(
        ScheduleConfig(), None, environ={"TWO_PHASE_SCHEDULE": "daily", "TWO_PHASE_TIME": "07:05"}
    )
    assert (daily.schedule, daily.cron) == ("cron", "5 7 * * *")
    cron = apply_env_training(ScheduleConfig(), None, environ={"TWO_PHASE_SCHEDULE": "15 3 * * 1-5"})
    assert (cron.schedule, cron.cron) == ("cron", "15 3 * * 1-5")
    with pytest.raises(ConfigError, match="TWO_PHASE_AUTO_DEPLOY"):
        apply_env_training(ScheduleConfig(), None, environ={"TWO_PHASE_AUTO_DEPLOY": "maybe"})
    with pytest.raises(ConfigError, match="mode"):
        apply_env_training(ScheduleConfig(), None, environ={"TWO_PHASE_MODE": "huge"})


def _brute_next(minutes: set[int], hours: set[int], dows: set[int], after: datetime) -> datetime:
    t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while True:
        if t.minute in minutes and t.hour in hours and (t.isoweekday() % 7) in dows:
            return t
        t += timedelta(minutes=1)


@settings(max_examples=40, deadline=None)
@given(
    minutes=st.sets(st.integers(0, 59), min_size=1, max_size=4),
    hours=st.sets(st.integers(0, 23), min_size=1, max_size=3),
    dows=st.sets(st.integers(0, 6), min_size=1, max_size=3),
    offset_min=st.integers(0, 60 * 24 * 30),
)
def test_cron_matches_a_minute_by_minute_search(
    minutes: set[int], hours: set[int], dows: set[int], offset_min: int
) -> None:
    def join(xs: set[int]) -> str:
        return ",".join(map(str, sorted(xs)))

    text = f"{join(minutes)} {join(hours)} * * {join(dows)}"
    after = utc(2026, 1, 1) + timedelta(minutes=offset_min, seconds=17)
    assert CronExpr.parse(text).next_after(after) == _brute_next(minutes, hours, dows, after)
