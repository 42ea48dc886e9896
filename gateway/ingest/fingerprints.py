"""What an ingested item is known by, derived from its identity (workspace, platform, kind and
the platform's own id, joined by the unit separator): its event id, the `ce_id` of its
CloudEvent and the `event_id` of its result, and its seen key, the 16 bytes `ingest_seen`
remembers it by. Both are the same every time the item is sent, so a re-sent item is a
duplicate answered with its original's event id.

Made a batch at a time: spelled one by one in Python, the event ids alone cost 3 µs a message,
a tenth of the gateway's share of the work at 20,000 messages a second."""

import hashlib
from collections.abc import Sequence

from gateway.ingest.models import MAX_ITEMS

# Crockford's base32 (as `services.common.ids` spells ids).
_CROCKFORD = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_SPELLED = bytes(_CROCKFORD[b] if b < 32 else 0 for b in range(256))

# Each digest gets a 256-bit lane of one big integer, its 128 bits followed by 32 zero bits in
# the lane's low 160: 32 groups of five bits, the first 26 of which are the digest's base32
# (the 26th holds its last three bits and two zeros, as RFC 4648 pads them). Five rounds of
# masks and shifts move every group into a byte of its own, in every lane at once; a byte
# translation then spells them.
_LANE_BYTES = 32
_BEFORE, _AFTER = b"\0" * 12, b"\0" * 4  # around a digest in its lane
_BETWEEN = _AFTER + _BEFORE


def _lanes(pattern: int) -> int:
    """`pattern` (a lane's bits) repeated in every lane of the largest batch."""
    return int.from_bytes(pattern.to_bytes(_LANE_BYTES) * MAX_ITEMS)


def _round(width: int, spacing: int) -> tuple[int, int, int]:
    """In each `2 * spacing`-bit block, `2 * width` bits become two `width`-bit halves
    `spacing` bits apart: the low half's mask, the high half's mask, and its shift."""
    low = high = 0
    for block in range(0, 256, 2 * spacing):
        low |= ((1 << width) - 1) << block
        high |= ((1 << width) - 1) << (block + width)
    return _lanes(low), _lanes(high), spacing - width


_ROUNDS = [_round(80, 128), _round(40, 64), _round(20, 32), _round(10, 16), _round(5, 8)]


def _spelled(digests: Sequence[bytes]) -> list[str]:
    """Each 16-byte digest's RFC 4648 base32 in Crockford's alphabet, unpadded (26 chars)."""
    if not digests:
        return []
    lanes = int.from_bytes(_BEFORE + _BETWEEN.join(digests) + _AFTER)
    for low, high, shift in _ROUNDS:
        lanes = (lanes & low) | ((lanes & high) << shift)
    text = lanes.to_bytes(_LANE_BYTES * len(digests)).translate(_SPELLED).decode()
    return [text[start : start + 26] for start in range(0, len(text), _LANE_BYTES)]


def identity(workspace_id: str, platform: str, kind: str, external_id: str) -> bytes:
    """What makes two items the same one, as the bytes both hashes read."""
    return "\x1f".join((workspace_id, platform, kind, external_id)).encode()


def event_ids(identities: Sequence[bytes]) -> list[str]:
    """The event id of each identity: `evt_` and 26 Crockford characters spelling 128 bits of
    a BLAKE2b hash of it, as every ingested item's id has been spelled since the first."""
    if len(identities) > MAX_ITEMS:  # the lanes' masks reach that far
        middle = len(identities) // 2
        return event_ids(identities[:middle]) + event_ids(identities[middle:])
    digests = [hashlib.blake2b(i, digest_size=16).digest() for i in identities]
    return ["evt_" + spelled for spelled in _spelled(digests)]


def event_id(workspace_id: str, platform: str, kind: str, external_id: str) -> str:
    """One item's event id (see `event_ids`)."""
    return event_ids([identity(workspace_id, platform, kind, external_id)])[0]


def seen_key(identity: bytes) -> bytes:
    """The key `ingest_seen` remembers an identity by: the first 16 bytes of its SHA-256, which
    Postgres computes too (the migration that keyed the table so computed it for the rows
    already there: `sha256(convert_to(...))`)."""
    return hashlib.sha256(identity).digest()[:16]
