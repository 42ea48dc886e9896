"""Which scope a proxied call needs, what `admin` implies, and how console tokens are set up."""

import time
from typing import Annotated

import jwt
import pytest
from fastapi import Depends, FastAPI
from pydantic import SecretStr, ValidationError

from gateway.access.callers import Caller
from gateway.access.deps import ensure_scope, require_scope
from gateway.access.problems import InvalidToken, MissingScope
from gateway.access.routes import ScopeTable, proxied_scope
from gateway.access.settings import ConsoleTokenSettings
from gateway.access.tokens import ConsoleTokens, looks_like_jwt


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/v1/communities", "members:read"),
        ("HEAD", "/v1/communities/c_1", "members:read"),
        ("POST", "/v1/communities", "members:write"),
        ("DELETE", "/v1/communities/c_1/groups/g_1/members/m_1", "members:write"),
        ("GET", "/v1/communities/c_1/contents", "content:read"),
        ("PATCH", "/v1/contents/i_1", "content:write"),
        ("POST", "/v1/communities/c_1/activities", "events:write"),
        ("GET", "/v1/challenges/a_1/leaderboard", "events:read"),
        ("GET", "/v1/metrics/communities/c_1/overview", "metrics:read"),
        ("PATCH", "/v1/metrics/communities/c_1/alert-thresholds", "admin"),
        ("GET", "/v1/nowhere", None),
    ],
)
def test_a_proxied_call_needs_its_services_scope(method: str, path: str, scope: str) -> None:
    assert proxied_scope(method, path) == scope


def test_admin_implies_every_scope_and_nothing_else_does() -> None:
    admin = Caller(key_id="k", workspace_id="w", scopes=frozenset({"admin"}))
    writer = Caller(key_id="k", workspace_id="w", scopes=frozenset({"members:write"}))
    assert admin.allows("members:write") and admin.allows("ingest:write")
    assert writer.allows("members:write") and not writer.allows("members:read")
    assert not Caller(key_id="k", workspace_id="w").allows("members:read")
    assert writer.actor == "api_key:k"
    assert Caller(key_id="usr_1", workspace_id="w", via="token").actor == "user:usr_1"


def test_a_short_secret_or_a_key_of_the_wrong_kind_stops_the_gateway() -> None:
    with pytest.raises(ValidationError, match="32 bytes"):
        ConsoleTokenSettings(console_token_secret=SecretStr("short"))
    with pytest.raises(ValidationError, match="RS256 takes a public key"):
        ConsoleTokenSettings(
            console_token_algorithm="RS256", console_token_secret=SecretStr("s" * 40)
        )
    with pytest.raises(ValidationError, match="HS256 takes a secret"):
        ConsoleTokenSettings(console_token_public_key="-----BEGIN PUBLIC KEY-----")


def test_without_a_key_configured_no_token_is_accepted() -> None:
    tokens = ConsoleTokens(ConsoleTokenSettings())
    assert not tokens.accepted
    with pytest.raises(InvalidToken) as refused:
        tokens.caller("a.b.c")
    assert refused.value.extra["reason"] == "not-accepted"


def test_api_keys_and_tokens_are_told_apart_by_their_dots() -> None:
    assert looks_like_jwt("eyJh.eyJz.c2ln")
    assert not looks_like_jwt("qy_AbC-dEf_123")


def test_a_verified_token_is_remembered_until_it_expires() -> None:
    secret = "s" * 40
    tokens = ConsoleTokens(
        ConsoleTokenSettings(console_token_secret=SecretStr(secret), console_token_leeway_seconds=0)
    )
    now = int(time.time())
    claims = {"iss": "qunyun-console", "aud": "qunyun-api", "sub": "usr_1", "workspace_id": "w"}
    token = jwt.encode(claims | {"exp": now + 1, "scope": "admin"}, secret, algorithm="HS256")
    first = tokens.caller(token)
    assert tokens.caller(token) is first  # remembered, not verified again
    time.sleep(max(0.0, now + 1.05 - time.time()))
    with pytest.raises(InvalidToken) as refused:
        tokens.caller(token)
    assert refused.value.extra["reason"] == "expired"


def test_a_route_that_authenticates_by_hand_declares_its_scope_for_the_table() -> None:
    """Bulk ingestion takes a key or a signature: it checks the key's scope itself."""
    app = FastAPI()

    @app.post("/v1/ingest/messages", openapi_extra={"x-required-scope": "ingest:write"})
    def ingest() -> None: ...

    @app.get("/v1/things")
    def things(caller: Annotated[Caller, Depends(require_scope("members:read"))]) -> None: ...

    table = ScopeTable(app)
    assert table.own[("POST", "/v1/ingest/messages")] == "ingest:write"
    assert table.own[("GET", "/v1/things")] == "members:read"
    assert table.unscoped == []
    reader = Caller(key_id="k", workspace_id="w", scopes=frozenset({"members:read"}))
    with pytest.raises(MissingScope) as refused:
        ensure_scope(reader, "ingest:write")
    assert refused.value.status == 403 and refused.value.extra["required_scope"] == "ingest:write"
