"""The operations function on moto: `GET /health` per dependency, and `GET /metrics` over what the
functions emitted (EMF through the local runtime into moto's CloudWatch), read as Prometheus would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lambdaops.aws import clients as aws_clients
from lambdaops.aws.cloudwatch_series import MAX_QUERIES, CloudWatchSeries
from lambdaops.operations.collector import SeriesId, StatQuery
from lambdaops_tools.demo.sample_models import TrainedModel
from lambdaops_tools.deployment import DEPLOYMENT
from lambdaops_tools.local.gateway import match_route, proxy_event
from lambdaops_tools.local.local_runtime import LocalFunction, install_percentiles
from lambdaops_tools.local.resources import LocalResources

from .conftest import ACTOR, Api

NAME = "churn-classifier"
ROWS = [[24.0, 79.5, 1.0, 12.5], [3.0, 120.0, 4.0, 2.0]]


def get(function: LocalFunction, path: str) -> dict[str, Any]:
    found = match_route(DEPLOYMENT.routes, "GET", path)
    assert found is not None and found[0].function == function.spec.name
    return function.invoke(proxy_event(found[0], found[1], "GET", path, {}, b"", ACTOR))


def operations(resources: LocalResources, **environment: str) -> LocalFunction:
    spec = DEPLOYMENT.function("operations")
    return LocalFunction(spec, resources.environment(spec) | environment)


@pytest.fixture
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    install_percentiles()  # moto's one CloudWatch gap here, filled as the local stack fills it


@pytest.fixture
def served(api: Api, cache_dir: Path, trained: TrainedModel) -> Api:
    assert api.call("POST", "/models", {"name": NAME})[0] == 201
    assert api.register(NAME, "1.0.0", trained)[0] == 201
    for stage in ("staging", "production"):
        assert api.call("POST", f"/models/{NAME}/versions/1.0.0/stage", {"stage": stage})[0] == 200
    assert api.register(NAME, "1.1.0", trained)[0] == 201
    assert api.call("POST", f"/models/{NAME}/versions/1.1.0/stage", {"stage": "staging"})[0] == 200
    return api


def test_health_is_200_with_each_dependency_checked_and_timed(aws: LocalResources) -> None:
    reply = get(operations(aws), "/health")
    assert reply["statusCode"] == 200
    body = json.loads(reply["body"])
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"table", "bucket", "cloudwatch"}
    for check in body["checks"].values():
        assert check["ok"] is True and check["latency_ms"] >= 0 and check.get("detail") is None


@pytest.mark.parametrize(
    ("variable", "failing"),
    [("LAMBDAOPS_BUCKET_NAME", "bucket"), ("LAMBDAOPS_TABLE_NAME", "table")],
)
def test_a_missing_dependency_is_a_503_in_the_same_shape_never_a_500(
    aws: LocalResources, variable: str, failing: str
) -> None:
    reply = get(operations(aws, **{variable: "lambdaops-does-not-exist"}), "/health")
    assert reply["statusCode"] == 503
    body = json.loads(reply["body"])
    assert body["status"] == "unavailable"
    assert set(body["checks"]) == {"table", "bucket", "cloudwatch"}
    assert body["checks"][failing]["ok"] is False
    assert body["checks"][failing]["latency_ms"] >= 0
    assert body["checks"][failing]["detail"]  # the error's type and message
    assert all(check["ok"] for name, check in body["checks"].items() if name != failing)


def test_an_unreachable_dependency_is_a_503_within_the_timeout(
    aws: LocalResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CloudWatch at a closed port: connection refused, reported as that check's failure."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", "http://127.0.0.1:9")
    aws_clients.reset_clients()
    reply = get(operations(aws, LAMBDAOPS_HEALTH_TIMEOUT_SECONDS="2"), "/health")
    body = json.loads(reply["body"])
    assert reply["statusCode"] == 503
    assert body["checks"]["cloudwatch"]["ok"] is False
    assert body["checks"]["table"]["ok"] and body["checks"]["bucket"]["ok"]


def families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_metrics_expose_the_predictions_functions_emitted_with_stages_from_the_registry(
    served: Api, metrics_on: None
) -> None:
    predict = f"/models/{NAME}/predict"
    for _ in range(3):
        assert served.call("POST", predict, {"instances": ROWS})[0] == 200
    assert served.call("POST", predict, {"instances": ROWS, "version": "1.1.0"})[0] == 200
    assert served.call("POST", predict, {"instances": [[1.0, 2.0]]})[0] == 400  # invalid: not an invocation

    reply = get(operations(served.resources), "/metrics")

    assert reply["statusCode"] == 200
    assert reply["multiValueHeaders"]["Content-Type"] == ["text/plain; version=0.0.4; charset=utf-8"]
    text = reply["body"]
    production = (("model", NAME), ("variant", "production"), ("version", "1.0.0"))
    requested = (("model", NAME), ("variant", "requested"), ("version", "1.1.0"))
    assert samples(text, "lambdaops_predictions_total") == {production: 3.0, requested: 1.0}
    assert samples(text, "lambdaops_prediction_errors_total") == {production: 0.0, requested: 0.0}
    assert samples(text, "lambdaops_prediction_invalid_inputs_total") == {production: 1.0}
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert set(samples(text, "lambdaops_predictions_created").values()) == {midnight.timestamp()}
    assert samples(text, "lambdaops_prediction_latency_seconds_count") == {production: 3.0, requested: 1.0}
    latency = samples(text, "lambdaops_prediction_latency_seconds")
    assert {dict(labels)["quantile"] for labels in latency} == {"0.5", "0.9", "0.99"}
    assert all(0 < seconds < 5 for seconds in latency.values())  # seconds, not milliseconds
    total = samples(text, "lambdaops_prediction_latency_seconds_sum")[production]
    assert 0 < total < 3 * max(latency.values()) + 1e-9
    assert families(text)["lambdaops_prediction_latency_seconds"].type == "summary"
    assert samples(text, "lambdaops_model_stage_info") == {
        (("model", NAME), ("stage", "production"), ("version", "1.0.0")): 1.0,
        (("model", NAME), ("stage", "staging"), ("version", "1.1.0")): 1.0,
    }


def put_series(namespace: str, metric: str, value: float, **dimensions: str) -> None:
    boto3.client("cloudwatch").put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                "Timestamp": datetime.now(UTC),
                "Value": value,
            }
        ],
    )


def test_drift_and_training_series_and_other_services_predictions(aws: LocalResources) -> None:
    drift, pipeline = "lambdaops-drift", "lambdaops-pipeline"
    # Dimensions put in EMF's order, not sorted: reading them back must not depend on their order.
    put_series("lambdaops", "DriftScore", 0.42, service=drift, model="m", feature="tenure")
    put_series("lambdaops", "DatasetDrift", 1.0, service=drift, model="m")
    put_series("lambdaops", "TrainingRuns", 1.0, service=pipeline, model="m", status="failed")
    put_series("lambdaops", "TrainingRuns", 1.0, service=pipeline, model="m", status="failed")
    put_series("lambdaops", "TrainingRuns", 1.0, service=pipeline, model="m", status="succeeded")
    # Not the predict function's: the prediction families leave it out.
    put_series(
        "lambdaops", "Invocations", 1.0, service="someone-else", model="m", version="1.0.0", variant="x"
    )

    text = get(operations(aws), "/metrics")["body"]

    assert samples(text, "lambdaops_feature_drift_score") == {(("feature", "tenure"), ("model", "m")): 0.42}
    assert samples(text, "lambdaops_dataset_drift") == {(("model", "m"),): 1.0}
    assert samples(text, "lambdaops_training_runs_total") == {
        (("model", "m"), ("status", "failed")): 2.0,
        (("model", "m"), ("status", "succeeded")): 1.0,
    }
    assert samples(text, "lambdaops_predictions_total") == {}


def test_metrics_are_read_once_per_cache_time(aws: LocalResources) -> None:
    function = operations(aws, LAMBDAOPS_METRICS_CACHE_SECONDS="3600")
    put_series("lambdaops", "TrainingRuns", 1.0, service="lambdaops-pipeline", model="m", status="failed")
    first = get(function, "/metrics")["body"]
    put_series("lambdaops", "TrainingRuns", 1.0, service="lambdaops-pipeline", model="m", status="failed")
    assert get(function, "/metrics")["body"] == first  # the snapshot is kept, timestamp included
    fresh = get(operations(aws, LAMBDAOPS_METRICS_CACHE_SECONDS="0"), "/metrics")["body"]
    assert samples(fresh, "lambdaops_training_runs_total") == {(("model", "m"), ("status", "failed")): 2.0}


class CountingClient:
    """A boto3 client that counts its GetMetricData calls."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[int] = []

    def get_metric_data(self, **kwargs: Any) -> Any:
        self.calls.append(len(kwargs["MetricDataQueries"]))
        return self.client.get_metric_data(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_the_adapter_discovers_every_series_and_reads_them_500_queries_a_call(aws: LocalResources) -> None:
    cloudwatch = boto3.client("cloudwatch")
    now = datetime.now(UTC)
    for start in range(0, 620, 20):  # PutMetricData takes 20 datums a call here
        cloudwatch.put_metric_data(
            Namespace="batched",
            MetricData=[
                {"MetricName": "Invocations", "Dimensions": [{"Name": "model", "Value": f"m{i}"}], "Value": i}
                for i in range(start, start + 20)
            ],
        )
    counting = CountingClient(cloudwatch)
    adapter = CloudWatchSeries(counting)

    series = adapter.list_series("batched")  # more than one ListMetrics page of 500
    points = adapter.read(
        "batched",
        [StatQuery(s, "Sum", 3600) for s in series],
        now - timedelta(minutes=5),
        now + timedelta(minutes=5),
    )

    assert len(series) == 620 and len(set(series)) == 620
    assert SeriesId("Invocations", (("model", "m7"),)) in series
    assert counting.calls == [MAX_QUERIES, 620 - MAX_QUERIES]
    values = {s.dimensions[0][1]: sum(v for _, v in p) for s, p in zip(series, points, strict=True)}
    assert values == {f"m{i}": float(i) for i in range(620)}


@pytest.fixture
def preloading(aws: LocalResources, cache_dir: Path, trained: TrainedModel) -> Iterator[Api]:
    api = Api(aws)
    assert api.call("POST", "/models", {"name": NAME})[0] == 201
    assert api.register(NAME, "1.0.0", trained)[0] == 201
    for stage in ("staging", "production"):
        assert api.call("POST", f"/models/{NAME}/versions/1.0.0/stage", {"stage": stage})[0] == 200
    yield api


def predict_function(resources: LocalResources, preload: str) -> LocalFunction:
    spec = DEPLOYMENT.function("predict")
    return LocalFunction(spec, resources.environment(spec) | {"LAMBDAOPS_PRELOAD_MODELS": preload})


def test_readiness_lists_the_preloaded_models_warmed_at_init(preloading: Api) -> None:
    reply = get(predict_function(preloading.resources, NAME), "/health/predict")
    assert reply["statusCode"] == 200
    assert json.loads(reply["body"]) == {
        "status": "ready",
        "models": [{"model": NAME, "version": "1.0.0", "warmed": True, "loaded": True, "detail": None}],
    }


def test_readiness_is_503_when_a_preloaded_model_could_not_be_loaded(preloading: Api) -> None:
    reply = get(predict_function(preloading.resources, f"{NAME},no-such-model"), "/health/predict")
    assert reply["statusCode"] == 503
    body = json.loads(reply["body"])
    assert body["status"] == "not_ready"
    assert [(m["model"], m["warmed"], m["loaded"]) for m in body["models"]] == [
        (NAME, True, True),
        ("no-such-model", False, False),
    ]
    assert body["models"][1]["version"] is None and body["models"][1]["detail"]
