"""The fold validates a batch's messages with one call; a refused one fails as it would alone."""

from datetime import UTC, datetime

import pydantic
import pytest

from services.common.cloudevents import CloudEvent
from services.common.contracts import ChatMessagePosted
from services.members.activity.folding import _validated


def _event(**changes: object) -> CloudEvent:
    data = ChatMessagePosted(
        platform="wechat",
        group_external_id="g1@chatroom",
        sender_external_id="wx_1",
        occurred_at=datetime(2026, 11, 30, 12, tzinfo=UTC),
        message_external_id="m1",
        text="收到，谢谢老师！",
    ).model_dump(mode="json")
    return CloudEvent(
        type=ChatMessagePosted.type, source="/t", workspaceid="ws", data=data | changes
    )


def test_each_event_comes_with_its_message_as_model_validate_reads_it() -> None:
    events = [_event(), _event(text="第二条", flags=["link"], extra_field="ignored")]
    assert _validated(events) == [(e, ChatMessagePosted.model_validate(e.data)) for e in events]


def test_a_refused_message_fails_the_batch_with_its_own_error() -> None:
    bad = _event(text="长" * 20_001)
    with pytest.raises(pydantic.ValidationError) as alone:
        ChatMessagePosted.model_validate(bad.data)
    with pytest.raises(pydantic.ValidationError) as in_batch:
        _validated([_event(), bad, _event()])
    assert str(in_batch.value) == str(alone.value)
