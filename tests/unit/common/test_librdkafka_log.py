import logging

import pytest

from services.common.librdkafka_log import RepeatedLines

REFUSED = (
    "FAIL [x#producer-1] [thrd:127.0.0.1:1/bootstrap]: 127.0.0.1:1/bootstrap: "
    "Connect to ipv4#127.0.0.1:1 failed: Connection refused (after {ms}ms in state CONNECT)"
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def line(text: str) -> logging.LogRecord:
    return logging.LogRecord("librdkafka", logging.ERROR, __file__, 1, text, (), None)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_failure_repeated_within_the_window_is_held_back_whatever_its_timing(
    clock: Clock,
) -> None:
    repeats = RepeatedLines(window_seconds=60, clock=clock)

    assert repeats.filter(line(REFUSED.format(ms=0)))
    clock.now += 0.2
    assert not repeats.filter(line(REFUSED.format(ms=1)))
    clock.now += 59
    assert not repeats.filter(line(REFUSED.format(ms=0)))


def test_the_first_line_after_the_window_counts_what_was_held_back(clock: Clock) -> None:
    repeats = RepeatedLines(window_seconds=60, clock=clock)
    repeats.filter(line(REFUSED.format(ms=0)))
    for _ in range(36):
        clock.now += 1
        repeats.filter(line(REFUSED.format(ms=0)))

    clock.now += 30
    record = line(REFUSED.format(ms=3))
    assert repeats.filter(record)
    assert record.getMessage().endswith("(36 more like it in the last 60 s)")

    clock.now += 1
    assert not repeats.filter(line(REFUSED.format(ms=0)))


def test_different_lines_are_each_let_through(clock: Clock) -> None:
    repeats = RepeatedLines(clock=clock)

    assert repeats.filter(line(REFUSED.format(ms=0)))
    assert repeats.filter(line(REFUSED.format(ms=0).replace("127.0.0.1:1", "10.0.0.2:9092")))
    assert repeats.filter(line("partition 3 paused"))


def test_it_forgets_the_oldest_lines_beyond_its_capacity(clock: Clock) -> None:
    repeats = RepeatedLines(capacity=2, clock=clock)
    for text in ("a", "b", "c"):
        assert repeats.filter(line(text))

    assert repeats.filter(line("a"))  # forgotten, so shown again
    assert not repeats.filter(line("c"))
