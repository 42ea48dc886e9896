"""Standard Webhooks signatures, both ways: `webhook-id`, `webhook-timestamp` and
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, secrets `whsec_<base64>`."""

import base64
import binascii
import hashlib
import hmac
import secrets
import time

SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60


class InvalidSignature(Exception):
    """The request is not signed with the secret, or not recently."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signing_key(secret: str | bytes) -> bytes:
    """The HMAC key of a `whsec_` secret; a key already decoded is used as is."""
    if isinstance(secret, bytes):
        return secret
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error as exc:
        raise ValueError("not a whsec_ secret") from exc


def sign(secret: str | bytes, *, msg_id: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(
        signing_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256
    ).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    secret: str | bytes,
    *,
    msg_id: str,
    timestamp: str,
    signatures: str,
    body: bytes,
    now: float | None = None,
) -> None:
    """Raise `InvalidSignature` unless one of the space-separated signatures matches and the
    timestamp is within the tolerance (which stops replays of old captured requests).
    `secret` is the `whsec_` text or its key already decoded (`signing_key`)."""
    if not msg_id or not timestamp.isdigit():
        raise InvalidSignature("missing webhook-id or webhook-timestamp")
    if abs((now if now is not None else time.time()) - int(timestamp)) > TOLERANCE_SECONDS:
        raise InvalidSignature("webhook-timestamp is too far from now")
    expected = sign(secret, msg_id=msg_id, timestamp=int(timestamp), body=body)
    for candidate in signatures.split():
        if hmac.compare_digest(candidate.encode(), expected.encode()):
            return
    raise InvalidSignature("no signature matches")
