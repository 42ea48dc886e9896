"""Where librdkafka's own log lines go: one logger for every producer and consumer, which
lets the first of a run of identical lines through and holds back its repeats for a while.

A broker that is down is retried by every client at each reconnect backoff (100 ms to 1 s),
and librdkafka logs each failed attempt as an error: one producer wrote 37 identical lines
in 8 s, a service's clients 158 in a 10 s outage. What the operator needs is the first line
and then, while it lasts, a reminder with a count; the consumer's own warning says that
consumption paused, and readiness turns red."""

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

# The parts of a line that change between otherwise identical failures.
_VARYING = re.compile(r"\(after \d+ms in state \w+\)|\d+ms")


class RepeatedLines(logging.Filter):
    """Lets a line through, then drops lines identical to it (but for timings) for `window`
    seconds; the first one after that says how many were dropped. Remembers the `capacity`
    lines seen last, so varying lines cannot grow it without end."""

    def __init__(
        self,
        *,
        window_seconds: float = 60.0,
        capacity: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ):
        super().__init__()
        self._window = window_seconds
        self._capacity = capacity
        self._clock = clock
        self._lock = threading.Lock()
        # line → (when it was last let through, repeats dropped since)
        self._seen: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def filter(self, record: logging.LogRecord) -> bool:
        line = _VARYING.sub("", record.getMessage())
        now = self._clock()
        with self._lock:
            shown_at, dropped = self._seen.pop(line, (None, 0))
            if shown_at is not None and now - shown_at < self._window:
                self._seen[line] = (shown_at, dropped + 1)
                return False
            self._seen[line] = (now, 0)
            while len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
        if dropped:
            record.msg = (
                f"{record.getMessage()} ({dropped} more like it in the last {self._window:.0f} s)"
            )
            record.args = ()
        return True


# Passed as `logger` to every librdkafka client.
librdkafka_log = logging.getLogger("services.common.librdkafka")
librdkafka_log.addFilter(RepeatedLines())
