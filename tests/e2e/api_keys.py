"""A key of a workspace of one's own, made with the gateway's key command, for tests that
must not see (or disturb) what other tests make in the demo workspace."""

import os
import subprocess
import sys

from deploy.local.postgres import database_url
from deploy.local.stack import Stack


def workspace_key(stack: Stack, workspace_id: str, scopes: tuple[str, ...] = ("admin",)) -> str:
    """A key of `workspace_id` holding `scopes`; `admin` (every scope) for tests that walk the
    whole API."""
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.keys",
            "create",
            "--workspace",
            workspace_id,
            "--name",
            "e2e",
            *(arg for scope in scopes for arg in ("--scope", scope)),
        ],
        env={
            **os.environ,
            "QUNYUN_DATABASE_URL": database_url(stack.database_server_url, "e2e_gateway"),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.strip()
