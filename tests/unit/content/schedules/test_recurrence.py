"""Occurrence expansion: wall-clock times that hold across DST, and RFC 5545's rules for the
hour that does not exist in spring and the hour that happens twice in autumn."""

from datetime import UTC, datetime, time

import pytest

from services.content.schedules.recurrence import InvalidRecurrence, parse


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def instants(timezone: str, start: datetime, rule: str, frm: datetime, to: datetime) -> list:
    rec = parse(timezone=timezone, starts_at=start, rule=rule)
    return [(o.local.replace(tzinfo=None), o.utc) for o in rec.between(frm, to)]


def test_shanghai_weekday_discussion_has_no_dst() -> None:
    found = instants(
        "Asia/Shanghai",
        datetime(2026, 3, 2, 19, 20),
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
        utc(2026, 3, 1),
        utc(2026, 3, 10),
    )
    assert [local.day for local, _ in found] == [2, 3, 4, 5, 6, 9]
    assert all(u.hour == 11 and u.minute == 20 for _, u in found)  # always UTC+8


def test_new_york_wall_clock_holds_across_spring_forward() -> None:
    found = instants(
        "America/New_York",
        datetime(2026, 3, 6, 19, 20),
        "FREQ=DAILY;COUNT=4",
        utc(2026, 3, 1),
        utc(2026, 4, 1),
    )
    assert [local.hour for local, _ in found] == [19, 19, 19, 19]
    # EST (UTC-5) until 8 March 2026, EDT (UTC-4) from then on.
    assert [u.hour for _, u in found] == [0, 0, 23, 23]


def test_new_york_missing_hour_fires_with_the_offset_before_the_gap() -> None:
    found = instants(
        "America/New_York",
        datetime(2026, 3, 7, 2, 30),
        "FREQ=DAILY;COUNT=3",
        utc(2026, 3, 1),
        utc(2026, 4, 1),
    )
    # 02:30 does not exist on 8 March: RFC 5545 reads it as 02:30 EST = 07:30 UTC = 03:30 EDT.
    assert found[1] == (datetime(2026, 3, 8, 3, 30), utc(2026, 3, 8, 7, 30))
    assert found[2] == (datetime(2026, 3, 9, 2, 30), utc(2026, 3, 9, 6, 30))


def test_new_york_repeated_hour_fires_once_at_the_first() -> None:
    found = instants(
        "America/New_York",
        datetime(2026, 10, 31, 1, 30),
        "FREQ=DAILY;COUNT=3",
        utc(2026, 10, 1),
        utc(2026, 12, 1),
    )
    # 01:30 happens twice on 1 November; the first (EDT, UTC-4) is the one.
    assert [u for _, u in found] == [
        utc(2026, 10, 31, 5, 30),
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 2, 6, 30),
    ]


def test_berlin_missing_and_repeated_hours() -> None:
    spring = instants(
        "Europe/Berlin",
        datetime(2026, 3, 28, 2, 30),
        "FREQ=DAILY;COUNT=3",
        utc(2026, 3, 1),
        utc(2026, 4, 1),
    )
    # 29 March 2026: 02:00 CET jumps to 03:00 CEST; 02:30 is read as 02:30 CET = 01:30 UTC.
    assert spring[1] == (datetime(2026, 3, 29, 3, 30), utc(2026, 3, 29, 1, 30))
    autumn = instants(
        "Europe/Berlin",
        datetime(2026, 10, 24, 2, 30),
        "FREQ=DAILY;COUNT=3",
        utc(2026, 10, 1),
        utc(2026, 11, 1),
    )
    # 25 October 2026: 02:30 happens in CEST then CET; it fires once, at the first (00:30 UTC).
    assert [u for _, u in autumn] == [
        utc(2026, 10, 24, 0, 30),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 26, 1, 30),
    ]


def test_two_wall_times_on_one_instant_fire_once() -> None:
    found = instants(
        "America/New_York",
        datetime(2026, 3, 8, 2, 30),
        "FREQ=HOURLY;BYHOUR=2,3;BYMINUTE=30;COUNT=2",
        utc(2026, 3, 1),
        utc(2026, 4, 1),
    )
    assert [u for _, u in found] == [utc(2026, 3, 8, 7, 30)]


def test_exdates_and_quiet_hours_are_left_out() -> None:
    rec = parse(
        timezone="Asia/Shanghai",
        starts_at=datetime(2026, 3, 1, 6, 0),
        rule="FREQ=HOURLY;INTERVAL=6;COUNT=8",
        exdates=[datetime(2026, 3, 1, 12, 0)],
        quiet_start=time(22, 0),
        quiet_end=time(7, 0),
    )
    found = [o.local.hour for o in rec.between(utc(2026, 2, 28), utc(2026, 3, 3))]
    assert found == [18, 12, 18]  # 06:00, 00:00 quiet; 12:00 on the 1st excluded


def test_one_off_and_first_after() -> None:
    rec = parse(timezone="Europe/Berlin", starts_at=datetime(2026, 7, 1, 9, 0), rule=None)
    assert rec.first_after(utc(2026, 6, 1)).utc == utc(2026, 7, 1, 7, 0)  # type: ignore[union-attr]
    assert rec.first_after(utc(2026, 7, 1, 7, 0)) is None
    assert rec.first_after(utc(2026, 7, 1, 7, 0), inclusive=True) is not None


def test_until_in_utc_is_read_as_local_wall_time() -> None:
    rec = parse(
        timezone="America/New_York",
        starts_at=datetime(2026, 1, 1, 9, 0),
        rule="FREQ=DAILY;UNTIL=20260103T140000Z",  # 09:00 EST on 3 January
    )
    assert len(rec.between(utc(2025, 12, 1), utc(2026, 2, 1))) == 3


@pytest.mark.parametrize(
    ("timezone", "rule", "field", "words"),
    [
        ("Mars/Olympus", "FREQ=DAILY", "timezone", "IANA"),
        ("Asia/Shanghai", "FREQ=FORTNIGHTLY", "rrule", "RRULE"),
        ("Asia/Shanghai", "FREQ=DAILY;UNTIL=20250101T000000", "rrule", "before DTSTART"),
        ("Asia/Shanghai", "FREQ=MINUTELY", "rrule", "FREQ must be"),
        ("Asia/Shanghai", "FREQ=DAILY;COUNT=3;UNTIL=20270101T000000", "rrule", "not both"),
        ("Asia/Shanghai", "DTSTART:20260101T000000\nRRULE:FREQ=DAILY", "rrule", "one RRULE"),
    ],
)
def test_bad_recurrences_name_the_field(timezone: str, rule: str, field: str, words: str) -> None:
    with pytest.raises(InvalidRecurrence) as caught:
        parse(timezone=timezone, starts_at=datetime(2026, 3, 1, 8, 0), rule=rule)
    assert caught.value.field == field
    assert words in caught.value.reason
