from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from lambdaops_tools.deployment import DEPLOYMENT, Route
from lambdaops_tools.local.gateway import match_route, proxy_event

ROUTES = DEPLOYMENT.routes
SAMPLE_PARAMS = {"name": "churn-model", "version": "1.2.3", "run_id": "20261201-214939-a1b2"}
ACTOR = "arn:aws:iam::123456789012:user/alice"


def concrete(route: Route) -> str:
    path = route.path
    for key, value in SAMPLE_PARAMS.items():
        path = path.replace(f"{{{key}}}", value)
    return path


def route(method: str, path: str) -> Route:
    return next(r for r in ROUTES if r.method == method and r.path == path)


def test_the_contract_routes_are_declared() -> None:
    declared = {(r.method, r.path) for r in ROUTES}
    assert declared >= {
        ("POST", "/models"),
        ("GET", "/models"),
        ("GET", "/models/{name}"),
        ("POST", "/models/{name}/versions"),
        ("GET", "/models/{name}/versions"),
        ("GET", "/models/{name}/versions/{version}"),
        ("PATCH", "/models/{name}/versions/{version}"),
        ("GET", "/models/{name}/compare"),
        ("POST", "/models/{name}/versions/{version}/stage"),
        ("POST", "/models/{name}/rollback"),
        ("GET", "/models/{name}/history"),
    }
    assert len(declared) == len(ROUTES)


@pytest.mark.parametrize("declared", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_every_declared_route_matches_itself(declared: Route) -> None:
    found = match_route(ROUTES, declared.method, concrete(declared))
    assert found is not None
    matched, params = found
    assert matched == declared
    expected = {key: value for key, value in SAMPLE_PARAMS.items() if f"{{{key}}}" in declared.path}
    assert params == expected


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/nope"),
        ("GET", "/models/churn/unknown"),
        ("GET", "/models/churn/versions/1.0.0/stage"),
        ("POST", "/models/churn/versions/1.0.0/stage/extra"),
        ("DELETE", "/models"),
        ("DELETE", "/models/churn"),
        ("PUT", "/models/churn/versions/1.0.0"),
        ("get", "/models"),
        ("GET", "/Models"),
    ],
)
def test_unknown_requests_match_nothing(method: str, path: str) -> None:
    assert match_route(ROUTES, method, path) is None


def test_literal_segments_win_only_where_they_fit() -> None:
    found = match_route(ROUTES, "GET", "/models/compare")
    assert found == (route("GET", "/models/{name}"), {"name": "compare"})
    found = match_route(ROUTES, "GET", "/models/versions/versions")
    assert found == (route("GET", "/models/{name}/versions"), {"name": "versions"})


def test_path_parameters_are_percent_decoded() -> None:
    found = match_route(ROUTES, "GET", "/models/a%20b/versions/1%2E0%2E0")
    assert found == (route("GET", "/models/{name}/versions/{version}"), {"name": "a b", "version": "1.0.0"})


def test_an_encoded_slash_stays_inside_its_parameter() -> None:
    found = match_route(ROUTES, "GET", "/models/a%2Fb")
    assert found == (route("GET", "/models/{name}"), {"name": "a/b"})


def event(
    path: str = "/models/churn/versions?stage=staging",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    declared: Route | None = None,
    params: dict[str, str] | None = None,
) -> dict[str, Any]:
    declared = declared or route("GET", "/models/{name}/versions")
    return proxy_event(
        declared,
        {"name": "churn"} if params is None else params,
        declared.method,
        path,
        headers or {"Content-Type": "application/json"},
        body,
        ACTOR,
    )


def test_proxy_event_shape() -> None:
    result = event("/models/churn/versions?stage=staging&limit=5")
    assert result["resource"] == "/models/{name}/versions"
    assert result["path"] == "/models/churn/versions"
    assert result["httpMethod"] == "GET"
    assert result["pathParameters"] == {"name": "churn"}
    assert result["queryStringParameters"] == {"stage": "staging", "limit": "5"}
    assert result["multiValueQueryStringParameters"] == {"stage": ["staging"], "limit": ["5"]}
    assert result["headers"] == {"Content-Type": "application/json"}
    assert result["multiValueHeaders"] == {"Content-Type": ["application/json"]}
    assert result["stageVariables"] is None
    context = result["requestContext"]
    assert context["resourcePath"] == "/models/{name}/versions"
    assert context["httpMethod"] == "GET"
    assert context["identity"]["userArn"] == ACTOR
    assert context["identity"]["caller"] == ACTOR
    assert context["requestId"]
    assert isinstance(context["requestTimeEpoch"], int)
    assert result["body"] is None
    assert result["isBase64Encoded"] is False
    json.dumps(result)


def test_proxy_event_request_ids_are_unique() -> None:
    assert event()["requestContext"]["requestId"] != event()["requestContext"]["requestId"]


def test_multi_valued_query_keeps_every_value_and_the_last_one_single() -> None:
    result = event("/models/churn/versions?tag=a&tag=b&limit=")
    assert result["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "limit": [""]}
    assert result["queryStringParameters"] == {"tag": "b", "limit": ""}


def test_query_values_are_decoded() -> None:
    result = event("/models/churn/versions?tag=team%3Dfraud&x=a+b")
    assert result["queryStringParameters"] == {"tag": "team=fraud", "x": "a b"}


def test_no_query_and_no_params_are_none() -> None:
    result = event("/models", declared=route("GET", "/models"), params={})
    assert result["queryStringParameters"] is None
    assert result["multiValueQueryStringParameters"] is None
    assert result["pathParameters"] is None


def test_utf8_body_is_passed_as_text() -> None:
    body = json.dumps({"name": "churn", "description": "prévision"}).encode()
    result = event("/models", body=body, declared=route("POST", "/models"), params={})
    assert result["body"] == body.decode()
    assert result["isBase64Encoded"] is False


def test_non_utf8_body_is_base64() -> None:
    body = b"\xff\xfe\x00binary"
    result = event("/models", body=body, declared=route("POST", "/models"), params={})
    assert result["isBase64Encoded"] is True
    assert base64.b64decode(result["body"]) == body
