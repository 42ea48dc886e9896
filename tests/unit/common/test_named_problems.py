"""Named problems: defined once, raised by name with typed parameters, listed for OpenAPI."""

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.common.http.problems import (
    MEDIA_TYPE,
    NotFound,
    ProblemKind,
    ProblemType,
    install_problem_handlers,
    not_found,
    problem_responses,
    registered_problems,
)


class GadgetMerged(
    ProblemType,
    status=301,
    title="Gadget merged",
    detail="{gadget_id} was merged into {survivor_id}.",
):
    gadget_id: str
    survivor_id: str

    def response_headers(self) -> dict[str, str]:
        return {"Location": f"/gadgets/{self.survivor_id}"}


class GadgetTooHeavy(
    ProblemType,
    status=422,
    title="Gadget too heavy",
    detail="At most {limit} grams.",
    field="weight",
    slug="gadget-weight",
):
    limit: int


app = FastAPI()
install_problem_handlers(app)


@app.get("/gadgets/{gadget_id}", responses=problem_responses(GadgetMerged, NotFound, 401))
def get_gadget(gadget_id: str) -> dict[str, str]:
    if gadget_id == "old":
        raise GadgetMerged(gadget_id="old", survivor_id="new")
    if gadget_id == "heavy":
        raise GadgetTooHeavy(limit=500)
    raise not_found("gadget", gadget_id)


client = TestClient(app, raise_server_exceptions=False)


def test_a_named_problem_reads_its_detail_from_its_parameters_and_publishes_them() -> None:
    response = client.get("/gadgets/old", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["content-type"] == MEDIA_TYPE
    assert response.headers["location"] == "/gadgets/new"
    assert response.json() == {
        "type": "https://qunyun.io/problems/gadget-merged",
        "title": "Gadget merged",
        "status": 301,
        "detail": "old was merged into new.",
        "instance": "/gadgets/old",
        "gadget_id": "old",
        "survivor_id": "new",
    }


def test_a_422_named_problem_names_its_field_like_validation_errors_do() -> None:
    body = client.get("/gadgets/heavy").json()
    assert body["type"].endswith("/gadget-weight") and body["limit"] == 500
    assert body["errors"] == [
        {"field": "weight", "in": "body", "message": "At most 500 grams.", "code": "gadget-weight"}
    ]


def test_not_found_keeps_its_detail_and_says_what_was_missing() -> None:
    body = client.get("/gadgets/g1").json()
    assert body["status"] == 404 and body["detail"] == "gadget g1 does not exist"
    assert (body["resource"], body["resource_id"]) == ("gadget", "g1")


def test_parameters_are_keyword_only_and_typed_at_construction() -> None:
    with pytest.raises(TypeError):
        GadgetMerged("old", "new")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        GadgetMerged(gadget_id="old")  # type: ignore[call-arg]
    problem = GadgetMerged(gadget_id="old", survivor_id="new")
    assert str(problem) == "old was merged into new."
    assert repr(problem) == "GadgetMerged(gadget_id='old', survivor_id='new')"


def test_every_type_is_registered_with_its_slug_status_and_parameters() -> None:
    kinds = {k.slug: k for k in registered_problems()}
    assert kinds["gadget-merged"] == ProblemKind(
        "gadget-merged",
        301,
        "Gadget merged",
        "{gadget_id} was merged into {survivor_id}.",
        ("gadget_id", "survivor_id"),
    )
    assert kinds["gadget-weight"].field == "weight"
    # The kit's generic problems are listed too.
    assert {"not-found", "validation-error", "unauthorized", "rate-limited"} <= kinds.keys()


def test_a_slug_defined_twice_differently_fails_at_import() -> None:
    with pytest.raises(TypeError, match="defined twice"):

        class GadgetMerged(ProblemType, status=409, title="Other"):
            pass


def test_a_detail_naming_an_unknown_parameter_fails_at_definition() -> None:
    with pytest.raises(TypeError, match="unknown parameters"):

        class Broken(ProblemType, status=409, title="Broken", detail="{nope}"):
            pass


def test_reserved_member_names_cannot_be_parameters() -> None:
    with pytest.raises(TypeError, match="reserved"):

        class Clash(ProblemType, status=409, title="Clash"):
            status_code: int
            title: str


def test_routes_document_their_problems_as_problem_json_with_the_kit_schema() -> None:
    document = client.get("/openapi.json").json()
    responses = document["paths"]["/gadgets/{gadget_id}"]["get"]["responses"]
    for status in ("301", "404", "401"):
        content = responses[status]["content"]
        assert list(content) == [MEDIA_TYPE]
        assert content[MEDIA_TYPE]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert set(responses["301"]["content"][MEDIA_TYPE]["examples"]) == {"gadget-merged"}
    schemas = document["components"]["schemas"]
    members = schemas["Problem"]["properties"].keys()
    assert {"type", "title", "status", "detail", "errors"} <= members
    assert "in" in schemas["FieldError"]["properties"]
