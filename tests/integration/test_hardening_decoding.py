"""Request decoding through the functions (issue 10, defects 3 and 4): every bad body is a 4xx in the
error shape, and nothing is written."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from lambdaops_tools.deployment import DEPLOYMENT, Route
from lambdaops_tools.local.gateway import match_route, proxy_event

from .conftest import ACTOR, Api, table_snapshot

NAME = "decode-model"
BODY_ROUTES = [route for route in DEPLOYMENT.routes if route.method in ("POST", "PUT", "PATCH")]
PARAMS = {"name": NAME, "version": "1.0.0", "run_id": "20261201-214939-a1b2"}


def concrete(route: Route) -> str:
    path = route.path
    for key, value in PARAMS.items():
        path = path.replace(f"{{{key}}}", value)
    return path


def send(api: Api, method: str, path: str, data: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    found = match_route(DEPLOYMENT.routes, method, path)
    assert found is not None
    return api.invoke(proxy_event(found[0], found[1], method, path, headers, data, ACTOR))


def assert_error(reply: tuple[int, Any], status: int, code: str) -> dict[str, Any]:
    assert reply[0] == status, reply
    assert set(reply[1]) == {"error"}
    error: dict[str, Any] = reply[1]["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    return error


JSON = {"Content-Type": "application/json"}
NOT_JSON = [
    ("text/plain", b'{"name": "x"}'),
    ("application/xml", b"<model><name>x</name></model>"),
    ("multipart/form-data", b'{"name": "x"}'),
    (
        "multipart/form-data; boundary=xyz",
        b'--xyz\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--xyz--',
    ),
    ("application/x-www-form-urlencoded", b"name=x"),
    ("application/json; charset=latin-1", b'{"name": "x"}'),
]


def test_every_body_route_refuses_bytes_that_are_not_utf8(api: Api) -> None:
    # Refused before routing reaches a handler: one stack serves every route, which keeps this quick.
    before = table_snapshot(api.resources)
    for route in BODY_ROUTES:
        reply = send(api, route.method, concrete(route), b'{"name": "\xff\xfe"}', JSON)
        assert assert_error(reply, 400, "MalformedJson")["details"] == {"reason": "not_utf8"}, route
    assert table_snapshot(api.resources) == before


@pytest.mark.parametrize(("content_type", "data"), NOT_JSON, ids=[c for c, _ in NOT_JSON])
def test_every_body_route_refuses_a_body_that_is_not_json(api: Api, content_type: str, data: bytes) -> None:
    for route in BODY_ROUTES:
        reply = send(api, route.method, concrete(route), data, {"Content-Type": content_type})
        assert_error(reply, 415, "UnsupportedMediaType")


def test_an_empty_body_of_another_type_is_not_a_500(api: Api) -> None:
    # Without a body, Powertools reads the type itself on the routes it validates.
    for content_type in ("text/plain", "application/xml", "multipart/form-data"):
        reply = send(api, "POST", "/models", b"", {"Content-Type": content_type})
        assert_error(reply, 415, "UnsupportedMediaType")
    assert_error(send(api, "POST", "/models", b"", JSON), 400, "ValidationError")


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/json",
        "application/json; charset=UTF-8",
        "Application/JSON",
        "application/merge-patch+json",
    ],
)
def test_json_bodies_are_accepted_in_every_json_spelling(api: Api, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    status, body = send(api, "POST", "/models", json.dumps({"name": NAME}).encode(), headers)
    assert status == 201, body
    assert body["name"] == NAME


def test_a_base64_body_is_decoded(api: Api) -> None:
    found = match_route(DEPLOYMENT.routes, "POST", "/models")
    assert found is not None
    event = proxy_event(
        found[0], found[1], "POST", "/models", JSON, json.dumps({"name": NAME}).encode(), ACTOR
    )
    event["body"], event["isBase64Encoded"] = base64.b64encode(event["body"].encode()).decode(), True
    assert api.invoke(event)[0] == 201
    event["body"] = "not base64!"
    assert assert_error(api.invoke(event), 400, "MalformedJson")["details"] == {"reason": "not_base64"}


def test_a_body_over_the_limit_is_413(api: Api) -> None:
    data = b'{"name": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    assert_error(send(api, "POST", "/models", data, JSON), 413, "PayloadTooLarge")


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


DEEP = [
    ("POST", "/models", lambda deep: {"name": NAME, "tags": {"a": deep}}),
    ("POST", "/models", lambda deep: {"name": NAME, "policy": deep}),
    ("PUT", f"/models/{NAME}/traffic", lambda deep: {"routes": deep}),
    ("POST", f"/models/{NAME}/predict", lambda deep: {"instances": deep}),
    ("POST", f"/models/{NAME}/drift", lambda deep: {"rows": deep}),
    ("POST", "/training", lambda deep: {"model": NAME, "dataset_uri": "s3://b/d/", "hyperparameters": deep}),
]


def test_deep_nesting_is_400_everywhere(api: Api) -> None:
    for depth in (3000, 5000):
        for method, path, body in DEEP:
            # json.dumps recurses too, so the nesting is written in by hand.
            data = json.dumps(body("DEEP")).replace('"DEEP"', "[" * depth + "]" * depth).encode()
            error = assert_error(send(api, method, path, data, JSON), 400, "MalformedJson")
            assert error["details"] == {"reason": "too_deep"}, (method, path, depth)


NUMBERS = [
    ("POST", "/models", {"name": NAME, "policy": {"thresholds": [{"metric": "accuracy", "min": "NUMBER"}]}}),
    ("POST", "/models", {"name": NAME, "tags": {"a": "NUMBER"}}),
    ("PUT", f"/models/{NAME}/traffic", {"routes": [{"version": "1.0.0", "weight": "NUMBER"}]}),
    ("POST", f"/models/{NAME}/predict", {"instances": [["NUMBER"]]}),
]


def test_a_5000_digit_number_is_400(api: Api) -> None:
    for method, path, body in NUMBERS:
        data = json.dumps(body).replace('"NUMBER"', "1" * 5000).encode()
        error = assert_error(send(api, method, path, data, JSON), 400, "MalformedJson")
        assert error["details"] == {"reason": "number_too_long"}, (method, path)


def test_nesting_and_digits_within_the_limits_reach_validation(api: Api) -> None:
    data = json.dumps({"name": NAME, "tags": {"a": nested(60)}, "description": "1" * 5000}).encode()
    assert_error(send(api, "POST", "/models", data, JSON), 400, "ValidationError")


def test_requests_without_a_body_are_untouched(api: Api) -> None:
    assert api.call("POST", "/models", {"name": NAME})[0] == 201
    headers = {"Content-Type": "text/plain"}
    assert send(api, "GET", f"/models/{NAME}", b"", headers)[0] == 200
    assert send(api, "GET", "/models", b"\xff not a body", headers)[0] == 200
