"""The whole API as one OpenAPI 3 document, generated from the HTTP functions' Powertools resolvers.

Each function's resolver documents its own routes and request models; this merges them, gives every path
parameter its pattern and every operation the project's error shape, and writes the result beside the
registry function, which serves it at `GET /openapi.json` (and Swagger UI at `GET /docs`).
`python -m lambdaops_tools.openapi --write` regenerates the file; a test proves it is not stale.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from collections.abc import Iterator, Mapping
from typing import Any

from lambdaops.core.semver import MODEL_NAME_PATTERN, VERSION_PATTERN
from lambdaops.training.schemas import RUN_ID_PATTERN
from lambdaops_tools.deployment import DEPLOYMENT, PROJECT_ROOT, Deployment
from lambdaops_tools.local.local_runtime import LocalFunction
from lambdaops_tools.local.resources import REGION, LocalResources

DOCUMENT_FILE = DEPLOYMENT.function("registry").code_dir / "openapi.json"

PATH_PATTERNS = {"name": MODEL_NAME_PATTERN, "version": VERSION_PATTERN, "run_id": RUN_ID_PATTERN}
"""The pattern of every path parameter the routes use, by name; a route with another one is refused."""

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

ERROR_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "properties": {
            "code": {"type": "string", "description": "Stable and machine-readable, e.g. ModelNotFound"},
            "message": {"type": "string"},
            "details": {"type": "object", "additionalProperties": True},
        },
        "required": ["code", "message", "details"],
    },
    "ErrorResponse": {
        "type": "object",
        "properties": {"error": {"$ref": "#/components/schemas/Error"}},
        "required": ["error"],
    },
}
ERROR_RESPONSE: dict[str, Any] = {
    "description": "An error, in the API's one error shape",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
}

# Powertools documents a 422 with its own validation shape; lambdaops answers validation errors with a
# 400 `ValidationError` in the error shape instead, which "4XX" covers.
_POWERTOOLS_VALIDATION = "422"
_IMPORT_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
}
_REF = re.compile(r'"\$ref": "#/components/schemas/([^"]+)"')


def http_functions(deployment: Deployment = DEPLOYMENT) -> dict[str, LocalFunction]:
    """The functions that serve routes, loaded as the local stack loads them (nothing is called)."""
    resources = LocalResources.declared(deployment)
    served = {route.function for route in deployment.routes}
    return {
        spec.name: LocalFunction(spec, {**_IMPORT_ENVIRONMENT, **resources.environment(spec)})
        for spec in deployment.functions
        if spec.name in served
    }


def project_version() -> str:
    with (PROJECT_ROOT / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def generate(functions: Mapping[str, LocalFunction] | None = None) -> dict[str, Any]:
    """The merged document of `functions` (by default every function that serves a route)."""
    functions = http_functions() if functions is None else functions
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = dict(ERROR_SCHEMAS)
    for name, function in sorted(functions.items()):
        own = json.loads(function.module().app.get_openapi_json_schema())
        for path, item in own.get("paths", {}).items():
            merged = paths.setdefault(path, {})
            for method, operation in item.items():
                if method in merged:
                    raise ValueError(f"{method.upper()} {path} is documented by two functions")
                merged[method] = _operation(operation, name, path) if method in METHODS else operation
        for component, schema in own.get("components", {}).get("schemas", {}).items():
            if schemas.setdefault(component, schema) != schema:
                raise ValueError(f"two functions document different schemas named {component}")
    used = _referenced(paths, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "lambdaops",
            "version": project_version(),
            "description": "Serverless MLOps on AWS: model registry, promotion, prediction, drift, training.",
        },
        # Relative to the document, so the API's stage prefix (`/v1` in API Gateway) is kept.
        "servers": [{"url": "."}],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": {key: schemas[key] for key in sorted(used)}},
    }


def _operation(operation: dict[str, Any], function: str, path: str) -> dict[str, Any]:
    parameters = [_with_pattern(parameter, path) for parameter in operation.get("parameters", [])]
    responses = {
        status: response
        for status, response in operation.get("responses", {}).items()
        if status != _POWERTOOLS_VALIDATION
    }
    return {
        **operation,
        "tags": [function],
        **({"parameters": parameters} if parameters else {}),
        "responses": {**responses, "4XX": ERROR_RESPONSE, "5XX": ERROR_RESPONSE},
    }


def _with_pattern(parameter: dict[str, Any], path: str) -> dict[str, Any]:
    if parameter.get("in") != "path":
        return parameter
    name = parameter["name"]
    if name not in PATH_PATTERNS:
        raise ValueError(f"path parameter {{{name}}} of {path} has no pattern in PATH_PATTERNS")
    schema = parameter.get("schema", {})
    if schema.setdefault("pattern", PATH_PATTERNS[name]) != PATH_PATTERNS[name]:
        raise ValueError(f"{path} gives {{{name}}} a pattern other than PATH_PATTERNS'")
    return {**parameter, "schema": schema}


def _referenced(paths: Mapping[str, Any], schemas: Mapping[str, Any]) -> set[str]:
    """The component schemas `paths` reach, directly or through other schemas."""
    found: set[str] = set()
    pending = list(_refs(paths))
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending += _refs(schemas[name])
    return found


def _refs(value: Any) -> Iterator[str]:
    yield from _REF.findall(json.dumps(value))


def render(document: Mapping[str, Any]) -> str:
    """The document as the shipped file holds it."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lambdaops_tools.openapi", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write it to {DOCUMENT_FILE}")
    parser.add_argument("--check", action="store_true", help="fail if the shipped file is stale")
    args = parser.parse_args(argv)
    text = render(generate())
    if args.write:
        DOCUMENT_FILE.write_text(text)
    elif args.check:
        if not DOCUMENT_FILE.is_file() or DOCUMENT_FILE.read_text() != text:
            print(f"{DOCUMENT_FILE} is stale: run python -m lambdaops_tools.openapi --write", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
