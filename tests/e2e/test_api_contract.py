"""The public API as a client meets it: a client generated from `/openapi.json` works, odd
input is a 4xx problem with a request id, nothing leaks an internal address, logs are JSON."""

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.local.stack import Stack
from tests.e2e.api_keys import workspace_key

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def client_api(stack: Stack) -> Iterator[httpx.Client]:
    key = workspace_key(stack, "ws_contract")
    with httpx.Client(
        base_url=stack.url("gateway"), timeout=15, headers={"Authorization": f"Bearer {key}"}
    ) as client:
        yield client


@pytest.fixture(scope="module")
def document(client_api: httpx.Client) -> dict[str, Any]:
    response = client_api.get("/openapi.json")
    assert response.status_code == 200
    doc: dict[str, Any] = response.json()
    return doc


def test_the_document_is_whole_and_true_to_the_wire(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    assert "HTTPValidationError" not in text and "Page_" not in text
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)) and {"createCommunity", "listMembers"} <= set(ids)
    assert document["servers"]
    # All four services and the gateway's own routes are merged in.
    assert {"/v1/communities", "/v1/integrations"} <= document["paths"].keys()
    assert any(p.startswith("/v1/metrics/") for p in document["paths"])


# Lists that answered bare arrays until issue 8; every list pages the same way.
PAGED_LISTS = (
    "/v1/communities/{community_id}/badges",
    "/v1/communities/{community_id}/members/{member_id}/badges",
    "/v1/communities/{community_id}/members/{member_id}/tags",
    "/v1/communities/{community_id}/members/{member_id}/history",
    "/v1/communities/{community_id}/members/{member_id}/stages",
    "/v1/communities/{community_id}/referral-campaigns",
    "/v1/integrations",
    "/v1/contents/{item_id}/revisions",
    "/v1/sops/{playbook_id}/runs",
    "/v1/communities/{community_id}/activities/{activity_id}/sessions",
    "/v1/communities/{community_id}/activities/{activity_id}/draws",
    "/v1/webhooks/event-types",
    "/v1/webhooks/endpoints/{endpoint_id}/messages/{message_id}/attempts",
)


def test_no_list_answers_a_bare_array(document: dict[str, Any]) -> None:
    bare = sorted(
        path
        for path, item in document["paths"].items()
        if "get" in item
        and item["get"]["responses"]
        .get("200", {})
        .get("content", {})
        .get("application/json", {})
        .get("schema", {})
        .get("type")
        == "array"
    )
    assert not bare, bare


@pytest.mark.parametrize("path", PAGED_LISTS)
def test_lists_are_pages_with_a_cursor(document: dict[str, Any], path: str) -> None:
    operation = document["paths"][path]["get"]
    assert {"limit", "cursor"} <= {p["name"] for p in operation["parameters"]}
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert ref.endswith("Page") and set(page["properties"]) == {"data", "next_cursor"}


def test_a_generated_python_client_round_trips(
    document: dict[str, Any], stack: Stack, client_api: httpx.Client, tmp_path: Path
) -> None:
    (tmp_path / "openapi.json").write_text(json.dumps(document))
    (tmp_path / "config.yaml").write_text("post_hooks: []\n")
    generated = subprocess.run(
        [
            str(Path(sys.executable).parent / "openapi-python-client"),
            "generate",
            "--path",
            "openapi.json",
            "--config",
            "config.yaml",
            "--meta",
            "none",
            "--output-path",
            "qunyun_client",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout + generated.stderr, generated.stdout
    sys.path.insert(0, str(tmp_path))
    try:
        qy = importlib.import_module("qunyun_client")
        create = importlib.import_module("qunyun_client.api.communities.create_community")
        get = importlib.import_module("qunyun_client.api.communities.get_community")
        models = importlib.import_module("qunyun_client.models")
        key = client_api.headers["Authorization"].removeprefix("Bearer ")
        client = qy.AuthenticatedClient(base_url=stack.url("gateway"), token=key)

        made = create.sync_detailed(
            client=client,
            body=models.CommunityCreate(
                name="客户端", purpose=models.Purpose.INTEREST, timezone="Asia/Shanghai"
            ),
        )
        assert made.status_code == 201, made.content
        community = made.parsed
        assert isinstance(community, models.CommunityPublic) and community.name == "客户端"

        read = get.sync_detailed(community.id, client=client)
        assert read.status_code == 200 and read.parsed.id == community.id

        invalid = create.sync_detailed(
            client=client,
            body=models.CommunityCreate(
                name="x", purpose=models.Purpose.INTEREST, timezone="Mars/Olympus_Mons"
            ),
        )
        assert invalid.status_code == 422
        assert isinstance(invalid.parsed, models.Problem)
        assert [e.field for e in invalid.parsed.errors] == ["timezone"]

        missing = get.sync_detailed("cmt_missing", client=client)
        assert missing.status_code == 404
        assert isinstance(missing.parsed, models.Problem) and missing.parsed.status == 404
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("qunyun_client")]:
            del sys.modules[name]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/v1/communities/%01", None, 404),
        ("GET", "/v1/communities/a%00b", None, 404),
        ("GET", "/v1/communities/", None, 404),
        ("GET", "/v1/communities?cursor=%00", None, 422),
        ("POST", "/v1/communities", {"name": "a\u0000b", "purpose": "interest"}, 422),
        ("POST", "/v1/communities", {"name": "n", "purpose": "interest", "x": 2**64}, 422),
        ("POST", "/v1/integrations", {"name": "bot", "status": "trusted"}, 422),
    ],
)
def test_odd_input_is_a_problem_with_a_request_id(
    client_api: httpx.Client, method: str, path: str, body: object, status: int
) -> None:
    response = client_api.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["x-request-id"]
    assert "127.0.0.1" not in response.text and "location" not in response.headers


def test_the_readmes_non_ascii_idempotency_key_is_no_500(client_api: httpx.Client) -> None:
    body = {"name": "读书会", "purpose": "interest", "timezone": "Asia/Shanghai"}
    key = "7d1c…".encode()
    first = client_api.post("/v1/communities", json=body, headers={b"Idempotency-Key": key})
    again = client_api.post("/v1/communities", json=body, headers={b"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"


def test_a_created_integration_has_a_location_that_reads_it(client_api: httpx.Client) -> None:
    created = client_api.post("/v1/integrations", json={"name": "bot"})
    assert created.status_code == 201
    read = client_api.get(created.headers["location"])
    assert read.status_code == 200 and read.json()["id"] == created.json()["id"]
    assert "secret" not in read.json()


def test_creating_an_integration_twice_with_one_key_creates_one(client_api: httpx.Client) -> None:
    once = {"Idempotency-Key": "bot-for-group-7"}
    first = client_api.post("/v1/integrations", json={"name": "bot 7"}, headers=once)
    again = client_api.post("/v1/integrations", json={"name": "bot 7"}, headers=once)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["location"] == first.headers["location"]
    other = client_api.post("/v1/integrations", json={"name": "bot 8"}, headers=once)
    assert other.status_code == 422
    assert other.json()["type"].endswith("/idempotency-key-reused")


def test_unsupported_methods_are_405s_naming_the_allowed_ones(client_api: httpx.Client) -> None:
    response = client_api.request("PUT", "/v1/communities")
    assert response.status_code == 405 and response.headers["allow"] == "GET, POST"
    response = client_api.request("PUT", "/v1/integrations")
    assert response.status_code == 405 and response.headers["allow"] == "GET, POST"


def test_without_configured_origins_no_browser_origin_is_allowed(stack: Stack) -> None:
    response = httpx.options(
        stack.url("gateway") + "/v1/communities",
        headers={"Origin": "https://console.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in response.headers


def test_every_log_line_is_json_and_request_lines_carry_the_request_id(
    stack: Stack, client_api: httpx.Client
) -> None:
    client_api.post("/v1/integrations", json={"name": "logged"})
    for name in ("gateway", "members"):
        # Split on newlines only: str.splitlines() also splits on U+2028, \x1c and the like,
        # which JSON leaves raw inside strings (fuzzed group ids carry them).
        lines = [
            line for line in stack.log_path(name).read_text(encoding="utf-8").split("\n") if line
        ]
        assert lines
        entries = [json.loads(line) for line in lines]  # fails on any plain-text line
        for entry in entries:
            assert "whsec_" not in json.dumps(entry, ensure_ascii=False)
            if entry["logger"].startswith(("services.common.http", "gateway.")):
                assert entry.get("request_id"), entry
