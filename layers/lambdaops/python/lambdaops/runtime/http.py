"""What every HTTP function shares: the resolver, request decoding, the error mapping, the caller's identity.

Errors become `{"error": {code, message, details}}` here and nowhere else.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Route
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

from lambdaops.aws import faults
from lambdaops.core.errors import DependencyUnavailable, LambdaopsError
from lambdaops.runtime.settings import HttpSettings

Model = TypeVar("Model", bound=BaseModel)

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
MAX_JSON_DEPTH = 64  # the deepest body the API defines is 5 levels; json recurses per level
MAX_NUMBER_DIGITS = 100  # a double has 17 significant digits; Python's int() refuses over 4,300

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_LONG_DIGIT_RUN = b"0" * (MAX_NUMBER_DIGITS + 1)
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_BRACKETS_AS_SQUARE = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKET_OR_QUOTE = bytes(c for c in range(256) if c not in b'[]{}"')


class MalformedJson(LambdaopsError):
    """400: the body is not UTF-8 JSON this API can parse. `details.reason` is `not_utf8`, `not_base64`,
    `too_deep` (nested over `MAX_JSON_DEPTH`) or `number_too_long` (over `MAX_NUMBER_DIGITS` digits);
    plain syntax errors have no reason."""

    status, code = 400, "MalformedJson"


class PayloadTooLarge(LambdaopsError):
    """413: the body is over `MAX_BODY_BYTES`."""

    status, code = 413, "PayloadTooLarge"


class UnsupportedMediaType(LambdaopsError):
    """415: a body whose `Content-Type` is not JSON (`application/json` or `*/*+json`, UTF-8)."""

    status, code = 415, "UnsupportedMediaType"


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


def _check_media_type(content_type: str | None) -> bool:
    """Refuse a type that is not JSON (absent counts as JSON); True for JSON spelled other than the way
    Powertools reads it (`application/json` as a prefix)."""
    if not content_type or not content_type.strip():
        return False
    media, *parameters = (part.strip().lower() for part in content_type.split(";"))
    if media != "application/json" and not ("/" in media and media.endswith("+json")):
        raise UnsupportedMediaType(f"request bodies must be JSON, not '{media}'", content_type=media)
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.strip() == "charset" and value.strip().strip('"') not in ("utf-8", "utf8"):
            raise UnsupportedMediaType("JSON bodies must be UTF-8", content_type=content_type)
    return not content_type.startswith("application/json")


def decode_request(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event with its body checked for size, encoding and media type, and base64 decoded.

    Only POST, PUT and PATCH requests are read; others pass unchanged. Raises `PayloadTooLarge`,
    `UnsupportedMediaType` or `MalformedJson`.
    """
    if event.get("httpMethod") not in _BODY_METHODS:
        return event
    body = event.get("body")
    headers = event.get("headers") or {}
    retype = _check_media_type(_header(headers, "content-type"))  # a typed empty body too
    if not body:
        return event
    encoded = bool(event.get("isBase64Encoded"))
    if encoded:
        if len(body) // 4 * 3 > MAX_BODY_BYTES + 2:
            raise PayloadTooLarge(f"request bodies are limited to {MAX_BODY_BYTES} bytes")
        try:
            raw = base64.b64decode(body, validate=True)
        except binascii.Error:
            raise MalformedJson("the request body is not valid base64", reason="not_base64") from None
    else:
        try:
            raw = body if body.isascii() else body.encode("utf-8")  # isascii is O(1) on str
        except UnicodeEncodeError:
            raise MalformedJson("the request body is not UTF-8", reason="not_utf8") from None
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request bodies are limited to {MAX_BODY_BYTES} bytes")
    if not (encoded or retype):
        return event
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise MalformedJson("the request body is not UTF-8", reason="not_utf8") from None
    if retype:  # a JSON type Powertools does not recognise: let it read the body as the JSON it is
        headers = {key: value for key, value in headers.items() if key.lower() != "content-type"}
        headers["Content-Type"] = "application/json"
    return {**event, "body": text, "isBase64Encoded": False, "headers": headers}


def check_json(text: str) -> None:
    """Refuse (`MalformedJson`) JSON nested deeper than `MAX_JSON_DEPTH` or with a number longer than
    `MAX_NUMBER_DIGITS` digits, before a parser recurses or converts: two byte translations, no parse."""
    data = text.encode("utf-8", "surrogatepass")
    if b"\\" in data:  # without escaped backslashes and quotes, a string ends at the next quote
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Digits and brackets inside strings are allowed, so strings are only taken out when it matters.
    if _LONG_DIGIT_RUN in data.translate(_DIGITS_AS_ZERO) and _LONG_DIGIT_RUN in _outside_strings(
        data
    ).translate(_DIGITS_AS_ZERO):
        raise MalformedJson(f"numbers are limited to {MAX_NUMBER_DIGITS} digits", reason="number_too_long")
    kept = data.translate(None, _NOT_BRACKET_OR_QUOTE)
    if b'"' in kept.replace(b'""', b""):  # some string holds a bracket (or never ends)
        kept = _outside_strings(kept)
    brackets = kept.translate(_BRACKETS_AS_SQUARE, b'"')
    if brackets.count(b"[") > MAX_JSON_DEPTH and _too_deep(brackets):
        raise MalformedJson(f"JSON is limited to {MAX_JSON_DEPTH} levels of nesting", reason="too_deep")


def _outside_strings(data: bytes) -> bytes:
    return b"".join(data.split(b'"')[::2])


def _too_deep(brackets: bytes) -> bool:
    """Each pass removes the innermost pairs, one level. What no pass removes is unmatched: counted as
    levels too, since a parser recurses into unclosed brackets before it finds them unclosed."""
    if b"[" * (MAX_JSON_DEPTH + 1) in brackets:
        return True
    for passes in range(MAX_JSON_DEPTH + 1):
        reduced = brackets.replace(b"[]", b"")
        if reduced == brackets:
            return passes + brackets.count(b"[") > MAX_JSON_DEPTH
        brackets = reduced
    return True


def parse_json(text: str) -> Any:
    """The resolvers' JSON deserializer: `check_json`, then `json.loads`."""
    check_json(text)
    return json.loads(text)


def error_response(status: int, code: str, message: str, **details: Any) -> Response[Any]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"error": {"code": code, "message": message, "details": details}}),
    )


def reply(model: type[BaseModel], status: HTTPStatus = HTTPStatus.OK) -> dict[int, OpenAPIResponse]:
    """A route's `responses=`: its success reply, `model` as JSON with `status`, for the OpenAPI document
    (the document adds the error replies). The handler still answers through `json_response`."""
    content: Any = {content_types.APPLICATION_JSON: {"model": model}}
    return {status.value: {"description": status.phrase, "content": content}}


def own_body(model: type[BaseModel]) -> dict[str, Any]:
    """A route's `openapi_extensions=` documenting the body it parses itself with `parse_body` (which
    Powertools cannot see). `model` must be self-contained: no nested models to reference."""
    schema = model.model_json_schema()
    if "$defs" in schema:
        raise ValueError(f"{model.__name__} nests models; declare the body with Body() instead")
    content = {content_types.APPLICATION_JSON: {"schema": {**schema, "title": model.__name__}}}
    return {"requestBody": {"required": True, "content": content}}


def json_response(body: BaseModel, status: int = HTTPStatus.OK) -> Response[Any]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=body.model_dump_json()
    )


def _describe(error: dict[str, Any]) -> dict[str, Any]:
    location = [str(part) for part in error.get("loc", ())]
    if location and location[0] == "body" and len(location) > 1 and not location[1].isdigit():
        # Powertools puts the body parameter's own name second; the client never sees it.
        location = location[:1] + location[2:]
    return {"loc": location, "type": error.get("type"), "msg": error.get("msg")}


def _domain_error(error: LambdaopsError) -> Response[Any]:
    return error_response(error.status, error.code, error.message, **error.details)


def _dependency_unavailable(error: DependencyUnavailable) -> Response[Any]:
    return Response(
        status_code=error.status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(error.to_body()),
        headers={"Retry-After": str(error.retry_after_seconds)},
    )


def _invalid_request(error: RequestValidationError) -> Response[Any]:
    errors = [_describe(e) for e in error.errors()]
    if any(e["type"] == "json_invalid" for e in errors):
        return error_response(400, "MalformedJson", "the request body is not valid JSON")
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(first["loc"]) or "request"
    return error_response(400, "ValidationError", f"{where}: {first['msg']}", errors=errors)


def _no_route(error: NotFoundError) -> Response[Any]:
    return error_response(404, "RouteNotFound", "no such route")


def _not_json(error: RequestUnsupportedContentType) -> Response[Any]:
    return _domain_error(UnsupportedMediaType("request bodies must be JSON"))


class UnknownParameter(LambdaopsError):
    """400: a query parameter the route does not define; a misspelt filter must not silently widen a
    listing."""

    status, code = 400, "UnknownParameter"


def _refuse_unknown_query(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    route: Route | None = app.context.get("_route")
    given = app.current_event.resolved_query_string_parameters or {}
    if route is not None and given:
        known = {param.alias for param in route.dependant.query_params}
        unknown = sorted(set(given) - known)
        if unknown:
            raise UnknownParameter(
                f"unknown query parameter '{unknown[0]}'", parameters=unknown, allowed=sorted(known)
            )
    return next_middleware(app)


class JsonApiResolver(APIGatewayRestResolver):
    """A REST resolver that decodes every request (`decode_request`) before routing, and parses JSON
    bodies with `parse_json`."""

    def __init__(self) -> None:
        super().__init__(enable_validation=True, json_body_deserializer=parse_json)

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        try:
            decoded = decode_request(event)
        except LambdaopsError as error:  # before routing, so answered here rather than by a handler
            body = json.dumps(error.to_body())
            headers = {"Content-Type": [content_types.APPLICATION_JSON]}
            return {
                "statusCode": error.status,
                "body": body,
                "isBase64Encoded": False,
                "multiValueHeaders": headers,
            }
        return super().resolve(decoded, context)


def build_resolver(logger: Logger) -> APIGatewayRestResolver:
    """A REST resolver with request decoding, pydantic validation and the project's error shape; bugs go
    to `logger`."""
    app = JsonApiResolver()

    def bug(error: Exception) -> Response[Any]:
        logger.exception("unhandled error")
        return error_response(500, "InternalError", "an internal error occurred; it has been logged")

    def sdk_error(error: Exception) -> Response[Any]:
        dependency = faults.is_transient(error)
        if dependency is None:
            return bug(error)
        logger.warning("dependency unavailable", dependency=dependency, error=repr(error))
        return _dependency_unavailable(DependencyUnavailable(dependency))

    app.exception_handler(LambdaopsError)(_domain_error)
    app.exception_handler(DependencyUnavailable)(_dependency_unavailable)
    app.exception_handler(list(faults.SDK_ERRORS))(sdk_error)
    app.exception_handler(RequestValidationError)(_invalid_request)
    app.exception_handler(RequestUnsupportedContentType)(_not_json)
    app.not_found(_no_route)
    app.exception_handler(Exception)(bug)
    app.use([_refuse_unknown_query])
    return app


def caller(app: APIGatewayRestResolver, settings: HttpSettings) -> str:
    """The IAM principal from the request context; locally, the configured local identity."""
    identity = app.current_event.request_context.identity
    return identity.user_arn or identity.caller or settings.local_actor or "anonymous"


def page_limit(limit: int | None, settings: HttpSettings) -> int:
    if limit is None:
        return settings.page_size_default
    return max(1, min(limit, settings.page_size_max))


def parse_body(model: type[Model], body: str | None) -> Model:
    """Validate a body straight from JSON (pydantic-core, faster than json.loads and then validating).

    For routes that parse their own body (prediction, on its hot path); it makes the same `check_json`
    as every other route, and errors take Powertools' validation shape, so the reply is `MalformedJson`
    or `ValidationError` like every other route's.
    """
    check_json(body or "")
    try:
        return model.model_validate_json(body or "")
    except ValidationError as error:
        raise RequestValidationError(
            [{**detail, "loc": ("body", "body", *detail["loc"])} for detail in error.errors()]
        ) from None
