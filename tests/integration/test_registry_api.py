"""The registry function on moto: the contract's happy paths and every bad input, writing nothing."""

from __future__ import annotations

import math
from typing import Any

import boto3
import pytest

from lambdaops_tools.demo.sample_models import TrainedModel

from .conftest import Api, sample_event, table_snapshot

NAME = "churn-classifier"


@pytest.fixture
def model(api: Api) -> str:
    status, _ = api.invoke(sample_event("registry/create_model.json"))
    assert status == 201
    return NAME


def test_sample_events_create_register_and_read(api: Api, model: str, trained: TrainedModel) -> None:
    api.upload(model, "1.0.0", trained.onnx_bytes)
    status, version = api.invoke(sample_event("registry/register_version.json"))
    assert status == 201, version
    assert version["stage"] == "none"
    assert version["created_by"] == "arn:aws:iam::123456789012:user/alice"
    assert version["size_bytes"] == len(trained.onnx_bytes)
    import hashlib

    assert version["sha256"] == hashlib.sha256(trained.onnx_bytes).hexdigest()
    assert version["artifact_version_id"]  # pinned to the S3 object version
    status, got = api.invoke(sample_event("registry/get_model.json"))
    assert status == 200
    assert got["latest_version"] == "1.0.0"
    assert got["production_version"] is None
    assert got["staging_versions"] == []


def test_bump_and_listing_with_pagination(api: Api, model: str, trained: TrainedModel) -> None:
    assert api.register(model, "1.0.0", trained)[0] == 201
    uri = api.upload(model, "next", trained.onnx_bytes)
    versions = []
    for bump in ("patch", "minor", "major", "patch"):
        status, body = api.call("POST", f"/models/{model}/versions", {"artifact_uri": uri, "bump": bump})
        assert status == 201, body
        versions.append(body["version"])
    assert versions == ["1.0.1", "1.1.0", "2.0.0", "2.0.1"]
    seen, token = [], None
    while True:
        query = f"?limit=2&next_token={token}" if token else "?limit=2"
        status, page = api.call("GET", f"/models/{model}/versions{query}")
        assert status == 200
        assert len(page["items"]) <= 2
        seen += [item["version"] for item in page["items"]]
        token = page["next_token"]
        if token is None:
            break
    assert seen == ["2.0.1", "2.0.0", "1.1.0", "1.0.1", "1.0.0"]


def test_filters_by_stage_and_tag(api: Api, model: str, trained: TrainedModel) -> None:
    api.register(model, "1.0.0", trained, tags={"dataset": "2026-10"})
    api.register(model, "1.1.0", trained, tags={"dataset": "2026-11"})
    api.register(model, "1.2.0", trained)
    assert api.call("POST", f"/models/{model}/versions/1.1.0/stage", {"stage": "staging"})[0] == 200
    for query, expected in (
        ("stage=staging&limit=1", ["1.1.0"]),
        ("tag=dataset", ["1.1.0", "1.0.0"]),
        ("tag=dataset%3D2026-10", ["1.0.0"]),
    ):
        status, page = api.call("GET", f"/models/{model}/versions?{query}")
        assert status == 200
        assert [v["version"] for v in page["items"]] == expected, query


def test_list_models_paginates(api: Api) -> None:
    for index in range(5):
        assert api.call("POST", "/models", {"name": f"model-{index}"})[0] == 201
    names, token = [], None
    while True:
        status, page = api.call("GET", "/models?limit=2" + (f"&next_token={token}" if token else ""))
        assert status == 200
        names += [m["name"] for m in page["items"]]
        token = page["next_token"]
        if not token:
            break
    assert names == [f"model-{index}" for index in range(5)]


def test_patch_changes_only_tags_and_description(api: Api, model: str, trained: TrainedModel) -> None:
    api.register(model, "1.0.0", trained)
    status, body = api.call(
        "PATCH", f"/models/{model}/versions/1.0.0", {"tags": {"owner": "bob"}, "description": "re-described"}
    )
    assert status == 200
    assert body["tags"] == {"owner": "bob"}
    assert body["description"] == "re-described"
    assert body["metrics"] == trained.metrics
    status, error = api.call("PATCH", f"/models/{model}/versions/1.0.0", {"metrics": {"accuracy": 1.0}})
    assert (status, error["error"]["code"]) == (400, "ValidationError")


def test_compare(api: Api, model: str, trained: TrainedModel) -> None:
    api.register(model, "1.0.0", trained, params={"epochs": 10}, lineage={"source_commit": "a"})
    api.register(model, "1.1.0", trained, metrics={"accuracy": 0.95}, params={"epochs": 20})
    status, diff = api.call("GET", f"/models/{model}/compare?a=1.0.0&b=1.1.0")
    assert status == 200
    assert diff["metrics"]["accuracy"]["b"] == 0.95
    assert math.isclose(diff["metrics"]["accuracy"]["delta"], 0.95 - trained.metrics["accuracy"])
    assert diff["params"] == {"epochs": {"a": 10, "b": 20}}
    assert diff["lineage"] == {"source_commit": {"a": "a", "b": None}}
    assert diff["input_schema"] == {"added": [], "removed": [], "changed": []}


def _bad_requests(api: Api, trained: TrainedModel) -> list[tuple[str, str, str, Any, bytes | None, int, str]]:
    bucket = api.resources.bucket_name
    good = api.upload(NAME, "good", trained.onnx_bytes)
    garbage = f"s3://{bucket}/models/{NAME}/junk/model.onnx"
    boto3.client("s3").put_object(Bucket=bucket, Key=f"models/{NAME}/junk/model.onnx", Body=b"not a model")
    three = {"features": [{"name": n, "type": "float"} for n in "abc"]}
    versions = f"/models/{NAME}/versions"
    return [
        ("malformed JSON", "POST", "/models", None, b'{"name": ', 400, "MalformedJson"),
        ("missing field", "POST", "/models", {"description": "x"}, None, 400, "ValidationError"),
        (
            "unknown field",
            "POST",
            "/models",
            {"name": "other", "colour": "red"},
            None,
            400,
            "ValidationError",
        ),
        ("invalid model name", "POST", "/models", {"name": "Bad_Name"}, None, 400, "ValidationError"),
        ("existing model", "POST", "/models", {"name": NAME}, None, 409, "ModelAlreadyExists"),
        ("invalid name in path", "GET", "/models/Bad_Name", None, None, 400, "InvalidInput"),
        ("unknown model", "GET", "/models/nope", None, None, 404, "ModelNotFound"),
        ("unknown version", "GET", f"{versions}/9.9.9", None, None, 404, "VersionNotFound"),
        (
            "invalid version",
            "POST",
            versions,
            {"artifact_uri": good, "version": "1.0"},
            None,
            400,
            "ValidationError",
        ),
        (
            "version and bump",
            "POST",
            versions,
            {"artifact_uri": good, "version": "2.0.0", "bump": "major"},
            None,
            400,
            "ValidationError",
        ),
        (
            "NaN metric",
            "POST",
            versions,
            None,
            f'{{"artifact_uri": "{good}", "metrics": {{"accuracy": NaN}}}}'.encode(),
            400,
            "ValidationError",
        ),
        (
            "duplicate version",
            "POST",
            versions,
            {"artifact_uri": good, "version": "1.0.0"},
            None,
            409,
            "VersionAlreadyExists",
        ),
        (
            "outside the bucket",
            "POST",
            versions,
            {"artifact_uri": "s3://elsewhere/models/x.onnx"},
            None,
            422,
            "ArtifactInvalid",
        ),
        (
            "dot-dot",
            "POST",
            versions,
            {"artifact_uri": f"s3://{bucket}/models/{NAME}/../other/m.onnx"},
            None,
            422,
            "ArtifactInvalid",
        ),
        (
            "missing artifact",
            "POST",
            versions,
            {"artifact_uri": f"s3://{bucket}/models/{NAME}/none.onnx"},
            None,
            422,
            "ArtifactInvalid",
        ),
        ("not ONNX", "POST", versions, {"artifact_uri": garbage}, None, 422, "ArtifactInvalid"),
        (
            "schema width",
            "POST",
            versions,
            {"artifact_uri": good, "input_schema": three},
            None,
            422,
            "ArtifactInvalid",
        ),
        (
            "register on unknown model",
            "POST",
            "/models/nope/versions",
            {"artifact_uri": good},
            None,
            404,
            "ModelNotFound",
        ),
        ("bad next_token", "GET", f"{versions}?next_token=%25%25", None, None, 400, "InvalidInput"),
        ("unknown stage filter", "GET", f"{versions}?stage=prod", None, None, 400, "ValidationError"),
    ]


def test_bad_input_gets_a_clear_4xx_and_writes_nothing(api: Api, model: str, trained: TrainedModel) -> None:
    assert api.register(model, "1.0.0", trained)[0] == 201
    cases = _bad_requests(api, trained)
    before = table_snapshot(api.resources)
    for label, method, path, body, raw, status, code in cases:
        got_status, reply = api.call(method, path, body, raw)
        assert (got_status, reply["error"]["code"]) == (status, code), f"{label}: {reply}"
        assert reply["error"]["message"], label
        assert table_snapshot(api.resources) == before, f"{label} wrote to the table"


def test_artifact_rejections_name_the_reason(api: Api, model: str, trained: TrainedModel) -> None:
    bucket = api.resources.bucket_name
    three = {"features": [{"name": n, "type": "float"} for n in "abc"]}
    cases = {
        "outside_bucket": {"artifact_uri": "s3://elsewhere/models/x.onnx"},
        "invalid_path": {"artifact_uri": f"s3://{bucket}/models/{model}/../x.onnx"},
        "missing": {"artifact_uri": f"s3://{bucket}/models/{model}/none.onnx"},
        "schema_mismatch": {
            "artifact_uri": api.upload(model, "1.0.0", trained.onnx_bytes),
            "input_schema": three,
        },
    }
    for reason, body in cases.items():
        status, reply = api.call("POST", f"/models/{model}/versions", body)
        assert status == 422
        assert reply["error"]["details"]["reason"] == reason
    assert reply["error"]["details"] == {"reason": "schema_mismatch", "schema_width": 3, "graph_width": 4}


def test_oversized_artifact_is_413(api: Api, model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDAOPS_MAX_ARTIFACT_BYTES", "10")
    small_limit = Api(api.resources)
    uri = api.upload(model, "1.0.0", b"x" * 11)
    status, reply = small_limit.call("POST", f"/models/{model}/versions", {"artifact_uri": uri})
    assert (status, reply["error"]["code"]) == (413, "ArtifactTooLarge")


def test_registration_publishes_an_event(api: Api, model: str, trained: TrainedModel) -> None:
    events = boto3.client("events")
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="registry-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="registry", EventPattern='{"source": ["lambdaops.registry"]}')
    events.put_targets(Rule="registry", Targets=[{"Id": "q", "Arn": arn}])
    api.register(model, "1.0.0", trained)
    api.call("POST", f"/models/{model}/versions/1.0.0/stage", {"stage": "staging"})
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    import json

    kinds = [json.loads(m["Body"])["detail-type"] for m in messages]
    assert kinds == ["ModelVersionRegistered", "ModelVersionStageChanged"]
    detail = json.loads(messages[1]["Body"])["detail"]
    assert (detail["model"], detail["version"], detail["to_stage"]) == (model, "1.0.0", "staging")


def test_models_are_searched_by_tag_across_pages(api: Api) -> None:
    for index in range(7):
        tags = {"team": "fraud" if index % 3 == 0 else "growth", **({"tier": "gold"} if index == 3 else {})}
        assert api.call("POST", "/models", {"name": f"search-{index}", "tags": tags})[0] == 201
    seen, token = [], None
    while True:
        query = "?tag=team=fraud&limit=1" + (f"&next_token={token}" if token else "")
        status, page = api.call("GET", f"/models{query}")
        assert status == 200, page
        seen += [item["name"] for item in page["items"]]
        token = page["next_token"]
        if token is None:
            break
    assert seen == ["search-0", "search-3", "search-6"]
    assert [m["name"] for m in api.call("GET", "/models?tag=tier")[1]["items"]] == ["search-3"]
    assert api.call("GET", "/models?tag=team=nobody")[1] == {"items": [], "next_token": None}
    status, body = api.call("GET", "/models?tag==gold")
    assert (status, body["error"]["code"]) == (400, "InvalidInput")
    # A token is bound to its listing: the tag's token does not resume the unfiltered one.
    _, first = api.call("GET", "/models?tag=team=growth&limit=1")
    status, body = api.call("GET", f"/models?limit=1&next_token={first['next_token']}")
    assert status == 400, body


@pytest.mark.parametrize(
    ("path", "unknown"),
    [
        ("/models?tags=team=fraud", "tags"),
        ("/models?limit=1&pagesize=2", "pagesize"),
        ("/models/search-0?verbose=1", "verbose"),
    ],
)
def test_unknown_query_parameters_are_refused_not_ignored(api: Api, path: str, unknown: str) -> None:
    status, body = api.call("GET", path)
    assert status == 400, body
    assert body["error"]["code"] == "UnknownParameter"
    assert body["error"]["details"]["parameters"] == [unknown]
