"""`/v1/api-keys`: a workspace's keys, managed by a caller holding `admin`. Another
workspace's key answers 404, as if it did not exist."""

import json
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse
from sqlmodel import Session, col

from gateway.access import service
from gateway.access.deps import AdminDep
from gateway.access.models import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from gateway.access.problems import KeyRevoked
from gateway.access.verdicts import KeyVerdicts
from services.common.db import SessionDep
from services.common.http.idempotency import IdempotencyKey, fingerprint, run_once
from services.common.http.openapi import set_location
from services.common.http.pagination import Page, Paging, paginate
from services.common.http.problems import not_found, problem_responses

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])


def _public(key: ApiKey) -> ApiKeyPublic:
    return ApiKeyPublic.model_validate(key, from_attributes=True)


def _key(session: Session, workspace_id: str, key_id: str, *, for_change: bool = False) -> ApiKey:
    key = service.get_api_key(
        session, workspace_id=workspace_id, key_id=key_id, for_change=for_change
    )
    if key is None:
        raise not_found("api key", key_id)
    return key


def _forget(request: Request, key: ApiKey) -> None:
    """This replica stops trusting the key now; others within `api_key_cache_seconds`."""
    verdicts: KeyVerdicts = request.app.state.key_verdicts
    verdicts.forget(key.key_hash)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
def create_api_key(
    body: ApiKeyCreate,
    caller: AdminDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Make a key with the scopes given. The key itself is in this answer only.

    A retry with the same `Idempotency-Key` makes no second key; as keys are stored hashed,
    its answer has `key: null`."""
    shown: dict[str, str] = {}

    def create() -> tuple[int, ApiKeyCreated]:
        row, key = service.create_api_key(
            session=session, workspace_id=caller.workspace_id, name=body.name, scopes=body.scopes
        )
        shown[row.id] = key
        # What is stored for a replay: never the key.
        return 201, ApiKeyCreated(**_public(row).model_dump(), key=None)

    response = run_once(
        session,
        workspace_id=caller.workspace_id,
        key=idempotency_key,
        request_fingerprint=fingerprint("POST /v1/api-keys", body),
        create=create,
    )
    created = json.loads(bytes(response.body))
    if created["id"] in shown:  # made now, not replayed
        response = JSONResponse(created | {"key": shown[created["id"]]}, status_code=201)
    set_location(response, f"/v1/api-keys/{created['id']}")
    return response


@router.get("", response_model=Page[ApiKeyPublic])
def list_api_keys(
    caller: AdminDep,
    session: SessionDep,
    paging: Paging,
    revoked: Annotated[
        bool | None, Query(description="Only revoked keys (true) or only live ones (false).")
    ] = None,
) -> Page[ApiKeyPublic]:
    """The workspace's keys, oldest first: prefix, name, scopes, created, last used."""
    rows, cursor = paginate(
        session,
        service.list_query(workspace_id=caller.workspace_id, revoked=revoked),
        col(ApiKey.id),
        paging,
    )
    return Page(data=[_public(r) for r in rows], next_cursor=cursor)


@router.get("/{key_id}", response_model=ApiKeyPublic)
def get_api_key(key_id: str, caller: AdminDep, session: SessionDep) -> ApiKeyPublic:
    return _public(_key(session, caller.workspace_id, key_id))


@router.post(
    "/{key_id}/rotate",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses=problem_responses(KeyRevoked),
)
def rotate_api_key(
    key_id: str, request: Request, response: Response, caller: AdminDep, session: SessionDep
) -> ApiKeyCreated:
    """A new key with the same name and scopes, shown in this answer only; the old key is
    revoked at once (on this gateway replica now, on others within seconds)."""
    old = _key(session, caller.workspace_id, key_id, for_change=True)
    try:
        new, key = service.rotate_api_key(session, key=old, now=datetime.now(UTC))
    except service.AlreadyRevoked as exc:
        raise KeyRevoked(key_id=key_id) from exc
    session.commit()
    _forget(request, old)
    set_location(response, f"/v1/api-keys/{new.id}")
    return ApiKeyCreated(**_public(new).model_dump(), key=key)


@router.post("/{key_id}/revoke", response_model=ApiKeyPublic)
def revoke_api_key(
    key_id: str, request: Request, caller: AdminDep, session: SessionDep
) -> ApiKeyPublic:
    """Revoke a key: refused at once by this gateway replica, by others within seconds
    (`api_key_cache_seconds`). Revoking a revoked key changes nothing."""
    key = _key(session, caller.workspace_id, key_id, for_change=True)
    service.revoke_api_key(session, key=key, now=datetime.now(UTC))
    session.commit()
    _forget(request, key)
    return _public(key)
