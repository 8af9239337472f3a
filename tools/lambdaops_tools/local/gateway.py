"""A local API Gateway: HTTP requests become REST proxy events for the declared routes.

Every reply is JSON, in the error shape when it is an error, including what http.server refuses itself:
a method no route has is 405 `MethodNotAllowed` on a declared path (with `Allow`) and 501 `NotImplemented`
elsewhere; an over-long request line is 414 `RequestUriTooLong`, over-long or too many headers 431
`RequestHeaderFieldsTooLarge`, a request line that does not parse 400 `BadRequest`.

One route exists only here: `POST /_local/schedules/{name}` runs a declared schedule's targets now
(EventBridge fires them in AWS; locally nothing would), and answers when they have run.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from lambdaops_tools.deployment import Route
from lambdaops_tools.local.local_runtime import LocalFunction

_MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


def match_route(routes: tuple[Route, ...], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The declared route for a request, with its path parameters; None if no path matches."""
    segments = [unquote(s) for s in path.split("/") if s]
    for route in routes:
        template = route.path_segments
        if route.method != method or len(template) != len(segments):
            continue
        params: dict[str, str] = {}
        for expected, actual in zip(template, segments, strict=True):
            if expected.startswith("{") and expected.endswith("}"):
                params[expected[1:-1]] = actual
            elif expected != actual:
                break
        else:
            return route, params
    return None


def proxy_event(
    route: Route,
    params: Mapping[str, str],
    method: str,
    raw_path: str,
    headers: Mapping[str, str],
    body: bytes,
    actor: str,
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event, as the deployed API would send it."""
    parts = urlsplit(raw_path)
    query = parse_qs(parts.query, keep_blank_values=True)
    try:
        text, is_base64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode(), True
    request_id = str(uuid.uuid4())
    return {
        "resource": route.path,
        "path": parts.path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": dict(params) or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": method,
            "path": f"/v1{parts.path}",
            "stage": "v1",
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "accountId": "000000000000",
            "apiId": "local",
            "protocol": "HTTP/1.1",
            "identity": {"userArn": actor, "caller": actor, "sourceIp": "127.0.0.1", "user": actor},
        },
        "body": text if body else None,
        "isBase64Encoded": is_base64,
    }


def _error(status: int, code: str, message: str) -> dict[str, Any]:
    body = {"error": {"code": code, "message": message, "details": {}}}
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


class LocalGateway(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        routes: tuple[Route, ...],
        functions: Mapping[str, LocalFunction],
        actor: str,
        fire_schedule: Callable[[str], None] | None = None,
        schedules: tuple[str, ...] = (),
    ) -> None:
        super().__init__(address, _RequestHandler)
        self.routes = routes
        self.functions = functions
        self.actor = actor
        self.fire_schedule = fire_schedule
        self.schedules = schedules

    def dispatch(self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        path = urlsplit(raw_path).path
        if path.startswith(SCHEDULES_PATH) and method == "POST":
            return self._fire(unquote(path.removeprefix(SCHEDULES_PATH)))
        found = match_route(self.routes, method, path)
        if found is None:
            if any(match_route(self.routes, other, path) for other in _METHODS):
                return _error(405, "MethodNotAllowed", f"{method} is not allowed on {path}")
            return _error(404, "RouteNotFound", f"no route for {method} {path}")
        if len(body) > _MAX_BODY_BYTES:
            return _error(413, "PayloadTooLarge", "request bodies are limited to 10 MB")
        route, params = found
        event = proxy_event(route, params, method, raw_path, headers, body, self.actor)
        return self.functions[route.function].invoke(event)

    def _fire(self, name: str) -> dict[str, Any]:
        if self.fire_schedule is None or name not in self.schedules:
            return _error(404, "ScheduleNotFound", f"no schedule named '{name}'")
        self.fire_schedule(name)
        body = json.dumps({"schedule": name, "fired": True})
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": body}


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
SCHEDULES_PATH = "/_local/schedules/"


class _RequestHandler(BaseHTTPRequestHandler):
    server: LocalGateway
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle and delayed ACKs each keep-alive reply waits ~40 ms.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.send_error(HTTPStatus.BAD_REQUEST, "Content-Length is not a number of bytes")
            return
        if length > _MAX_BODY_BYTES:  # refused unread: the connection closes
            self._send_json_error(413, "PayloadTooLarge", "request bodies are limited to 10 MB")
            return
        body = self.rfile.read(length) if length else b""
        headers = {key: value for key, value in self.headers.items()}
        try:
            reply = self.server.dispatch(self.command, self.path, headers, body)
        except Exception as error:  # a crash in a handler is a 502 from API Gateway too
            reply = _error(502, "BadGateway", f"the function failed: {error}")
        payload = reply.get("body") or ""
        data = base64.b64decode(payload) if reply.get("isBase64Encoded") else payload.encode()
        self.send_response(int(reply.get("statusCode", 200)))
        headers = reply.get("multiValueHeaders") or {
            key: [value] for key, value in (reply.get("headers") or {}).items()
        }
        for key, values in headers.items():
            if key.lower() != "content-length":
                for value in values:
                    self.send_header(key, str(value))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (unknown method, over-long line or headers, bad syntax), as JSON."""
        status = HTTPStatus(code)
        if status is HTTPStatus.NOT_IMPLEMENTED and self.command:
            path = urlsplit(self.path).path
            allowed = [method for method in _METHODS if match_route(self.server.routes, method, path)]
            if allowed:
                text = f"{self.command} is not allowed on {path}"
                self._send_json_error(405, "MethodNotAllowed", text, Allow=", ".join(allowed))
                return
            message = f"{self.command} is not implemented"
        name = "".join(word.capitalize() for word in status.name.split("_"))
        self._send_json_error(status, name, message or status.phrase)

    def _send_json_error(self, status: int, code: str, message: str, **headers: str) -> None:
        data = json.dumps({"error": {"code": code, "message": message, "details": {}}}).encode()
        if self.request_version == "HTTP/0.9":  # http.server's default when the request line did not parse
            self.request_version = "HTTP/1.0"  # so the status line and headers are written
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")  # the request may not have been read to its end
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815  (http.server names)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the functions log for themselves."""
