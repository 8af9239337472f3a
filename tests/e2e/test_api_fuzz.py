"""Schemathesis over the published OpenAPI document, against a local stack of its own, over HTTP.

Every operation gets the document's explicit examples, then boundary cases (the coverage phase) and
random valid and invalid requests (fuzzing). A reply fails when it is a 5xx other than `InferenceFailed`,
when its status, content type or body breaks what the document says, or when an invalid request is
accepted. Bounded (`MAX_EXAMPLES` an operation, a fixed seed) so CI stays within budget and reruns the
same requests; `LAMBDAOPS_FUZZ_EXAMPLES` raises the bound for a longer local hunt.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import ServerError
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from lambdaops_tools.demo.sample_models import train_logistic_regression

from .conftest import RunningStack, running_stack

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = int(os.environ.get("LAMBDAOPS_FUZZ_EXAMPLES", "25"))
SEED = 20261202
MODEL, VERSION = "fuzzed", "1.0.0"
"""A model in production that the examples phase aims at, so requests reach past the 404s."""
SERVER_ERRORS_ALLOWED = {"InferenceFailed"}
"""A model that fails at inference is the model's fault, reported as such; anything else is ours."""


def _seed(stack: RunningStack) -> str:
    """`MODEL` with `VERSION` in production; returns the artifact's URI."""
    model = train_logistic_regression(50)
    uri = stack.upload(f"models/{MODEL}/uploads/model.onnx", model.onnx_bytes)
    client = stack.client
    client.create_model(MODEL, tags={"team": "fuzz"})
    client.register_version(MODEL, uri, version=VERSION, metrics=model.metrics)
    client.set_stage(MODEL, VERSION, "staging")
    client.set_stage(MODEL, VERSION, "production")
    return uri


def _aimed(document: dict[str, Any], artifact_uri: str) -> dict[str, Any]:
    """The document with examples naming the seeded model, so the examples phase reaches real records."""
    examples = {"name": MODEL, "version": VERSION, "run_id": "20261202-000000-abcd"}
    for item in document["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] in examples:
                    parameter["example"] = examples[parameter["name"]]
    register = document["paths"]["/models/{name}/versions"]["post"]["requestBody"]["content"]
    register["application/json"]["example"] = {"artifact_uri": artifact_uri, "bump": "patch"}
    return document


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_stack(tmp_path_factory.mktemp("fuzz-stack")) as stack:
        uri = _seed(stack)
        with urllib.request.urlopen(stack.info["api_url"] + "/openapi.json", timeout=30) as reply:
            document = json.loads(reply.read())
        config = SchemathesisConfig.from_dict(
            {
                "seed": SEED,
                "base-url": stack.info["api_url"],
                "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True},
                "phases": {"stateful": {"enabled": False}},
                "request-timeout": 60,
            }
        )
        yield schemathesis.openapi.from_dict(_aimed(document, uri), config=config)


def _error_code(response: Any) -> str | None:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


def no_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """Schemathesis' `not_a_server_error`, but for the 5xx the API documents as the model's own fault."""
    if response.status_code >= 500 and _error_code(response) not in SERVER_ERRORS_ALLOWED:
        raise ServerError(operation=case.operation.label, status_code=response.status_code)
    return None


CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_the_api_keeps_its_published_contract(case: Any) -> None:
    case.call_and_validate(checks=CHECKS)


def test_only_inference_failures_may_be_server_errors() -> None:
    class Reply:
        def __init__(self, status: int, body: Any) -> None:
            self.status_code, self._body = status, body

        def json(self) -> Any:
            return self._body

    case = SimpleNamespace(operation=SimpleNamespace(label="POST /models/{name}/predict"))
    failed = {"error": {"code": "InferenceFailed", "message": "", "details": {}}}
    assert no_server_error(None, Reply(500, failed), case) is None
    assert no_server_error(None, Reply(404, {"error": {"code": "ModelNotFound"}}), case) is None
    for body in ({"error": {"code": "InternalError"}}, "not json", None):
        with pytest.raises(ServerError):
            no_server_error(None, Reply(503, body), case)
