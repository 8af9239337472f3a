"""The predict function on moto: sample events, every bad input, sha256 refusals, captures and metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import onnxruntime as ort
import pytest

import lambdaops
from lambdaops.aws.registry_store import DynamoRegistryStore
from lambdaops.core.semver import parse_version
from lambdaops.registry.schemas import TrafficSplit
from lambdaops.registry.store import ModelChange
from lambdaops_tools.demo.sample_models import (
    FEATURES,
    TrainedModel,
    export_failing_model,
    train_logistic_regression,
)
from lambdaops_tools.deployment import DEPLOYMENT

from .conftest import Api, sample_event

NAME = "churn-classifier"
PREDICT = f"/models/{NAME}/predict"
ROWS = [[24.0, 79.5, 1.0, 12.5], [3.0, 120.0, 4.0, 2.0]]


@pytest.fixture
def served(api: Api, cache_dir: Path, trained: TrainedModel) -> Api:
    """A model (without promotion gates) with 1.0.0 in production."""
    assert api.call("POST", "/models", {"name": NAME})[0] == 201
    assert api.register(NAME, "1.0.0", trained)[0] == 201
    for stage in ("staging", "production"):
        assert api.call("POST", f"/models/{NAME}/versions/1.0.0/stage", {"stage": stage})[0] == 200
    return api


@pytest.fixture
def emf(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """Metrics on (the shared fixture turns them off); yields a reader of the EMF documents printed."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")

    def documents(metric: str) -> list[dict[str, Any]]:
        lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
        return [doc for doc in map(json.loads, lines) if metric in doc]

    yield documents


def direct(model: bytes, rows: list[list[float]]) -> list[Any]:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    return list(session.run(None, {"input": np.asarray(rows, dtype=np.float32)})[0].tolist())


def test_sample_events_answer_from_production_a_named_version_and_records(
    served: Api, trained: TrainedModel
) -> None:
    expected = direct(trained.onnx_bytes, ROWS)
    for event, version, variant, predictions in (
        ("predict/predict_production.json", "1.0.0", "production", expected),
        ("predict/predict_records.json", "1.0.0", "production", expected),
        ("predict/predict_version.json", "1.0.0", "requested", expected[:1]),
    ):
        status, reply = served.invoke(sample_event(event))
        assert status == 200, reply
        assert reply == {"predictions": predictions, "model": NAME, "version": version, "variant": variant}


def instances_body(instances: Any) -> bytes:
    return json.dumps({"instances": instances}).encode()


RECORD = dict(zip(FEATURES, ROWS[0], strict=True))
BAD_INPUTS: list[tuple[str, bytes, int, str, dict[str, Any]]] = [
    ("wrong width", instances_body([ROWS[0], [1.0, 2.0, 3.0]]), 400, "InvalidInput", {"row": 1}),
    (
        "missing feature",
        instances_body([{k: v for k, v in RECORD.items() if k != "usage_hours"}]),
        400,
        "InvalidInput",
        {"row": 0, "feature": "usage_hours"},
    ),
    (
        "unknown feature",
        instances_body([{**RECORD, "age": 41}]),
        400,
        "InvalidInput",
        {"row": 0, "feature": "age"},
    ),
    (
        "string for a number",
        instances_body([ROWS[0], [24.0, "79.5", 1.0, 12.5]]),
        400,
        "InvalidInput",
        {"row": 1, "feature": "monthly_spend"},
    ),
    (
        "boolean for a number",
        instances_body([[24.0, 79.5, True, 12.5]]),
        400,
        "InvalidInput",
        {"row": 0, "feature": "support_tickets"},
    ),
    (
        "NaN",
        b'{"instances": [[24.0, 79.5, 1.0, 12.5], [NaN, 1, 2, 3]]}',
        400,
        "InvalidInput",
        {"row": 1, "feature": "tenure_months", "reason": "not_finite"},
    ),
    (
        "Infinity",
        b'{"instances": [[24.0, Infinity, 1.0, 12.5]]}',
        400,
        "InvalidInput",
        {"row": 0, "feature": "monthly_spend", "reason": "not_finite"},
    ),
    (
        "-Infinity in a record",
        b'{"instances": [{"tenure_months": 1, "monthly_spend": 2, "support_tickets": 3, '
        b'"usage_hours": -Infinity}]}',
        400,
        "InvalidInput",
        {"row": 0, "feature": "usage_hours", "reason": "not_finite"},
    ),
    ("empty list", instances_body([]), 400, "InvalidInput", {"reason": "no_instances"}),
    (
        "more rows than the maximum",
        instances_body([ROWS[0]] * 1001),
        413,
        "TooManyInstances",
        {"count": 1001, "max_instances": 1000},
    ),
    ("malformed JSON", b'{"instances": [[1, 2', 400, "MalformedJson", {}),
    ("no instances field", b'{"version": "1.0.0"}', 400, "ValidationError", {}),
    ("unknown field", b'{"instances": [[1, 2, 3, 4]], "verison": "1.0.0"}', 400, "ValidationError", {}),
    ("version not semver", b'{"instances": [[1, 2, 3, 4]], "version": "latest"}', 400, "ValidationError", {}),
    ("instances not a list", b'{"instances": {"a": 1}}', 400, "ValidationError", {}),
]


@pytest.mark.parametrize(
    ("body", "status", "code", "details"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_every_bad_input_is_a_4xx_in_the_contracts_shape(
    served: Api, body: bytes, status: int, code: str, details: dict[str, Any]
) -> None:
    got_status, reply = served.call("POST", PREDICT, raw=body)
    assert (got_status, reply["error"]["code"]) == (status, code), reply
    assert set(reply) == {"error"}
    assert set(reply["error"]) == {"code", "message", "details"}
    assert reply["error"]["message"]
    assert details.items() <= reply["error"]["details"].items()


def test_unknown_model_unknown_version_and_no_production(
    api: Api, cache_dir: Path, trained: TrainedModel
) -> None:
    status, reply = api.call("POST", "/models/nope/predict", {"instances": ROWS})
    assert (status, reply["error"]["code"]) == (404, "ModelNotFound")
    assert api.call("POST", "/models", {"name": NAME})[0] == 201
    assert api.register(NAME, "1.0.0", trained)[0] == 201
    status, reply = api.call("POST", PREDICT, {"instances": ROWS})
    assert (status, reply["error"]["code"]) == (409, "NoProductionVersion")
    status, reply = api.call("POST", PREDICT, {"instances": ROWS, "version": "9.9.9"})
    assert (status, reply["error"]["code"]) == (404, "VersionNotFound")
    assert api.call("POST", PREDICT, {"instances": ROWS, "version": "1.0.0"})[0] == 200


def test_a_tampered_file_cache_is_refused_end_to_end(served: Api, cache_dir: Path, emf: Any) -> None:
    """A warm container's /tmp survives its processes; bytes changed there must never be loaded."""
    assert served.call("POST", PREDICT, {"instances": ROWS})[0] == 200
    [cached] = list(cache_dir.iterdir())
    cached.write_bytes(train_logistic_regression(5).onnx_bytes)  # a valid model, but not the registered one
    restarted = Api(served.resources)  # a new process of the same container: empty memory, same /tmp
    status, reply = restarted.call("POST", PREDICT, {"instances": ROWS})
    assert (status, reply["error"]["code"]) == (422, "ArtifactIntegrityError")
    assert reply["error"]["details"]["source"] == "file_cache"
    assert not cached.exists()
    [failure] = emf("ArtifactIntegrityFailures")
    # Service-level only, the dimensions the ArtifactIntegrityAlarm watches.
    assert failure["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert (failure["service"], failure["ArtifactIntegrityFailures"]) == ("lambdaops-predict", [1.0])
    assert restarted.call("POST", PREDICT, {"instances": ROWS})[0] == 200  # downloaded and checked again


def test_an_overwritten_unpinned_artifact_is_refused_end_to_end(served: Api, trained: TrainedModel) -> None:
    """A version registered before the bucket was versioned has no object version to pin (its
    `artifact_version_id` is null), so an overwrite of its key is exactly what the sha256 check is for."""
    table = served.resources.table_name
    dynamodb = boto3.client("dynamodb")
    key = {"PK": {"S": f"MODEL#{NAME}"}, "SK": {"S": f"VERSION#{parse_version('1.0.0').sort_key}"}}
    doc = json.loads(dynamodb.get_item(TableName=table, Key=key)["Item"]["doc"]["S"])
    doc["artifact_version_id"] = None
    dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET doc = :doc",
        ExpressionAttributeValues={":doc": {"S": json.dumps(doc)}},
    )
    served.upload(NAME, "1.0.0", train_logistic_regression(5).onnx_bytes)
    status, reply = served.call("POST", PREDICT, {"instances": ROWS})
    assert (status, reply["error"]["code"]) == (422, "ArtifactIntegrityError")
    assert reply["error"]["details"]["source"] == "s3"
    served.upload(NAME, "1.0.0", trained.onnx_bytes)  # the right bytes back: served again
    assert served.call("POST", PREDICT, {"instances": ROWS})[0] == 200


def test_captured_predictions_land_in_s3_as_json_lines(served: Api, trained: TrainedModel) -> None:
    served.call("POST", PREDICT, {"instances": ROWS})
    served.call("POST", PREDICT, {"instances": [RECORD], "routing_key": "customer-1"})
    assert served.functions["predict"].module().capture.flush(timeout=30)
    s3 = boto3.client("s3")
    bucket = served.resources.bucket_name
    keys = [obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket, Prefix="captures/")["Contents"]]
    assert all(key.startswith(f"captures/{NAME}/dt=") and "/hour=" in key for key in keys)
    assert all(key.endswith(".jsonl") for key in keys)
    records = [
        json.loads(line)
        for key in keys
        for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
    ]
    expected = direct(trained.onnx_bytes, ROWS)
    assert sorted((json.dumps(r["features"], sort_keys=True), r["prediction"]) for r in records) == sorted(
        [
            (json.dumps(dict(zip(FEATURES, row, strict=True)), sort_keys=True), p)
            for row, p in zip(ROWS, expected, strict=True)
        ]
        + [(json.dumps(RECORD, sort_keys=True), expected[0])]
    )
    assert {(r["model"], r["version"], r["variant"]) for r in records} == {(NAME, "1.0.0", "production")}
    assert all(r["at"].endswith("Z") and "shadow" not in r for r in records)


def test_emf_metrics_carry_model_version_and_variant(served: Api, emf: Any) -> None:
    assert served.call("POST", PREDICT, {"instances": ROWS, "version": "1.0.0"})[0] == 200
    [doc] = emf("Invocations")
    [directive] = doc["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "lambdaops"
    # Per arm, which the canary reads, and per service, which the p99 alarm over every model reads.
    assert [sorted(dimensions) for dimensions in directive["Dimensions"]] == [
        ["model", "service", "variant", "version"],
        ["service"],
    ]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "Invocations": "Count",
        "Errors": "Count",
        "Latency": "Milliseconds",
    }
    assert (doc["model"], doc["version"], doc["variant"], doc["service"]) == (
        NAME,
        "1.0.0",
        "requested",
        "lambdaops-predict",
    )
    assert (doc["Invocations"], doc["Errors"]) == ([1.0], [0.0])
    assert doc["Latency"][0] > 0


def test_an_inference_failure_is_a_500_and_an_error_metric(
    served: Api, trained: TrainedModel, emf: Any
) -> None:
    broken = TrainedModel(export_failing_model(), trained.metrics, {}, trained.input_schema)
    assert served.register(NAME, "1.1.0", broken)[0] == 201
    status, reply = served.call("POST", PREDICT, {"instances": ROWS, "version": "1.1.0"})
    assert (status, reply["error"]["code"]) == (500, "InferenceFailed")
    assert (reply["error"]["details"]["model"], reply["error"]["details"]["version"]) == (NAME, "1.1.0")
    [doc] = emf("Invocations")
    assert (doc["version"], doc["variant"], doc["Invocations"], doc["Errors"]) == (
        "1.1.0",
        "requested",
        [1.0],
        [1.0],
    )
    assert "Latency" in doc


def test_a_split_routes_sticky_arms_and_captures_its_shadow(served: Api) -> None:
    weaker = train_logistic_regression(200, dropped_features=("support_tickets",))
    assert served.register(NAME, "1.1.0", weaker)[0] == 201
    assert served.register(NAME, "1.2.0", train_logistic_regression(50))[0] == 201
    store = DynamoRegistryStore(boto3.client("dynamodb"), served.resources.table_name)
    state = store.get_model(NAME)
    assert state is not None
    split = TrafficSplit.model_validate(
        {
            "routes": [
                {"version": "1.0.0", "weight": 50, "variant": "control"},
                {"version": "1.1.0", "weight": 50, "variant": "treatment"},
            ],
            "shadow": {"version": "1.2.0", "sample_rate": 1.0},
        }
    )
    store.commit(
        ModelChange(
            model=NAME,
            expected_revision=state.revision,
            production_version=state.record.production_version,
            staging_versions=tuple(state.record.staging_versions),
            latest_version=state.record.latest_version,
            production_history=state.production_history,
            traffic=split,
            at="2026-11-24T09:00:00.000Z",
        )
    )
    replies = {}
    for user in range(20):
        status, reply = served.call("POST", PREDICT, {"instances": ROWS[:1], "routing_key": f"user-{user}"})
        assert status == 200, reply
        replies[user] = reply
        again = served.call("POST", PREDICT, {"instances": ROWS[:1], "routing_key": f"user-{user}"})[1]
        assert again["variant"] == reply["variant"]
    assert {r["variant"] for r in replies.values()} == {"control", "treatment"}
    assert {(r["variant"], r["version"]) for r in replies.values()} == {
        ("control", "1.0.0"),
        ("treatment", "1.1.0"),
    }
    assert served.functions["predict"].module().capture.flush(timeout=30)
    s3 = boto3.client("s3")
    bucket = served.resources.bucket_name
    shadows = [
        json.loads(line)["shadow"]
        for obj in s3.list_objects_v2(Bucket=bucket, Prefix=f"captures/{NAME}/")["Contents"]
        for line in s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode().splitlines()
    ]
    assert len(shadows) == 40
    assert {shadow["version"] for shadow in shadows} == {"1.2.0"}


def test_the_predict_function_imports_neither_scipy_nor_the_xray_sdk(tmp_path: Path) -> None:
    """Its cold start pays for every import: the module alone must not pull in the heavy ones."""
    spec = DEPLOYMENT.function("predict")
    code = (
        "import importlib.util, json, sys\n"
        f"location = importlib.util.spec_from_file_location('predict_handler', {str(spec.module_file)!r})\n"
        "module = importlib.util.module_from_spec(location)\n"
        "sys.modules['predict_handler'] = module\n"
        "location.loader.exec_module(module)\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(Path(lambdaops.__file__).parents[1]),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LAMBDAOPS_TABLE_NAME": "lambdaops-registry",
        "LAMBDAOPS_BUCKET_NAME": "lambdaops-artifacts",
        "LAMBDAOPS_ARTIFACT_CACHE_DIR": str(tmp_path),
    }
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    imported = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert {"numpy", "aws_lambda_powertools", "lambdaops"} <= imported
    assert not imported & {"scipy", "aws_xray_sdk", "moto", "onnx", "pandas", "sklearn"}
