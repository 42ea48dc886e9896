from gateway.inbound import body_digest

HELLO = "大家好".encode()


def test_a_retry_serialised_differently_has_the_same_digest_and_another_event_another() -> None:
    sent = b'{"type": "message_posted", "data": {"text": "' + HELLO + b'", "n": 1}}'
    reordered = b'{"data":{"n":1,"text":"\\u5927\\u5bb6\\u597d"},"type":"message_posted"}'
    other = b'{"type": "message_posted", "data": {"text": "' + HELLO + b'", "n": 2}}'
    assert body_digest(sent) == body_digest(reordered)
    assert body_digest(sent) != body_digest(other)
    # A lone surrogate, which JSON can spell, is digested rather than failing to encode.
    assert len(body_digest(b'{"text": "\\ud800"}')) == 64
