"""`POST /v1/ingest/messages` and `POST /v1/ingest/group-events`: batches of up to 1,000 items,
answered 202 once the accepted ones are on Kafka, with a result per item."""

import copy
from typing import Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, TypeAdapter
from starlette.concurrency import run_in_threadpool

from gateway.access.scopes import INGEST_WRITE
from gateway.ingest.acceptance import (
    Endpoint,
    group_event_identities,
    message_identities,
    take,
)
from gateway.ingest.models import BatchResult, GroupEventBatch, MessageBatch, MessageIn
from gateway.ingest.reading import GROUP_EVENTS, MESSAGES, BatchTooLarge
from services.common.http.problems import Problem, problem_kind, problem_responses

router = APIRouter(prefix="/v1/ingest", tags=["ingest"])
# Each item is screened for NUL characters as it is read (`reading.BatchShape`), so that one
# bad item does not refuse the batch.
SCREENED_BY_ROUTE = ("/v1/ingest/messages", "/v1/ingest/group-events")

MESSAGES_ENDPOINT = Endpoint(
    "messages",
    MESSAGES,
    "message",
    message_identities,
    kind="message",
    event=lambda fields: (MessageIn, fields),
)
GROUP_EVENTS_ENDPOINT = Endpoint(
    "group_events",
    GROUP_EVENTS,
    "group_event",
    group_event_identities,
    kind=lambda item: item.type,
    event=lambda item: (type(item.data), item.data.__dict__),
)


def _request_body(model: type[BaseModel]) -> dict[str, Any]:
    """The body's schema for the document, written out whole: the route reads the raw bytes
    itself (one validation of the whole batch, item errors kept apart), so FastAPI does not
    see a body parameter to describe."""
    schema = TypeAdapter(model).json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(copy.deepcopy(definitions[ref.removeprefix("#/$defs/")]))
            # A discriminator's mapping names `$defs` too; the `const` of each variant's `type`
            # says the same, in the schema itself.
            return {k: inline(v) for k, v in node.items() if k != "discriminator"}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline(schema)}},
        }
    }


def _responses() -> dict[int | str, Any]:
    signature = problem_kind("invalid-signature")
    kinds: list[Any] = [BatchTooLarge, 401, 413, 422, 429, 503]
    if signature is not None:
        kinds.append(signature)
    return {202: {"model": BatchResult}, **problem_responses(*kinds)}


async def _read(request: Request) -> bytes:
    """The raw body, refused before reading when it declares more than the ingest limit."""
    limit: int = request.app.state.settings.ingest_max_body_bytes
    declared = request.headers.get("content-length", "")
    if (declared.isdigit() and int(declared) > limit) or len(body := await request.body()) > limit:
        raise Problem(
            413,
            "payload-too-large",
            "Payload too large",
            f"A batch's body is limited to {limit} bytes. Split it.",
        )
    return body


async def _take(request: Request, endpoint: Endpoint) -> Response:
    body = await _read(request)
    answer = await run_in_threadpool(
        take,
        request.app.state.engine,
        request.app.state.ingest_producer,
        endpoint=endpoint,
        request=request,
        body=body,
    )
    return Response(answer, status_code=status.HTTP_202_ACCEPTED, media_type="application/json")


@router.post(
    "/messages",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_responses(),
    openapi_extra=_request_body(MessageBatch) | {"x-required-scope": INGEST_WRITE},
)
async def ingest_messages(request: Request) -> Response:
    """Post up to 1,000 chat messages (`{"messages": [...]}`, the fields of
    `io.qunyun.ingest.message_posted.v1`), in the order they were posted. Each is answered
    `accepted`, `duplicate` (its `platform` and `message_external_id` were accepted in the
    last 7 days) or `rejected` with its errors; the good ones are kept either way. The answer
    comes once the accepted ones are on Kafka. Send `Authorization: Bearer <api key>`, or sign
    the body as for `/v1/inbound/{integration_id}` and name the integration in
    `Qunyun-Integration`."""
    return await _take(request, MESSAGES_ENDPOINT)


@router.post(
    "/group-events",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_responses(),
    openapi_extra=_request_body(GroupEventBatch) | {"x-required-scope": INGEST_WRITE},
)
async def ingest_group_events(request: Request) -> Response:
    """Post up to 1,000 joins and leaves (`{"events": [{"type": "group_member_joined" |
    "group_member_left", "data": {...}}]}`, as pushed one at a time to
    `/v1/inbound/{integration_id}`), in the order they happened. A join or leave is a
    `duplicate` when the same person joined (left) the same group at the same instant before.
    Answers and authentication as for `/v1/ingest/messages`."""
    return await _take(request, GROUP_EVENTS_ENDPOINT)
