"""The whole API's OpenAPI document: generated from the resolvers, shipped fresh, valid, and served."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdaops.core.semver import MODEL_NAME_PATTERN, VERSION_PATTERN
from lambdaops.training.schemas import RUN_ID_PATTERN
from lambdaops_tools.deployment import DEPLOYMENT
from lambdaops_tools.local.gateway import match_route, proxy_event
from lambdaops_tools.openapi import DOCUMENT_FILE, METHODS, generate, project_version, render

from .conftest import ACTOR, Api

NOT_JSON = {"/docs": "text/html", "/metrics": "text/plain"}
PATTERNS = {"name": MODEL_NAME_PATTERN, "version": VERSION_PATTERN, "run_id": RUN_ID_PATTERN}


@pytest.fixture
def document(api: Api) -> dict[str, Any]:
    served = {route.function for route in DEPLOYMENT.routes}
    return generate({name: f for name, f in api.functions.items() if name in served})


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def get(api: Api, path: str) -> dict[str, Any]:
    found = match_route(DEPLOYMENT.routes, "GET", path)
    assert found is not None
    return api.functions[found[0].function].invoke(
        proxy_event(found[0], found[1], "GET", path, {}, b"", ACTOR)
    )


def test_the_shipped_document_is_a_fresh_generation(document: dict[str, Any]) -> None:
    assert DOCUMENT_FILE.read_text() == render(document), "run: python -m lambdaops_tools.openapi --write"


def test_the_document_is_openapi_3_with_every_declared_route(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.")
    assert document["info"] == {**document["info"], "title": "lambdaops", "version": project_version()}
    documented = {(method, path) for method, path, _ in operations(document)}
    assert documented == {(route.method, route.path) for route in DEPLOYMENT.routes}
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))


def test_every_path_parameter_carries_its_pattern(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        in_path = [p for p in operation.get("parameters", []) if p["in"] == "path"]
        assert {p["name"] for p in in_path} == {s[1:-1] for s in path.split("/") if s.startswith("{")}
        for parameter in in_path:
            assert parameter["required"] is True
            assert parameter["schema"]["pattern"] == PATTERNS[parameter["name"]], (method, path)


def test_every_operation_documents_the_error_shape(document: dict[str, Any]) -> None:
    error = document["components"]["schemas"]["ErrorResponse"]
    assert error["required"] == ["error"]
    assert document["components"]["schemas"]["Error"]["required"] == ["code", "message", "details"]
    for method, path, operation in operations(document):
        responses = operation["responses"]
        assert "422" not in responses, (method, path)  # validation errors are 400s in the error shape
        for status in ("4XX", "5XX"):
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path, status)


def test_every_reference_resolves_and_request_models_are_included(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    schemas = document["components"]["schemas"]
    for name in ("CreateModelRequest", "RegisterVersionRequest", "StageChangeRequest", "TrainingRequest"):
        assert name in schemas
    for ref in {part.split('"')[0] for part in text.split('"$ref": "')[1:]}:
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref


def test_the_document_passes_an_openapi_validator(document: dict[str, Any]) -> None:
    from openapi_spec_validator import validate

    validate(document)


def test_the_registry_serves_the_document_and_the_docs_page(api: Api) -> None:
    reply = get(api, "/openapi.json")
    assert reply["statusCode"] == 200
    assert json.loads(reply["body"]) == json.loads(DOCUMENT_FILE.read_text())
    page = get(api, "/docs")
    assert page["statusCode"] == 200
    assert page["multiValueHeaders"]["Content-Type"] == ["text/html; charset=utf-8"]
    assert 'url: "openapi.json"' in page["body"] and "SwaggerUIBundle" in page["body"]


def test_every_operation_documents_its_success_reply(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for method, path, operation in operations(document):
        success = [status for status in operation["responses"] if status.startswith("2")]
        assert len(success) == 1, (method, path, success)
        content = operation["responses"][success[0]]["content"]
        if path in NOT_JSON:
            assert list(content) == [NOT_JSON[path]], (method, path)
            continue
        assert list(content) == ["application/json"], (method, path)
        schema = content["application/json"]["schema"]
        if path == "/openapi.json":
            assert schema == {"type": "object"}
            continue
        name = schema["$ref"].rsplit("/", 1)[1]
        assert schemas[name]["type"] == "object" and schemas[name]["properties"], (method, path)
    assert operations_by(document)[("POST", "/models")]["responses"].keys() >= {"201"}
    assert operations_by(document)[("POST", "/training")]["responses"].keys() >= {"202"}


def test_the_predict_body_it_parses_itself_is_documented(document: dict[str, Any]) -> None:
    body = operations_by(document)[("POST", "/models/{name}/predict")]["requestBody"]
    assert body["required"] is True
    schema = body["content"]["application/json"]["schema"]
    assert schema["title"] == "PredictRequest"
    assert schema["required"] == ["instances"]
    assert set(schema["properties"]) == {"instances", "version", "routing_key"}
    assert schema["additionalProperties"] is False


def operations_by(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): operation for method, path, operation in operations(document)}
