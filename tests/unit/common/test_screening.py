"""Input no route can store is refused at the door, on every app built with the kit."""

from datetime import date, datetime
from typing import Annotated

import pytest
from fastapi import FastAPI, Query
from fastapi.testclient import TestClient

from services.common.http.middleware import install_request_middleware
from services.common.http.problems import install_problem_handlers
from services.common.http.schemas import DIGITS, DateText, Instant, RequestModel, omittable
from services.common.http.screening import json_errors, odd_path, query_errors


class Note(RequestModel):
    text: str
    amount: int = 0
    due: datetime | None = None
    remind_at: Instant | None = None
    born: date | None = None
    pinned: bool | None = None
    archived: bool = False
    labels: list[str] = omittable(max_length=3)
    weekdays: list[int] | None = None
    reminders: list[datetime] | None = None


class Slot(RequestModel):
    local_date_times = frozenset({"starts_at"})

    starts_at: datetime
    ends_at: datetime | None = None


app = FastAPI()
install_problem_handlers(app)
install_request_middleware(app)


@app.post("/notes/{note_id}")
def write(note_id: str, note: Note) -> dict[str, object]:
    return {"id": note_id, "text": note.text, "amount": note.amount}


@app.post("/slots")
def book(slot: Slot) -> dict[str, str]:
    return {"starts_at": slot.starts_at.isoformat()}


@app.get("/days")
def days(
    to: DateText | None = None, limit: Annotated[int, Query(ge=1, le=9), DIGITS] = 5
) -> dict[str, object]:
    return {"to": str(to), "limit": limit}


@app.get("/notes")
def search(q: str = "") -> dict[str, str]:
    return {"q": q}


client = TestClient(app, raise_server_exceptions=False)


def _fields(response: object) -> set[str]:
    body = response.json()  # type: ignore[attr-defined]
    return {e["field"] for e in body["errors"]}


def test_a_control_character_in_the_path_is_a_404_problem() -> None:
    for path in ("/notes/%01", "/notes/a%00b", "/notes/%7f"):
        response = client.post(path, json={"text": "x"})
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["x-request-id"]


def test_a_nul_anywhere_in_a_json_body_is_a_422_naming_where() -> None:
    response = client.post("/notes/n1", json={"text": "a\x00b"})
    assert response.status_code == 422
    assert _fields(response) == {"text"}
    assert response.json()["errors"][0]["code"] == "null_character"


def test_an_escaped_backslash_before_u0000_is_ordinary_text() -> None:
    response = client.post(
        "/notes/n1", content=rb'{"text": "a\\u0000"}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 200 and response.json()["text"] == "a\\u0000"


def test_integers_beyond_64_bits_and_non_finite_numbers_are_422s() -> None:
    response = client.post("/notes/n1", json={"text": "x", "amount": 2**64})
    assert response.status_code == 422 and _fields(response) == {"amount"}
    response = client.post(
        "/notes/n1",
        content=b'{"text": "x", "amount": NaN}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422 and _fields(response) == {"amount"}


def test_a_nul_in_a_query_string_is_a_422() -> None:
    response = client.get("/notes", params={"q": "a\x00"})
    assert response.status_code == 422 and _fields(response) == {"q"}
    assert client.get("/notes", params={"q": "数据"}).json() == {"q": "数据"}


def test_unknown_members_are_a_422_naming_them() -> None:
    response = client.post("/notes/n1", json={"text": "x", "status": "banned"})
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["field"], error["code"]) == ("status", "extra_forbidden")


@pytest.mark.parametrize("field", ["due", "remind_at"])
def test_a_date_time_without_offset_is_a_422_on_any_request_model_field(field: str) -> None:
    response = client.post("/notes/n1", json={"text": "x", field: "2026-03-01T09:00:00"})
    assert response.status_code == 422 and _fields(response) == {field}
    ok = client.post("/notes/n1", json={"text": "x", field: "2026-03-01T09:00:00+08:00"})
    assert ok.status_code == 200


def test_a_body_that_is_not_json_is_left_to_the_route_to_refuse() -> None:
    response = client.post(
        "/notes/n1", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and response.json()["errors"][0]["code"] == "json_invalid"


def test_a_body_nested_too_deep_is_a_422_not_a_recursion_error() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    response = client.post("/notes/n1", content=deep, headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_the_checks_themselves() -> None:
    assert odd_path("/a/\x1f") and not odd_path("/a/é")
    assert query_errors(b"a=1&b=%00") == [
        {
            "field": "b",
            "in": "query",
            "message": "NUL characters are not allowed.",
            "code": "null_character",
        }
    ]
    assert [e["field"] for e in json_errors({"a": [1, {"b\x00": "x"}], "c": -(2**63) - 1})] == [
        "a.1.b\x00",
        "c",
    ]
    assert json_errors({"ok": [True, 2**63 - 1, 1.5, None]}) == []


def test_a_body_that_is_not_utf8_is_a_422_about_the_body() -> None:
    response = client.post(
        "/notes/n1", content=b"\xff\xfe\x0e", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"


def test_a_405_names_every_method_the_path_has() -> None:
    response = client.put("/notes/n1")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    multi = FastAPI()
    install_problem_handlers(multi)

    @multi.get("/things")
    def list_things() -> None: ...

    @multi.post("/things")
    def create_thing() -> None: ...

    response = TestClient(multi).delete("/things")
    assert response.status_code == 405 and response.headers["allow"] == "GET, POST"


def test_an_instant_is_a_string_not_a_number_of_seconds() -> None:
    response = client.post("/notes/n1", json={"text": "x", "remind_at": 0})
    assert response.status_code == 422 and _fields(response) == {"remind_at"}


def test_a_405_on_a_literal_path_names_its_own_methods_not_its_neighbours() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/segments/preview")
    def preview() -> None: ...

    @app.get("/segments/{segment_id}")
    def get_segment(segment_id: str) -> None: ...

    response = TestClient(app).options("/segments/preview")
    assert response.status_code == 405 and response.headers["allow"] == "POST"


def test_a_plain_datetime_field_of_a_request_model_is_no_number_either() -> None:
    response = client.post("/notes/n1", json={"text": "x", "due": 1_700_000_000})
    assert response.status_code == 422 and _fields(response) == {"due"}


def test_a_boolean_is_not_a_number() -> None:
    response = client.post("/notes/n1", json={"text": "x", "amount": True})
    assert response.status_code == 422 and _fields(response) == {"amount"}
    response = client.post("/notes/n1", json={"text": "x", "weekdays": [1, False]})
    assert response.status_code == 422 and _fields(response) == {"weekdays"}
    assert client.post("/notes/n1", json={"text": "x", "weekdays": [1, 2]}).status_code == 200


@pytest.mark.parametrize("value", [0, 1, "yes", "true", "off"])
def test_a_boolean_is_true_or_false_not_a_number_or_a_word(value: object) -> None:
    for field in ("pinned", "archived"):
        response = client.post("/notes/n1", json={"text": "x", field: value})
        assert response.status_code == 422 and _fields(response) == {field}
    assert client.post("/notes/n1", json={"text": "x", "pinned": None}).status_code == 200


def test_a_date_is_a_string_and_a_date_time_no_number_spelt_as_text() -> None:
    assert _fields(client.post("/notes/n1", json={"text": "x", "born": 0})) == {"born"}
    assert _fields(client.post("/notes/n1", json={"text": "x", "remind_at": "0.5"})) == {
        "remind_at"
    }
    assert client.post("/notes/n1", json={"text": "x", "born": "2000-01-01"}).status_code == 200


def test_an_omittable_member_may_be_left_out_but_not_null_and_says_so() -> None:
    assert client.post("/notes/n1", json={"text": "x"}).status_code == 200
    assert _fields(client.post("/notes/n1", json={"text": "x", "labels": None})) == {"labels"}
    schema = Note.model_json_schema()["properties"]["labels"]
    assert schema["type"] == "array" and "default" not in schema and "anyOf" not in schema


@pytest.mark.parametrize("body", [{"amount": "2"}, {"weekdays": [1, "2"]}, {"amount": "2.0"}])
def test_a_number_is_a_json_number_not_text(body: dict[str, object]) -> None:
    response = client.post("/notes/n1", json={"text": "x"} | body)
    assert response.status_code == 422 and _fields(response) == set(body)
    assert client.post("/notes/n1", json={"text": "x", "amount": 2}).status_code == 200


def test_a_list_of_date_times_takes_neither_numbers_nor_naive_ones() -> None:
    for reminders in ([0], ["2026-01-01T09:00:00"]):
        response = client.post("/notes/n1", json={"text": "x", "reminders": reminders})
        assert response.status_code == 422 and _fields(response) == {"reminders"}
    ok = client.post("/notes/n1", json={"text": "x", "reminders": ["2026-01-01T09:00:00Z"]})
    assert ok.status_code == 200


def test_a_wall_clock_member_takes_a_date_time_without_offset_and_only_it() -> None:
    assert client.post("/slots", json={"starts_at": "2026-03-02T19:20:00"}).json() == {
        "starts_at": "2026-03-02T19:20:00"
    }
    response = client.post(
        "/slots", json={"starts_at": "2026-03-02T19:20:00", "ends_at": "2026-03-02T20:00:00"}
    )
    assert response.status_code == 422 and _fields(response) == {"ends_at"}


@pytest.mark.parametrize(
    "query", ["to=0", "to=1700000000", "to=20260101", "limit=2.0", "limit=+2", "limit=-5"]
)
def test_a_query_date_is_yyyy_mm_dd_and_a_query_integer_is_digits(query: str) -> None:
    assert client.get(f"/days?{query}").status_code == 422


def test_a_query_date_and_integer_spelt_right_are_taken() -> None:
    assert client.get("/days?to=2026-01-31&limit=7").json() == {"to": "2026-01-31", "limit": 7}


def test_digits_keep_the_query_bounds_in_the_schema() -> None:
    (limit,) = [
        p for p in app.openapi()["paths"]["/days"]["get"]["parameters"] if p["name"] == "limit"
    ]
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 9)
