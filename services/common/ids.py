"""Opaque, time-ordered string ids with a type prefix (`cmt_01JD...`), in the manner of ULIDs.

Time-ordered ids make keyset pagination by id return rows in creation order, and the prefix
tells a support engineer what kind of thing an id names. Within one millisecond a process
counts up from its last id (monotonic ULIDs), so rows made in a loop also page in order.
"""

import os
import threading
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80
_lock = threading.Lock()
_last = (0, 0)


def _next_value() -> int:
    global _last
    with _lock:
        millis = int(time.time() * 1000)
        last_millis, last_random = _last
        if millis <= last_millis and last_random + 1 < 1 << _RANDOM_BITS:
            millis, random = last_millis, last_random + 1
        else:
            random = int.from_bytes(os.urandom(_RANDOM_BITS // 8), "big") >> 1  # room to count up
        _last = (millis, random)
    return (millis << _RANDOM_BITS) | random


def new_id(prefix: str) -> str:
    """A new id: 48 bits of milliseconds then 80 bits of randomness, Crockford base32."""
    value = _next_value()
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return f"{prefix}_{''.join(reversed(chars))}"
