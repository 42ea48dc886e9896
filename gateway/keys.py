"""API keys: each scopes its holder to one workspace. Keys are stored hashed.

Usage: `python -m gateway.keys create --workspace ws_acme --name console` prints a new key.
"""

import argparse
import hashlib
import secrets
from dataclasses import dataclass

from sqlmodel import Session, col, select

from gateway.models import ApiKey
from services.common.ids import new_id

KEY_PREFIX = "qy_"


@dataclass(frozen=True)
class Caller:
    key_id: str
    workspace_id: str


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(
    *, session: Session, workspace_id: str, name: str, key: str | None = None
) -> str:
    """Store a new key for the workspace and return it; it cannot be read back later."""
    key = key or KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiKey(
            id=new_id("key"),
            workspace_id=workspace_id,
            name=name,
            key_hash=key_hash(key),
            prefix=key[:8],
        )
    )
    session.flush()
    return key


def ensure_api_key(*, session: Session, workspace_id: str, name: str, key: str) -> None:
    """Register a known key (the bootstrap one) unless it is already there."""
    if session.exec(select(ApiKey).where(ApiKey.key_hash == key_hash(key))).first() is None:
        create_api_key(session=session, workspace_id=workspace_id, name=name, key=key)


def authenticate(*, session: Session, key: str) -> Caller | None:
    """The caller a key stands for, or None for an unknown or revoked key."""
    row = session.exec(
        select(ApiKey).where(ApiKey.key_hash == key_hash(key), col(ApiKey.revoked_at).is_(None))
    ).first()
    return Caller(key_id=row.id, workspace_id=row.workspace_id) if row else None


def main() -> None:
    from gateway.settings import GatewaySettings
    from services.common.db import make_engine

    parser = argparse.ArgumentParser(prog="python -m gateway.keys")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create an API key for a workspace")
    create.add_argument("--workspace", required=True)
    create.add_argument("--name", default="cli")
    args = parser.parse_args()
    engine = make_engine(GatewaySettings().database_url)
    with Session(engine) as session:
        key = create_api_key(session=session, workspace_id=args.workspace, name=args.name)
        session.commit()
    print(key)


if __name__ == "__main__":
    main()
