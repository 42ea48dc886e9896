import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.signatures import InvalidSignature, new_secret, sign, verify

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def test_the_signature_is_hmac_sha256_of_id_timestamp_and_body_as_the_spec_says() -> None:
    expected = base64.b64encode(
        hmac.new(b"k" * 32, b'msg_1.1700000000.{"a":1}', hashlib.sha256).digest()
    ).decode()
    assert sign(SECRET, msg_id="msg_1", timestamp=1700000000, body=b'{"a":1}') == f"v1,{expected}"


def test_a_fresh_correct_signature_passes_among_others() -> None:
    good = sign(SECRET, msg_id="m", timestamp=1000, body=b"x")
    verify(
        SECRET, msg_id="m", timestamp="1000", signatures=f"v1,bm9wZQ== {good}", body=b"x", now=1010
    )


@pytest.mark.parametrize(
    ("msg_id", "timestamp", "body", "now"),
    [
        ("m", "1000", b"tampered", 1000),
        ("other", "1000", b"x", 1000),
        ("m", "1000", b"x", 1000 + 301),
        ("m", "1000", b"x", 1000 - 301),
        ("", "1000", b"x", 1000),
        ("m", "soon", b"x", 1000),
    ],
)
def test_tampering_replays_and_missing_headers_fail(
    msg_id: str, timestamp: str, body: bytes, now: float
) -> None:
    good = sign(SECRET, msg_id="m", timestamp=1000, body=b"x")
    with pytest.raises(InvalidSignature):
        verify(SECRET, msg_id=msg_id, timestamp=timestamp, signatures=good, body=body, now=now)


def test_another_secret_fails() -> None:
    good = sign(new_secret(), msg_id="m", timestamp=1000, body=b"x")
    with pytest.raises(InvalidSignature):
        verify(SECRET, msg_id="m", timestamp="1000", signatures=good, body=b"x", now=1000)


@given(body=st.binary(max_size=2000), msg_id=st.text(min_size=1, max_size=40))
def test_whatever_we_sign_we_verify(body: bytes, msg_id: str) -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    verify(
        secret,
        msg_id=msg_id,
        timestamp="5000",
        signatures=sign(secret, msg_id=msg_id, timestamp=5000, body=body),
        body=body,
        now=5000,
    )
