"""`GET /health`, `GET /health/predict` and `GET /metrics` on the local stack, over HTTP."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from lambdaops_tools.demo.sample_models import train_logistic_regression
from lambdaops_tools.demo.story import show_operations

from .conftest import RunningStack


def test_health_checks_the_table_bucket_and_cloudwatch(stack: RunningStack) -> None:
    body = stack.client.request("GET", "/health")
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"table", "bucket", "cloudwatch"}
    assert all(check["ok"] and check["latency_ms"] >= 0 for check in body["checks"].values())


def test_the_predict_functions_readiness_lists_its_preloaded_models(stack: RunningStack) -> None:
    # The local stack preloads nothing (`-c lambdaops:preload-models` is a deployment's choice).
    assert stack.client.request("GET", "/health/predict") == {"status": "ready", "models": []}


def test_metrics_are_prometheus_text(stack: RunningStack) -> None:
    with urllib.request.urlopen(stack.info["api_url"] + "/metrics", timeout=30) as reply:
        assert reply.status == 200
        assert reply.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = reply.read().decode()
    assert "# TYPE lambdaops_predictions_total counter" in text
    assert "# TYPE lambdaops_prediction_latency_seconds summary" in text
    assert "lambdaops_metrics_snapshot_timestamp_seconds " in text


def test_the_demo_ends_with_its_models_metrics_and_the_docs_url(stack: RunningStack) -> None:
    name = "demo-ending"
    stack.client.create_model(name)
    uri = stack.upload(f"models/{name}/1.0.0/model.onnx", train_logistic_regression(50).onnx_bytes)
    stack.client.register_version(name, uri, version="1.0.0")
    stack.client.predict(name, [[24.0, 79.5, 1.0, 12.5]], version="1.0.0")
    said: list[str] = []

    lines = show_operations(stack.client, said.append, model=name)

    parsed = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families("\n".join(lines) + "\n")
        for sample in family.samples
    }
    arm = (("model", name), ("variant", "requested"), ("version", "1.0.0"))
    assert parsed[("lambdaops_predictions_total", arm)] == 1.0
    assert all(f'model="{name}"' in line for line in lines)
    assert [f"   {line}" for line in lines] == said[1:-1]
    docs = f"{stack.info['api_url']}/docs"
    assert said[-1].endswith(docs)
    with urllib.request.urlopen(docs, timeout=30) as reply:
        assert reply.status == 200 and "swagger-ui" in reply.read().decode()
