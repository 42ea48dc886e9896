"""`Idempotency-Key` on creating POSTs: a retried request creates once and gets the first answer.

The key row is inserted in the same transaction as the creation, so a concurrent retry waits
on it and then replays; a failed creation rolls the key back and may be retried.
"""

import hashlib
from collections.abc import Callable
from typing import Annotated

import orjson
import sqlalchemy as sa
from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlmodel import Session

from services.common.db import SessionDep
from services.common.http.identity import WorkspaceDep
from services.common.http.problems import Problem

_metadata = sa.MetaData()
idempotency_key = sa.Table(
    "idempotency_key",
    _metadata,
    sa.Column("workspace_id", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("fingerprint", sa.Text),
    sa.Column("status_code", sa.Integer),
    sa.Column("body", JSONB),
)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Any unique string; a retry with the same key creates nothing new.",
    ),
]


def fingerprint(*parts: object) -> str:
    """A digest of what identifies the request: method, path and body."""
    raw = orjson.dumps(
        [p.model_dump(mode="json") if isinstance(p, BaseModel) else p for p in parts]
    )
    return hashlib.sha256(raw).hexdigest()


def run_once(
    session: Session,
    *,
    workspace_id: str,
    key: str | None,
    request_fingerprint: str,
    create: Callable[[], tuple[int, BaseModel]],
) -> JSONResponse:
    """Run `create` and commit, or replay the stored answer for a key seen before."""
    if key is not None:
        claimed = session.execute(
            insert(idempotency_key)
            .values(workspace_id=workspace_id, key=key, fingerprint=request_fingerprint)
            .on_conflict_do_nothing()
            .returning(idempotency_key.c.key)
        ).first()
        if claimed is None:
            stored = session.execute(
                sa.select(idempotency_key).where(
                    idempotency_key.c.workspace_id == workspace_id, idempotency_key.c.key == key
                )
            ).one()
            session.rollback()
            if stored.fingerprint != request_fingerprint:
                raise Problem(
                    422,
                    "idempotency-key-reused",
                    "Idempotency key reused",
                    "This Idempotency-Key was used for a different request.",
                )
            return JSONResponse(
                stored.body, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"}
            )
    status, model = create()
    body = model.model_dump(mode="json")
    if key is not None:
        session.execute(
            idempotency_key.update()
            .where(idempotency_key.c.workspace_id == workspace_id, idempotency_key.c.key == key)
            .values(status_code=status, body=body)
        )
    session.commit()
    return JSONResponse(body, status_code=status)


class Once:
    """A creating request, run once per `Idempotency-Key`: `return once.run(body, create)`.

    The fingerprint is the method, the path and the body, so the same key sent with another
    request is refused rather than answered with the first request's result.
    """

    def __init__(
        self,
        request: Request,
        session: SessionDep,
        workspace_id: WorkspaceDep,
        key: IdempotencyKey = None,
    ):
        self.request, self.session, self.workspace_id, self.key = (
            request,
            session,
            workspace_id,
            key,
        )

    def run(
        self, body: BaseModel | None, create: Callable[[], tuple[int, BaseModel]]
    ) -> JSONResponse:
        return run_once(
            self.session,
            workspace_id=self.workspace_id,
            key=self.key,
            request_fingerprint=fingerprint(f"{self.request.method} {self.request.url.path}", body),
            create=create,
        )


OnceDep = Annotated[Once, Depends()]
