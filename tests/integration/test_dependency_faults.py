"""Faults of what the API depends on, injected on the shared clients with botocore's event system:
throttled or unavailable services answer 503 with a retry hint and write nothing half-way."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.response import StreamingBody

from lambdaops.aws import clients as aws_clients
from lambdaops_tools.demo.sample_models import TrainedModel, train_logistic_regression
from lambdaops_tools.deployment import DEPLOYMENT
from lambdaops_tools.local.gateway import match_route, proxy_event

from .conftest import ACTOR, Api, table_snapshot

NAME = "churn-classifier"
ROWS = [[24.0, 79.5, 1.0, 12.5], [3.0, 120.0, 4.0, 2.0]]


@contextmanager
def hooked(service: str, event: str, handler: Callable[..., Any]) -> Iterator[list[str]]:
    """`handler` on the shared client's `event`; yields the operations it was called for."""
    calls: list[str] = []

    def recorded(**kwargs: Any) -> Any:
        calls.append(kwargs["model"].name if "model" in kwargs else event)
        return handler(**kwargs)

    events = aws_clients.client(service).meta.events
    events.register(event, recorded)
    try:
        yield calls
    finally:
        events.unregister(event, recorded)


def error_reply(code: str, status: int) -> Callable[..., Any]:
    """A before-call handler answering as the service would, without sending the request."""

    def reply(**_: Any) -> tuple[Any, dict[str, Any]]:
        parsed = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return SimpleNamespace(status_code=status, headers={}), parsed

    return reply


def unreachable(**_: Any) -> None:
    raise EndpointConnectionError(endpoint_url="https://s3.us-east-1.amazonaws.com")


def assert_unavailable(status: int, reply: Any, headers: dict[str, Any], dependency: str) -> None:
    assert status == 503
    assert reply["error"]["code"] == "ServiceUnavailable"
    assert reply["error"]["details"]["dependency"] == dependency
    assert headers["Retry-After"] == ["1"]


def call_with_headers(api: Api, method: str, path: str, body: Any) -> tuple[int, Any, dict[str, Any]]:
    """`Api.call`, keeping the reply's headers."""
    found = match_route(DEPLOYMENT.routes, method, path)
    assert found is not None
    data = json.dumps(body).encode() if body is not None else b""
    headers = {"Content-Type": "application/json"}
    event = proxy_event(found[0], found[1], method, path, headers, data, ACTOR)
    reply = api.functions[found[0].function].invoke(event)
    return reply["statusCode"], json.loads(reply["body"]), reply.get("multiValueHeaders") or {}


@pytest.fixture
def model(api: Api, cache_dir: Path) -> Api:
    assert api.call("POST", "/models", {"name": NAME})[0] == 201
    return api


def register_body(api: Api, version: str, trained: TrainedModel) -> dict[str, Any]:
    return {
        "artifact_uri": api.upload(NAME, version, trained.onnx_bytes),
        "version": version,
        "metrics": trained.metrics,
        "input_schema": trained.input_schema,
    }


@pytest.mark.parametrize(
    "code", ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"]
)
def test_a_registration_dynamodb_throttles_is_503_and_writes_nothing(
    model: Api, trained: TrainedModel, code: str
) -> None:
    body = register_body(model, "1.0.0", trained)
    before = table_snapshot(model.resources)
    event = "before-call.dynamodb.TransactWriteItems"
    with hooked("dynamodb", event, error_reply(code, 400)) as calls:
        status, reply, headers = call_with_headers(model, "POST", f"/models/{NAME}/versions", body)
    assert calls  # the fault was reached: the transaction is the registration's one write
    assert_unavailable(status, reply, headers, "dynamodb")
    assert table_snapshot(model.resources) == before
    status, _ = model.call("POST", f"/models/{NAME}/versions", body)  # the retry the reply asks for
    assert status == 201


def test_a_promotion_dynamodb_throttles_is_503_and_leaves_the_stage(
    model: Api, trained: TrainedModel
) -> None:
    assert model.register(NAME, "1.0.0", trained)[0] == 201
    stage = f"/models/{NAME}/versions/1.0.0/stage"
    assert model.call("POST", stage, {"stage": "staging"})[0] == 200
    before = table_snapshot(model.resources)
    event = "before-call.dynamodb.TransactWriteItems"
    with hooked("dynamodb", event, error_reply("ThrottlingException", 400)) as calls:
        status, reply, headers = call_with_headers(model, "POST", stage, {"stage": "production"})
    assert calls
    assert_unavailable(status, reply, headers, "dynamodb")
    assert table_snapshot(model.resources) == before
    status, version = model.call("GET", f"/models/{NAME}/versions/1.0.0")
    assert (status, version["stage"]) == (200, "staging")


def test_a_transaction_cancelled_for_throttling_is_503_not_a_conflict(
    model: Api, trained: TrainedModel
) -> None:
    body = register_body(model, "1.0.0", trained)
    before = table_snapshot(model.resources)

    def cancelled(**_: Any) -> tuple[Any, dict[str, Any]]:
        parsed = {
            "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
            "CancellationReasons": [{"Code": "ThrottlingError"}, {"Code": "None"}],
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        return SimpleNamespace(status_code=400, headers={}), parsed

    with hooked("dynamodb", "before-call.dynamodb.TransactWriteItems", cancelled) as calls:
        status, reply, headers = call_with_headers(model, "POST", f"/models/{NAME}/versions", body)
    assert calls
    assert_unavailable(status, reply, headers, "dynamodb")
    assert table_snapshot(model.resources) == before


def test_a_throttled_read_is_503_too(model: Api) -> None:
    with hooked("dynamodb", "before-call.dynamodb.GetItem", error_reply("ThrottlingException", 400)):
        status, reply, headers = call_with_headers(model, "GET", f"/models/{NAME}", None)
    assert_unavailable(status, reply, headers, "dynamodb")


@pytest.mark.parametrize(
    "handler",
    [
        error_reply("SlowDown", 503),
        error_reply("ServiceUnavailable", 503),
        error_reply("InternalError", 500),
        unreachable,
    ],
    ids=["SlowDown", "ServiceUnavailable", "InternalError", "EndpointConnectionError"],
)
def test_a_registration_s3_cannot_serve_is_503_and_writes_nothing(
    model: Api, trained: TrainedModel, handler: Callable[..., Any]
) -> None:
    body = register_body(model, "1.0.0", trained)
    before = table_snapshot(model.resources)
    with hooked("s3", "before-call.s3.HeadObject", handler) as calls:
        status, reply, headers = call_with_headers(model, "POST", f"/models/{NAME}/versions", body)
    assert calls
    assert_unavailable(status, reply, headers, "s3")
    assert table_snapshot(model.resources) == before


def test_an_sdk_error_that_is_not_transient_stays_a_logged_500(
    model: Api, trained: TrainedModel, caplog: pytest.LogCaptureFixture
) -> None:
    body = register_body(model, "1.0.0", trained)
    with hooked("s3", "before-call.s3.HeadObject", error_reply("AccessDenied", 403)):
        status, reply, headers = call_with_headers(model, "POST", f"/models/{NAME}/versions", body)
    assert (status, reply["error"]["code"]) == (500, "InternalError")
    assert "Retry-After" not in headers
    [logged] = [record for record in caplog.records if record.message == "unhandled error"]
    assert logged.levelname == "ERROR" and logged.exc_info is not None


@pytest.fixture
def served(model: Api, trained: TrainedModel) -> Api:
    assert model.register(NAME, "1.0.0", trained)[0] == 201
    for stage in ("staging", "production"):
        assert model.call("POST", f"/models/{NAME}/versions/1.0.0/stage", {"stage": stage})[0] == 200
    return model


def test_artifact_bytes_corrupted_on_the_way_from_s3_are_refused_at_predict(served: Api) -> None:
    """The pinned object version cannot change, but what arrives can: it is hashed before it is loaded."""
    other = train_logistic_regression(5).onnx_bytes  # a valid model, not the registered one

    def corrupt(parsed: dict[str, Any], **_: Any) -> None:
        parsed["Body"] = StreamingBody(io.BytesIO(other), len(other))

    with hooked("s3", "after-call.s3.GetObject", corrupt) as calls:
        status, reply = served.call("POST", f"/models/{NAME}/predict", {"instances": ROWS})
    assert calls
    assert (status, reply["error"]["code"]) == (422, "ArtifactIntegrityError")
    assert served.call("POST", f"/models/{NAME}/predict", {"instances": ROWS})[0] == 200
    assert served.functions["predict"].module().capture.flush(timeout=30)  # before moto goes


def test_a_capture_bucket_that_refuses_writes_does_not_stop_predictions(served: Api) -> None:
    """test_background_metrics proves the loss is counted (`CaptureFailures`); here, the reply is served."""
    predict = served.functions["predict"].module()
    with hooked("s3", "before-call.s3.PutObject", error_reply("ServiceUnavailable", 503)) as calls:
        status, reply = served.call("POST", f"/models/{NAME}/predict", {"instances": ROWS})
        assert predict.capture.flush(timeout=30)
    assert calls
    assert status == 200
    assert len(reply["predictions"]) == len(ROWS)


def test_a_prediction_whose_artifact_s3_cannot_serve_is_503_and_served_on_retry(served: Api) -> None:
    predict = f"/models/{NAME}/predict"
    with hooked("s3", "before-call.s3.HeadObject", error_reply("SlowDown", 503)) as calls:
        status, reply, headers = call_with_headers(served, "POST", predict, {"instances": ROWS})
    assert calls  # nothing was cached: the artifact had to be downloaded
    assert_unavailable(status, reply, headers, "s3")
    assert served.call("POST", predict, {"instances": ROWS})[0] == 200
    assert served.functions["predict"].module().capture.flush(timeout=30)  # before moto goes
