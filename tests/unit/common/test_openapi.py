"""The document a kit app serves says what the app does: problems, ids, names, headers."""

from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Response, status
from fastapi.testclient import TestClient
from pydantic import BaseModel

from services.common.http.openapi import install_openapi, set_location
from services.common.http.pagination import Page, PageParams, page_params
from services.common.http.problems import (
    MEDIA_TYPE,
    ProblemType,
    install_problem_handlers,
    problem_responses,
)
from services.common.runtime import ServiceSpec, create_service_app


class WidgetPublic(BaseModel):
    id: str


class WidgetCreate(BaseModel):
    name: str


class WidgetTaken(ProblemType, status=409, title="Widget taken", detail="{name} is taken."):
    name: str


router = APIRouter(prefix="/v1")


@router.post(
    "/widgets",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(WidgetTaken),
)
def create_widget(body: WidgetCreate, response: Response) -> WidgetPublic:
    if body.name == "taken":
        raise WidgetTaken(name=body.name)
    set_location(response, "/v1/widgets/w1")
    return WidgetPublic(id="w1")


@router.get("/widgets")
def list_widgets_route(params: PageParams = Depends(page_params)) -> Page[WidgetPublic]:
    return Page(data=[], next_cursor=None)


@router.get("/widgets/{widget_id}", responses={409: {"description": "Widget retired."}})
def get_widget(widget_id: str) -> WidgetPublic:
    return WidgetPublic(id=widget_id)


SPEC = ServiceSpec(name="widgets", version="1", routers=[router], migrations_dir=Path("."))
client = TestClient(create_service_app(SPEC), raise_server_exceptions=False)
DOC: dict[str, Any] = client.get("/openapi.json").json()
OPS = DOC["paths"]


def test_operation_ids_are_the_route_names_in_camel_case() -> None:
    assert OPS["/v1/widgets"]["post"]["operationId"] == "createWidget"
    assert OPS["/v1/widgets"]["get"]["operationId"] == "listWidgets"
    assert OPS["/v1/widgets/{widget_id}"]["get"]["operationId"] == "getWidget"


def test_two_routes_with_one_operation_id_fail_at_start_up() -> None:
    clash = APIRouter()

    @clash.get("/a")
    def get_thing() -> None: ...

    @clash.get("/b", name="get_thing")
    def other() -> None: ...

    spec = ServiceSpec(name="clash", version="1", routers=[clash], migrations_dir=Path("."))
    with pytest.raises(RuntimeError, match="getThing"):
        create_service_app(spec)


def test_every_422_is_a_problem_document_and_fastapis_schemas_are_gone() -> None:
    for item in OPS.values():
        for operation in item.values():
            content = operation["responses"]["422"]["content"]
            assert list(content) == [MEDIA_TYPE]
            assert content[MEDIA_TYPE]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "HTTPValidationError" not in DOC["components"]["schemas"]
    assert "ValidationError" not in DOC["components"]["schemas"]
    assert "errors" in DOC["components"]["schemas"]["Problem"]["properties"]


def test_declared_and_bare_error_responses_become_problems() -> None:
    created = OPS["/v1/widgets"]["post"]["responses"]
    assert set(created["409"]["content"][MEDIA_TYPE]["examples"]) == {"widget-taken"}
    retired = OPS["/v1/widgets/{widget_id}"]["get"]["responses"]["409"]
    assert retired["description"].startswith("Widget retired.")
    assert MEDIA_TYPE in retired["content"]


def test_path_parameters_bring_a_404_and_cursors_a_400() -> None:
    assert "404" in OPS["/v1/widgets/{widget_id}"]["get"]["responses"]
    assert "404" not in OPS["/v1/widgets"]["get"]["responses"]
    assert "400" in OPS["/v1/widgets"]["get"]["responses"]


def test_201s_document_and_send_location() -> None:
    assert "Location" in OPS["/v1/widgets"]["post"]["responses"]["201"]["headers"]


def test_generic_schema_names_read_as_words_and_refs_follow() -> None:
    schemas = DOC["components"]["schemas"]
    assert "WidgetPage" in schemas and not any(name.startswith("Page_") for name in schemas)
    ok = OPS["/v1/widgets"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"] == {"$ref": "#/components/schemas/WidgetPage"}


def test_the_document_names_a_server() -> None:
    assert DOC["servers"] == [{"url": "/"}]


def test_a_trailing_slash_is_a_404_not_a_redirect_to_an_internal_address() -> None:
    response = client.get("/v1/widgets/", follow_redirects=False)
    assert response.status_code == 404
    assert "location" not in response.headers


def test_install_openapi_works_on_a_plain_fastapi_app_too() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    install_openapi(app, servers=[{"url": "https://api.example"}])

    @app.get("/things/{thing_id}")
    def get_thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    document = app.openapi()
    assert document["servers"] == [{"url": "https://api.example"}]
    assert (
        MEDIA_TYPE in document["paths"]["/things/{thing_id}"]["get"]["responses"]["404"]["content"]
    )


def test_values_the_database_refuses_are_problems_not_500s() -> None:
    from sqlalchemy.exc import DataError, IntegrityError

    refusing = APIRouter()

    class UniqueViolation(Exception): ...

    class NotNullViolation(Exception): ...

    @refusing.post("/taken")
    def taken() -> None:
        raise IntegrityError("INSERT ...", {"email": "x@y"}, UniqueViolation())

    @refusing.post("/missing")
    def missing() -> None:
        raise IntegrityError("UPDATE ...", {"role": None}, NotNullViolation())

    @refusing.post("/huge")
    def huge() -> None:
        raise DataError("INSERT ...", {"n": 2**40}, Exception())

    spec = ServiceSpec(name="refusing", version="1", routers=[refusing], migrations_dir=Path("."))
    app_client = TestClient(create_service_app(spec), raise_server_exceptions=False)
    assert app_client.post("/taken").status_code == 409
    for path in ("/missing", "/huge"):
        response = app_client.post(path)
        assert response.status_code == 422 and "x@y" not in response.text
