"""The local gateway over real HTTP: every reply is JSON in the error shape, including the refusals
http.server makes itself (issue 10, defect 8)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any, cast

import pytest

from lambdaops_tools.deployment import DEPLOYMENT
from lambdaops_tools.local.gateway import LocalGateway
from lambdaops_tools.local.local_runtime import LocalFunction


class EchoFunction:
    """Stands in for a `LocalFunction`: answers 200 with the method it was called with."""

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps({"method": event["httpMethod"]})
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": body}


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[str, int]]:
    functions = {spec.name: cast(LocalFunction, EchoFunction()) for spec in DEPLOYMENT.functions}
    server = LocalGateway(("127.0.0.1", 0), DEPLOYMENT.routes, functions, actor="local")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "127.0.0.1", server.server_address[1]
    server.shutdown()
    server.server_close()


def exchange(address: tuple[str, int], request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read the reply to the end (the gateway closes after an error)."""
    with socket.create_connection(address, timeout=10) as connection:
        connection.sendall(request)
        connection.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def assert_json_error(reply: tuple[int, dict[str, str], bytes], status: int, code: str) -> dict[str, str]:
    got, headers, body = reply
    assert got == status, reply
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    return headers


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "CONNECT", "FOO", "PROPFIND"])
def test_a_method_no_route_has_is_405_on_a_declared_path(gateway: tuple[str, int], method: str) -> None:
    reply = exchange(gateway, f"{method} /models HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    headers = assert_json_error(reply, 405, "MethodNotAllowed")
    assert headers["allow"] == "GET, POST"


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "FOO"])
def test_a_method_no_route_has_is_501_elsewhere(gateway: tuple[str, int], method: str) -> None:
    reply = exchange(gateway, f"{method} /nowhere HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert_json_error(reply, 501, "NotImplemented")


def test_head_gets_the_status_and_no_body(gateway: tuple[str, int]) -> None:
    status, headers, body = exchange(gateway, b"HEAD /models HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (status, headers["content-type"], headers["allow"], body) == (
        405,
        "application/json",
        "GET, POST",
        b"",
    )


def test_patch_on_a_route_without_it_is_405(gateway: tuple[str, int]) -> None:
    reply = exchange(gateway, b"PATCH /models HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
    assert_json_error(reply, 405, "MethodNotAllowed")


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "RequestUriTooLong"),
        (
            b"GET /models HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
            431,
            "RequestHeaderFieldsTooLarge",
        ),
        (
            b"GET /models HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n",
            431,
            "RequestHeaderFieldsTooLarge",
        ),
        (b"this is not http\r\n\r\n", 400, "BadRequest"),
        (b"GET /models HTTP/9.9\r\n\r\n", 505, "HttpVersionNotSupported"),
        (b"POST /models HTTP/1.1\r\nContent-Length: lots\r\n\r\n", 400, "BadRequest"),
        (b"POST /models HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n{}", 413, "PayloadTooLarge"),
    ],
    ids=[
        "long-request-line",
        "long-header",
        "many-headers",
        "garbage",
        "version",
        "bad-length",
        "huge-length",
    ],
)
def test_http_servers_own_refusals_are_json(
    gateway: tuple[str, int], request_bytes: bytes, status: int, code: str
) -> None:
    assert_json_error(exchange(gateway, request_bytes), status, code)


def test_routed_requests_still_reach_the_function(gateway: tuple[str, int]) -> None:
    status, _, body = exchange(gateway, b"GET /models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (status, json.loads(body)) == (200, {"method": "GET"})
