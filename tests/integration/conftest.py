"""Handlers and adapters against moto in decorator mode, invoked through the local runtime."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdaops.aws import clients as aws_clients
from lambdaops_tools.demo.sample_models import TrainedModel, train_logistic_regression
from lambdaops_tools.deployment import DEPLOYMENT
from lambdaops_tools.local.gateway import match_route, proxy_event
from lambdaops_tools.local.local_runtime import LocalFunction
from lambdaops_tools.local.resources import (
    LocalResources,
    create_functions_and_state_machines,
    create_local_resources,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"
ACTOR = "arn:aws:iam::123456789012:user/alice"


@pytest.fixture(scope="session")
def trained() -> TrainedModel:
    return train_logistic_regression(300)


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own /tmp file cache, and no routing cache, set before the function is imported."""
    directory = tmp_path / "artifacts"
    monkeypatch.setenv("LAMBDAOPS_ARTIFACT_CACHE_DIR", str(directory))
    monkeypatch.setenv("LAMBDAOPS_ROUTING_CACHE_SECONDS", "0")
    return directory


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalResources]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        aws_clients.reset_clients()
        yield create_local_resources()
    aws_clients.reset_clients()


class Api:
    """Calls the functions as API Gateway would, from proxy events."""

    def __init__(self, resources: LocalResources) -> None:
        self.resources = resources
        self.functions = {
            spec.name: LocalFunction(spec, resources.environment(spec)) for spec in DEPLOYMENT.functions
        }

    def invoke(self, event: dict[str, Any]) -> tuple[int, Any]:
        found = match_route(DEPLOYMENT.routes, event["httpMethod"], event["path"])
        assert found is not None, f"no route for {event['httpMethod']} {event['path']}"
        reply = self.functions[found[0].function].invoke(event)
        return reply["statusCode"], json.loads(reply["body"]) if reply.get("body") else None

    def call(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
        found = match_route(DEPLOYMENT.routes, method, path.split("?", maxsplit=1)[0])
        assert found is not None
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        event = proxy_event(
            found[0], found[1], method, path, {"Content-Type": "application/json"}, data, ACTOR
        )
        return self.invoke(event)

    def upload(self, name: str, version: str, data: bytes) -> str:
        key = f"models/{name}/{version}/model.onnx"
        boto3.client("s3").put_object(Bucket=self.resources.bucket_name, Key=key, Body=data)
        return f"s3://{self.resources.bucket_name}/{key}"

    def register(self, name: str, version: str, model: TrainedModel, **fields: Any) -> tuple[int, Any]:
        body = {
            "artifact_uri": self.upload(name, version, model.onnx_bytes),
            "version": version,
            "metrics": model.metrics,
            "input_schema": model.input_schema,
            **fields,
        }
        return self.call("POST", f"/models/{name}/versions", body)


@pytest.fixture
def api(aws: LocalResources) -> Api:
    return Api(aws)


def sample_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def table_snapshot(resources: LocalResources) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=resources.table_name)["Items"]
    return sorted(items, key=lambda item: (item["PK"]["S"], item["SK"]["S"]))


def deploy_without_upload_trigger(resources: LocalResources) -> None:
    """The deployment's functions and state machines in moto, without the rules' targets: these tests
    invoke the trigger and the scan themselves, and a manifest they write must not start a run behind their
    back (whether or not another test installed the local EventBridge delivery in this process)."""
    create_functions_and_state_machines(resources)
    events = boto3.client("events")
    for rule, target in [
        (DEPLOYMENT.dataset_upload.name, DEPLOYMENT.dataset_upload.function),
        *((schedule.name, schedule.function) for schedule in DEPLOYMENT.schedules),
    ]:
        events.remove_targets(Rule=rule, Ids=[target])
