"""When SOP steps are due: "+2 h", "day N at HH:MM" in the community's zone, send windows."""

from datetime import UTC, datetime, time

from services.content.playbooks.models import SendWindow, Step
from services.content.playbooks.timing import due_at


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_hours_after_the_anchor() -> None:
    step = Step(content_item_id="cnt_1", after_minutes=120)
    assert due_at(step, anchored_at=utc(2026, 3, 1, 10), timezone="Asia/Shanghai") == utc(
        2026, 3, 1, 12
    )


def test_day_n_at_a_local_time() -> None:
    step = Step(content_item_id="cnt_1", day=1, at=time(9, 0))
    # Joined at 23:30 on 1 March in Shanghai (15:30 UTC): day 1 is 2 March, 09:00 local.
    assert due_at(step, anchored_at=utc(2026, 3, 1, 15, 30), timezone="Asia/Shanghai") == utc(
        2026, 3, 2, 1, 0
    )


def test_day_n_across_a_dst_change_keeps_the_wall_clock() -> None:
    step = Step(content_item_id="cnt_1", day=7, at=time(20, 0))
    # Berlin: joined 25 March (CET), day 7 is 1 April (CEST): 20:00 local is 18:00 UTC.
    assert due_at(step, anchored_at=utc(2026, 3, 25, 12), timezone="Europe/Berlin") == utc(
        2026, 4, 1, 18, 0
    )


def test_a_time_outside_the_send_window_moves_to_its_next_opening() -> None:
    window = SendWindow(start=time(9, 0), end=time(21, 0))
    step = Step(content_item_id="cnt_1", after_minutes=120, window=window)
    # Joined 20:30 local in Shanghai: +2 h is 22:30, outside; next opening is 09:00 next day.
    assert due_at(step, anchored_at=utc(2026, 3, 1, 12, 30), timezone="Asia/Shanghai") == utc(
        2026, 3, 2, 1, 0
    )
    # Joined 05:00 local: +2 h is 07:00, before the window opens that morning.
    assert due_at(step, anchored_at=utc(2026, 2, 28, 21, 0), timezone="Asia/Shanghai") == utc(
        2026, 3, 1, 1, 0
    )
