"""Which requests the fast push route takes, and which it leaves to the documented one."""

from starlette.routing import Match
from starlette.types import Scope

from gateway.app import create_app
from gateway.pushes import PushRoute
from gateway.settings import GatewaySettings
from gateway.signatures import sign, signing_key, verify

SIGNED = {
    b"webhook-id": b"msg_1",
    b"webhook-timestamp": b"1700000000",
    b"webhook-signature": b"v1,x",
}


def _scope(method: str = "POST", headers: dict[bytes, bytes] | None = None) -> Scope:
    return {
        "type": "http",
        "method": method,
        "path": "/v1/inbound/int_1",
        "headers": list((SIGNED if headers is None else headers).items()),
    }


def test_a_well_formed_push_is_taken_with_its_headers_read_once() -> None:
    match, child = PushRoute().matches(_scope())
    assert match == Match.FULL
    assert child["path_params"] == {"integration_id": "int_1"}
    assert child["webhook_headers"] == ("msg_1", "1700000000", "v1,x")


def test_a_missing_empty_or_oversized_header_or_another_method_falls_through() -> None:
    route = PushRoute()
    for name in SIGNED:
        assert (
            route.matches(_scope(headers={k: v for k, v in SIGNED.items() if k != name}))[0]
            == Match.NONE
        ), name
        assert route.matches(_scope(headers=SIGNED | {name: b""}))[0] == Match.NONE, name
    assert route.matches(_scope(headers=SIGNED | {b"webhook-id": b"x" * 201}))[0] == Match.NONE
    assert route.matches(_scope("GET"))[0] == Match.NONE


def test_the_push_route_comes_right_after_the_proxy_route_and_stays_documented() -> None:
    app = create_app(GatewaySettings())
    assert isinstance(app.router.routes[1], PushRoute)
    assert "post" in app.openapi()["paths"]["/v1/inbound/{integration_id}"]


def test_a_key_decoded_once_verifies_what_its_secret_signs() -> None:
    secret = "whsec_" + "QUJD" * 8
    signature = sign(secret, msg_id="m", timestamp=1_700_000_000, body=b"{}")
    verify(
        signing_key(secret),
        msg_id="m",
        timestamp="1700000000",
        signatures=signature,
        body=b"{}",
        now=1_700_000_000,
    )
