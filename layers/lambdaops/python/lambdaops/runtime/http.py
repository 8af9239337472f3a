"""What every HTTP function shares: the resolver, the error mapping, the caller's identity.

Errors become `{"error": {code, message, details}}` here and nowhere else.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from lambdaops.core.errors import LambdaopsError
from lambdaops.runtime.settings import HttpSettings

Model = TypeVar("Model", bound=BaseModel)


def error_response(status: int, code: str, message: str, **details: Any) -> Response[Any]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"error": {"code": code, "message": message, "details": details}}),
    )


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


def _invalid_request(error: RequestValidationError) -> Response[Any]:
    errors = [_describe(e) for e in error.errors()]
    if any(e["type"] == "json_invalid" for e in errors):
        return error_response(400, "MalformedJson", "the request body is not valid JSON")
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(first["loc"]) or "request"
    return error_response(400, "ValidationError", f"{where}: {first['msg']}", errors=errors)


def _no_route(error: NotFoundError) -> Response[Any]:
    return error_response(404, "RouteNotFound", "no such route")


def build_resolver(logger: Logger) -> APIGatewayRestResolver:
    """A REST resolver with pydantic validation and the project's error shape; bugs go to `logger`."""
    app = APIGatewayRestResolver(enable_validation=True)

    def bug(error: Exception) -> Response[Any]:
        logger.exception("unhandled error")
        return error_response(500, "InternalError", "an internal error occurred; it has been logged")

    app.exception_handler(LambdaopsError)(_domain_error)
    app.exception_handler(RequestValidationError)(_invalid_request)
    app.not_found(_no_route)
    app.exception_handler(Exception)(bug)
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

    For routes that parse their own body (prediction, on its hot path); errors take Powertools'
    validation shape, so the reply is `MalformedJson` or `ValidationError` like every other route's.
    """
    try:
        return model.model_validate_json(body or "")
    except ValidationError as error:
        raise RequestValidationError(
            [{**detail, "loc": ("body", "body", *detail["loc"])} for detail in error.errors()]
        ) from None
