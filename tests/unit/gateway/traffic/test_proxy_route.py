"""The proxy's place among the gateway's routes: the services' paths are matched first, the
gateway's own paths never by the proxy, and a gateway path under a service's is refused."""

from typing import Any

import pytest
from starlette.routing import Match

import gateway.app as gateway_app
from gateway.app import ProxyRoute, create_app
from gateway.settings import GatewaySettings


def _scope(path: str, method: str = "GET") -> dict[str, Any]:
    return {"type": "http", "path": path, "method": method, "root_path": ""}


def test_the_services_paths_are_matched_by_the_proxy_before_any_other_route() -> None:
    first = create_app(GatewaySettings()).router.routes[0]
    assert isinstance(first, ProxyRoute)
    assert first.matches(_scope("/v1/communities/c_1"))[0] == Match.FULL
    assert first.matches(_scope("/v1/communities/c_1/contents", "POST"))[0] == Match.FULL
    assert first.matches(_scope("/v1/metrics/overview"))[0] == Match.FULL


def test_the_gateways_own_paths_and_unknown_ones_pass_the_first_proxy_route_by() -> None:
    first = create_app(GatewaySettings()).router.routes[0]
    for path in ("/v1/api-keys", "/v1/ingest/messages", "/v1/webhooks", "/v1/nowhere", "/health"):
        assert first.matches(_scope(path, "POST"))[0] == Match.NONE, path


def test_head_is_not_forwarded() -> None:
    route = ProxyRoute(services_only=True)
    assert route.methods is not None and "HEAD" not in route.methods
    assert route.matches(_scope("/v1/communities/c_1", "HEAD"))[0] == Match.PARTIAL


def test_a_gateway_route_under_a_services_path_is_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    owned = gateway_app.owned
    monkeypatch.setattr(
        gateway_app, "owned", lambda path: path.startswith("/v1/api-keys") or owned(path)
    )
    with pytest.raises(RuntimeError, match="/v1/api-keys"):
        create_app(GatewaySettings())
