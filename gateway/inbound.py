"""Webhooks in: bots push what happens in the groups (messages, joins, leaves) and what members
ask for there (registrations, daily check-ins).

Each integration signs its requests the Standard Webhooks way with its own secret; we verify
on the raw body, refuse stale timestamps, accept a webhook id once, and answer 202 as soon as
the event is in the outbox: the members service (or, for registrations and check-ins, the
events service) processes it from Kafka.

What a push carries and how it is read (here); how it is accepted: `pushes.py`.
"""

import hashlib
import json
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ValidationError

from services.common.contracts import (
    ChatMessagePosted,
    CheckInPushed,
    EventData,
    GroupMemberJoined,
    GroupMemberLeft,
    PublicationResultReported,
    RegistrationRequested,
    SubmissionReceived,
)
from services.common.http.problems import Problem, ProblemKind, register_problem

SOURCE = "/qunyun/gateway/inbound"
INBOUND_TYPES: dict[str, type[EventData]] = {
    "message_posted": ChatMessagePosted,
    "group_member_joined": GroupMemberJoined,
    "group_member_left": GroupMemberLeft,
    "registration_requested": RegistrationRequested,
    "check_in": CheckInPushed,
    # Content: a bot's result for a `publication_due`, and a member's submission (投稿).
    "publication_result": PublicationResultReported,
    "submission": SubmissionReceived,
}

INVALID_SIGNATURE = register_problem(ProblemKind("invalid-signature", 401, "Invalid signature"))
WEBHOOK_ID_REUSED = register_problem(ProblemKind("webhook-id-reused", 422, "Webhook id reused"))


def ingest_key(data: EventData) -> str:
    """The record key of a bot's event: its group, as the platform names it."""
    return f"{getattr(data, 'platform', '')}:{getattr(data, 'group_external_id', '')}"


class InboundEvent(BaseModel):
    type: Literal[
        "message_posted",
        "group_member_joined",
        "group_member_left",
        "registration_requested",
        "check_in",
        "publication_result",
        "submission",
    ]
    data: dict[str, Any]


class InboundAccepted(BaseModel):
    event_id: str
    duplicate: bool


def body_digest(body: bytes) -> str:
    """SHA-256 of a pushed JSON body in canonical form (keys sorted, no spaces), so a retry
    serialised differently (key order, whitespace) is still the same event."""
    return _digest(json.loads(body))


def _digest(parsed: Any) -> str:
    # The standard library's form (ASCII, escaped), not orjson's: digests stored before this
    # form was computed from the parsed body must still match their retries.
    canonical = json.dumps(parsed, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _parsed(body: bytes) -> Any:
    """The pushed JSON, parsed once: by orjson, or by the standard library for what orjson
    refuses and it reads (lone surrogates, integers beyond 64 bits)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)
    except ValueError as exc:
        raise Problem(
            422,
            "validation-error",
            "The request is not valid",
            "The pushed body is not JSON.",
            errors=[{"field": "", "in": "body", "message": str(exc), "code": "json_invalid"}],
        ) from exc


def read_event(body: bytes) -> tuple[EventData, str]:
    """A pushed body's event data, validated against its type, and the body's digest; a
    422 problem naming what does not fit."""
    parsed = _parsed(body)
    try:
        pushed = InboundEvent.model_validate(parsed)
        data = INBOUND_TYPES[pushed.type].model_validate(pushed.data)
    except ValidationError as exc:
        errors = [
            {
                "field": ".".join(str(p) for p in e["loc"]),
                "in": "body",
                "message": e["msg"],
                "code": e["type"],
            }
            for e in exc.errors(include_url=False)
        ]
        raise Problem(
            422,
            "validation-error",
            "The request is not valid",
            "The pushed event does not match its type.",
            errors=errors,
        ) from exc
    return data, _digest(parsed)
