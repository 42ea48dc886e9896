"""API keys: each scopes its holder to one workspace and to what its scopes allow. Keys are
stored hashed; a key is shown once, when made."""

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from gateway.access.callers import Caller
from gateway.access.models import ApiKey
from gateway.access.scopes import SCOPES
from services.common.ids import new_id

KEY_PREFIX = "qy_"
# How stale `last_used_at` may get: recorded at most this often per key, so authenticating
# costs no write per request (and a verdict served from the cache costs no query at all).
LAST_USED_RESOLUTION = timedelta(minutes=1)


class UnknownScope(ValueError):
    """A scope this gateway does not know (the command line's; the API's model refuses it)."""


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _checked(scopes: Iterable[str]) -> list[str]:
    scopes = list(dict.fromkeys(scopes))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise UnknownScope(
            f"unknown scopes {unknown}; known: {', '.join(SCOPES)}" if unknown else "no scopes"
        )
    return scopes


def create_api_key(
    *,
    session: Session,
    workspace_id: str,
    name: str,
    scopes: Iterable[str],
    key: str | None = None,
    rotated_from: str | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key for the workspace; returns its row and the key, which cannot be read
    back later."""
    key = key or KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        id=new_id("key"),
        workspace_id=workspace_id,
        name=name,
        key_hash=key_hash(key),
        prefix=key[:8],
        scopes=_checked(scopes),
        rotated_from=rotated_from,
    )
    session.add(row)
    session.flush()
    return row, key


def ensure_api_key(
    *, session: Session, workspace_id: str, name: str, key: str, scopes: Iterable[str]
) -> None:
    """Register a known key (the bootstrap one) unless it is already there."""
    if session.exec(select(ApiKey).where(ApiKey.key_hash == key_hash(key))).first() is None:
        create_api_key(
            session=session, workspace_id=workspace_id, name=name, key=key, scopes=scopes
        )


def authenticate(*, session: Session, key: str, now: datetime) -> Caller | None:
    """The caller a key stands for, or None for an unknown or revoked key. Notes the use when
    the last one noted is more than a minute old (the caller commits)."""
    row = session.exec(
        select(ApiKey).where(ApiKey.key_hash == key_hash(key), col(ApiKey.revoked_at).is_(None))
    ).first()
    if row is None:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        # Guarded again in SQL: replicas noting the same minute write once between them.
        session.execute(
            sa.update(ApiKey)
            .where(
                col(ApiKey.id) == row.id,
                sa.or_(
                    col(ApiKey.last_used_at).is_(None),
                    col(ApiKey.last_used_at) <= now - LAST_USED_RESOLUTION,
                ),
            )
            .values(last_used_at=now)
        )
    return Caller(key_id=row.id, workspace_id=row.workspace_id, scopes=frozenset(row.scopes))


def get_api_key(
    session: Session, *, workspace_id: str, key_id: str, for_change: bool = False
) -> ApiKey | None:
    """The workspace's key by id; another workspace's key is as unknown as a missing one.
    `for_change` locks the row, so two rotations at once make one new key, not two."""
    query = select(ApiKey).where(ApiKey.id == key_id, ApiKey.workspace_id == workspace_id)
    if for_change:
        query = query.with_for_update()
    return session.exec(query).one_or_none()


def list_query(*, workspace_id: str, revoked: bool | None) -> sa.Select[tuple[ApiKey]]:
    """The workspace's keys, for paging by id; `revoked` picks revoked or live ones."""
    query = select(ApiKey).where(ApiKey.workspace_id == workspace_id)
    if revoked is True:
        query = query.where(col(ApiKey.revoked_at).is_not(None))
    elif revoked is False:
        query = query.where(col(ApiKey.revoked_at).is_(None))
    return query  # type: ignore[return-value]


class AlreadyRevoked(Exception):
    """Rotating a revoked key: there is nothing left to rotate."""


def revoke_api_key(session: Session, *, key: ApiKey, now: datetime) -> ApiKey:
    """Revoke a key; revoking it again changes nothing (the first time stays)."""
    if key.revoked_at is None:
        key.revoked_at = now
        session.add(key)
        session.flush()
    return key


def rotate_api_key(session: Session, *, key: ApiKey, now: datetime) -> tuple[ApiKey, str]:
    """A new key with the same name and scopes; the old one is revoked at once."""
    if key.revoked_at is not None:
        raise AlreadyRevoked(key.id)
    revoke_api_key(session, key=key, now=now)
    return create_api_key(
        session=session,
        workspace_id=key.workspace_id,
        name=key.name,
        scopes=key.scopes,
        rotated_from=key.id,
    )
