"""Console tokens (JWT): accepted when signed, meant and timed right; otherwise a 401 that says
why, with an RFC 6750 challenge. HS256 on the package's gateway, RS256 on one of its own."""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from gateway.app import create_app
from tests.integration.gateway.access.conftest import (
    WORKSPACE,
    Services,
    bearer,
    console_token,
    gateway_settings,
)

pytestmark = pytest.mark.integration


def _refused(gateway: TestClient, token: str, reason: str) -> dict[str, Any]:
    answer = gateway.get("/v1/communities", headers=bearer(token))
    assert answer.status_code == 401, answer.text
    problem = answer.json()
    assert problem["type"].endswith("/invalid-token") and problem["reason"] == reason, problem
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="qunyun", error="invalid_token"'), challenge
    assert problem["detail"] in challenge
    return problem


def test_a_good_token_acts_in_its_workspace(gateway: TestClient, services: Services) -> None:
    token = console_token(scope="members:read", workspace_id="ws_console", sub="usr_wang")
    assert gateway.get("/v1/communities/c_token", headers=bearer(token)).status_code == 200
    reached = [r for r in services.reached if r.path == "/v1/communities/c_token"][-1]
    assert reached.headers["x-qunyun-workspace-id"] == "ws_console"


def test_an_expired_token_is_refused_beyond_the_leeway(gateway: TestClient) -> None:
    now = int(time.time())
    problem = _refused(gateway, console_token(exp=now - 120), "expired")
    assert "expired" in problem["detail"]
    # 10 s late is within the 30 s leeway for clocks that disagree.
    late = console_token(exp=now - 10)
    assert gateway.get("/v1/communities", headers=bearer(late)).status_code == 200


def test_a_token_not_yet_valid_is_refused_beyond_the_leeway(gateway: TestClient) -> None:
    now = int(time.time())
    _refused(gateway, console_token(nbf=now + 300), "not-yet-valid")
    early = console_token(nbf=now + 10)
    assert gateway.get("/v1/communities", headers=bearer(early)).status_code == 200


def test_a_token_for_another_audience_or_from_another_issuer_is_refused(
    gateway: TestClient,
) -> None:
    _refused(gateway, console_token(aud="another-api"), "wrong-audience")
    _refused(gateway, console_token(iss="https://evil.test"), "wrong-issuer")


def test_a_token_signed_with_another_secret_is_refused(gateway: TestClient) -> None:
    _refused(gateway, console_token(key="another-secret-of-at-least-32-bytes!!"), "bad-signature")
    # Claims changed after signing (a wider scope) break the signature too.
    header, _, signature = console_token(scope="members:read").split(".")
    payload = {
        "iss": "https://signin.test",
        "aud": "qunyun-api-test",
        "sub": "usr_lin",
        "exp": int(time.time()) + 600,
        "workspace_id": WORKSPACE,
        "scope": "admin",
    }
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    _refused(gateway, f"{header}.{forged}.{signature}", "bad-signature")


def _unsigned(**claims: object) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def test_an_unsigned_token_is_refused(gateway: TestClient) -> None:
    token = _unsigned(
        iss="https://signin.test",
        aud="qunyun-api-test",
        sub="usr_lin",
        exp=int(time.time()) + 600,
        workspace_id=WORKSPACE,
        scope="admin",
    )
    problem = _refused(gateway, token, "algorithm-refused")
    assert "alg none" in problem["detail"]


def test_a_token_without_its_claims_is_refused(gateway: TestClient) -> None:
    _refused(gateway, console_token(workspace_id=None), "missing-claim")
    problem = _refused(gateway, console_token(exp=None), "missing-claim")
    assert "`exp`" in problem["detail"]
    _refused(gateway, "not.a.jwt", "malformed")


def test_unknown_scopes_in_a_token_grant_nothing(gateway: TestClient) -> None:
    token = console_token(scope="members:read members:everything")
    answer = gateway.post("/v1/communities", headers=bearer(token), json={})
    assert answer.status_code == 403 and answer.json()["granted_scopes"] == ["members:read"]


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def rs256_gateway(
    gateway_url: str,
    kafka_bootstrap: str,
    services: Services,
    gateway: TestClient,
    rsa_key: rsa.RSAPrivateKey,
) -> Iterator[TestClient]:
    """A gateway checking RS256 tokens against the sign-in service's public key."""
    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    settings = gateway_settings(
        gateway_url,
        kafka_bootstrap,
        services,
        console_token_algorithm="RS256",
        console_token_secret=None,
        console_token_public_key=pem.decode(),
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_rs256_tokens_are_checked_with_the_public_key(
    rs256_gateway: TestClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    good = console_token(key=rsa_key, algorithm="RS256")
    assert rs256_gateway.get("/v1/communities", headers=bearer(good)).status_code == 200
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _refused(rs256_gateway, console_token(key=other, algorithm="RS256"), "bad-signature")


def test_an_hs256_token_signed_with_the_public_key_is_refused(
    rs256_gateway: TestClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    """The old confusion: the public key is public, so it must never serve as an HMAC secret."""
    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
    claims = {
        "iss": "https://signin.test",
        "aud": "qunyun-api-test",
        "sub": "usr_lin",
        "exp": int(time.time()) + 600,
        "workspace_id": WORKSPACE,
        "scope": "admin",
    }
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    mac = hmac.new(pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    token = f"{header}.{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    problem = _refused(rs256_gateway, token, "algorithm-refused")
    assert "RS256" in problem["detail"]
