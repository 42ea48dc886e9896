"""Messages are read into plain dicts (`MessageFields`, made from `MessageIn`), not models: the
same verdicts for every input, the same errors at the same places, and the same fields, in
the same order, with the same defaults, as the model would hold."""

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from gateway.ingest.models import MessageFields, MessageIn

_FIELDS = TypeAdapter(MessageFields)

_IDS = st.sampled_from(["", "m1", "x" * 200, "x" * 201, "消息"]) | st.integers(-5, 5) | st.none()
_TIMES = st.sampled_from(
    [
        "2026-11-30T21:04:05+08:00",
        "2026-11-30T21:04:05.25Z",
        "2026-11-30T21:04:05",  # no offset
        "yesterday",
        1764500000,  # a number of seconds
        None,
    ]
)
_MESSAGE = st.fixed_dictionaries(
    {
        "platform": st.sampled_from(["wechat", "", "p" * 33]),
        "group_external_id": _IDS,
        "sender_external_id": _IDS,
        "occurred_at": _TIMES,
        "message_external_id": _IDS,
    },
    optional={
        "sender_display_name": st.none() | st.text(max_size=3) | st.just("n" * 201),
        "text": st.text(max_size=5) | st.just("t" * 20_001) | st.integers(-5, 5),
        "flags": st.lists(st.sampled_from(["link", "", "f" * 65]), max_size=21),
        "reply_to_external_id": _IDS,
        "unknown": st.just(1),
    },
)


def _verdict(read: Any) -> tuple[str, Any]:
    try:
        return "valid", read()
    except ValidationError as exc:
        return "invalid", sorted((e["loc"], e["type"], e["msg"]) for e in exc.errors())


@given(_MESSAGE)
def test_a_message_reads_as_the_model_would(message: dict[str, Any]) -> None:
    body = orjson.dumps(message)

    as_model = _verdict(lambda: MessageIn.model_validate_json(body).__dict__)
    as_fields = _verdict(lambda: _FIELDS.validate_json(body))

    assert as_fields == as_model
    if as_fields[0] == "valid":
        assert list(as_fields[1]) == list(MessageIn.model_fields)
