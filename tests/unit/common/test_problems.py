"""The HTTP kit on a tiny app: problem documents, request ids, pagination cursors."""

from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from services.common.http.middleware import install_request_middleware
from services.common.http.pagination import PageParams, decode_cursor, encode_cursor, page_params
from services.common.http.problems import Problem, install_problem_handlers


class Thing(BaseModel):
    name: str
    size: int


app = FastAPI()
install_problem_handlers(app)
install_request_middleware(app)


@app.post("/things/{thing_id}")
def make(thing_id: str, thing: Thing) -> Thing:
    if thing_id == "taken":
        raise Problem(409, "thing-taken", "Thing taken", "Pick another id.", existing_id="t1")
    if thing_id == "boom":
        raise RuntimeError("secret internals")
    return thing


@app.get("/pages")
def pages(params: Annotated[PageParams, Depends(page_params)]) -> dict[str, object]:
    return {"limit": params.limit, "after": decode_cursor(params.cursor) if params.cursor else None}


client = TestClient(app, raise_server_exceptions=False)


def test_validation_errors_name_each_field() -> None:
    response = client.post("/things/a", json={"size": "big"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/validation-error")
    assert {e["field"] for e in body["errors"]} == {"name", "size"}


def test_a_body_that_is_not_json_is_a_422_about_the_body() -> None:
    response = client.post(
        "/things/a", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"


def test_domain_problems_keep_their_type_and_extensions() -> None:
    body = client.post("/things/taken", json={"name": "x", "size": 1}).json()
    assert body["type"].endswith("/thing-taken")
    assert (
        body["status"] == 409
        and body["existing_id"] == "t1"
        and body["instance"] == "/things/taken"
    )


def test_unexpected_errors_are_a_500_problem_without_internals() -> None:
    response = client.post("/things/boom", json={"name": "x", "size": 1})
    assert response.status_code == 500
    assert "secret" not in response.text
    assert response.json()["type"].endswith("/internal-error")


def test_unknown_routes_and_methods_are_problems_too() -> None:
    assert client.get("/nowhere").json()["type"].endswith("/not-found")
    assert client.get("/things/a").json()["type"].endswith("/method-not-allowed")


def test_request_ids_are_echoed_when_sane_and_made_otherwise() -> None:
    assert (
        client.get("/pages", headers={"X-Request-Id": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    made = client.get("/pages", headers={"X-Request-Id": "bad id\n"}).headers["x-request-id"]
    assert made.startswith("req_")


def test_cursors_round_trip_and_garbage_is_a_400() -> None:
    assert decode_cursor(encode_cursor("mbr_01ABC")) == "mbr_01ABC"
    response = client.get("/pages", params={"cursor": "%%%"})
    assert response.status_code == 400
    assert response.json()["type"].endswith("/invalid-cursor")


@pytest.mark.parametrize("limit", [0, 201, -1])
def test_page_limits_are_bounded(limit: int) -> None:
    assert client.get("/pages", params={"limit": limit}).status_code == 422
