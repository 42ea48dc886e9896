"""The command line for API keys (the functions live in `gateway.access.service`):

    python -m gateway.keys create --workspace ws_acme --name console \\
        --scope members:read --scope content:read

prints a new key of that workspace. Without `--scope` the key gets `admin` (every scope), as
a key made by whoever holds the database is the workspace's own master key.
"""

import argparse
import sys

from sqlmodel import Session

from gateway.access.callers import Caller as Caller  # forwarding (routing.py) names the caller
from gateway.access.scopes import ADMIN, SCOPES


def main(argv: list[str] | None = None) -> None:
    from gateway.access import service
    from gateway.settings import GatewaySettings
    from services.common.db import make_engine

    parser = argparse.ArgumentParser(prog="python -m gateway.keys")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create an API key for a workspace")
    create.add_argument("--workspace", required=True)
    create.add_argument("--name", default="cli")
    create.add_argument(
        "--scope",
        action="append",
        choices=SCOPES,
        help="a scope the key holds; repeat for more (default: admin, every scope)",
    )
    args = parser.parse_args(argv)
    scopes = args.scope or [ADMIN]
    engine = make_engine(GatewaySettings().database_url)
    with Session(engine) as session:
        _, key = service.create_api_key(
            session=session, workspace_id=args.workspace, name=args.name, scopes=scopes
        )
        session.commit()
    engine.dispose()
    print(key)
    print(f"scopes: {' '.join(scopes)}", file=sys.stderr)


if __name__ == "__main__":
    main()
