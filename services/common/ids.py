"""Opaque, time-ordered string ids with a type prefix (`cmt_01JD...`), in the manner of ULIDs.

Time-ordered ids make keyset pagination by id return rows in creation order, and the prefix
tells a support engineer what kind of thing an id names.
"""

import os
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str) -> str:
    """A new id: 48 bits of milliseconds then 80 random bits, Crockford base32."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return f"{prefix}_{''.join(reversed(chars))}"
