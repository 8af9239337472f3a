"""End to end over HTTP: the demo's journey, racing promotions and the error shape, on `lambdaops local`."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from typing import Any

import pytest

from lambdaops_tools.client import ApiError, LambdaopsClient
from lambdaops_tools.demo.sample_models import train_logistic_regression
from lambdaops_tools.demo.story import MODEL, run_demo, run_drift_demo, run_traffic_demo, run_training_demo

from .conftest import RunningStack

pytestmark = pytest.mark.e2e


def replay(history: list[dict[str, Any]]) -> dict[str, str]:
    """Each version's stage after applying the history in order; at most one production throughout."""
    stages: dict[str, str] = {}
    for entry in history:
        assert stages.get(entry["version"]) == entry["from_stage"] or entry["from_stage"] is None, entry
        stages[entry["version"]] = entry["to_stage"]
        at_this_time = [e for e in history if e["at"] == entry["at"]]
        if entry is at_this_time[-1]:  # entries of one transaction share a timestamp
            assert list(stages.values()).count("production") <= 1, stages
    return stages


def current_stages(client: LambdaopsClient, name: str) -> dict[str, str]:
    items = client.list_versions(name, limit=100)["items"]
    return {item["version"]: item["stage"] for item in items}


def test_demo_journey(stack: RunningStack) -> None:
    said: list[str] = []
    result = run_demo(stack.client, stack.s3, stack.info["bucket"], said.append)
    assert result["model"]["production_version"] == "1.0.0"
    assert any("refused: 422 PolicyViolation (must_beat_production:accuracy)" in line for line in said)
    assert replay(result["history"]) == current_stages(stack.client, MODEL)
    assert current_stages(stack.client, MODEL) == {
        "1.0.0": "production",
        "1.1.0": "archived",
        "1.0.1": "staging",
    }

    traffic = run_traffic_demo(stack.client, stack.s3, stack.info["bucket"], said.append)
    assert traffic["again"] == traffic["arms"][:20]
    assert 120 <= traffic["arms"].count("control") <= 190
    assert traffic["promoted"]["status"] == "promoted"
    assert traffic["rolled_back"]["status"] == "rolled_back"
    assert traffic["rolled_back"]["steps"][-1]["canary"]["errors"] > 0
    assert traffic["model"]["production_version"] == "1.2.0"
    assert traffic["model"]["traffic"] is None
    assert traffic["captured"] > 0
    stages = current_stages(stack.client, MODEL)
    assert (stages["1.2.0"], stages["1.3.0"]) == ("production", "staging")
    assert replay(stack.client.history(MODEL)["items"]) == stages

    training = run_training_demo(stack.client, stack.s3, stack.info["bucket"], said.append)
    trained = training["trained"]
    assert (trained["status"], trained["trigger"], trained["promoted"]) == ("succeeded", "upload", True)
    version = stack.client.get_version(MODEL, trained["registered_version"])
    assert version["stage"] == "staging" and version["metrics"] == trained["metrics"]
    assert version["lineage"]["execution_arn"] == trained["execution_arn"]
    assert version["lineage"]["training_job"] == trained["training_job"]
    assert version["lineage"]["dataset_uri"] == training["dataset_uri"]
    assert version["lineage"]["parent_version"] == "1.2.0"
    assert set(trained["production_metrics"]) == {"accuracy", "log_loss", "f1_macro"}
    tuned = training["tuned"]
    assert [trial["status"] for trial in tuned["trials"]] == ["Completed"] * 6
    best = max(tuned["trials"], key=lambda trial: trial["objective"])
    assert tuned["training_job"] == best["training_job"]
    tuned_version = stack.client.get_version(MODEL, tuned["registered_version"])
    assert tuned_version["lineage"]["training_job"] == best["training_job"]
    assert tuned_version["lineage"]["tuning_job"] == tuned["tuning_job"]

    drift = run_drift_demo(
        stack.client, stack.aws, stack.info["bucket"], stack.info["alerts_topic_arn"], said.append
    )
    assert (drift["passed"]["dataset_drift"], drift["passed"]["drifted_features"]) == (False, [])
    assert drift["flagged"]["dataset_drift"] is True
    assert drift["flagged"]["drifted_features"] == ["tenure_months", "usage_hours"]
    assert (drift["scanned"]["trigger"], drift["scanned"]["version"]) == ("schedule", "1.2.0")
    assert drift["scanned"]["drifted_features"] == ["tenure_months", "usage_hours"]
    assert [alert["Subject"] for alert in drift["alerts"]] == [
        f"lambdaops: {MODEL} 1.2.0: drift in 2 of 4 features"
    ]
    retrained = drift["retrained"]
    assert (retrained["trigger"], retrained["status"]) == ("drift", "succeeded")
    assert retrained["dataset_uri"] == training["dataset_uri"] and retrained["reason"].startswith(
        f"lambdaops: {MODEL} 1.2.0: drift"
    )
    # The demo ends on what Prometheus would scrape of its model, and where the API is documented.
    assert any(line.startswith(f'lambdaops_predictions_total{{model="{MODEL}",') for line in drift["metrics"])
    assert any(line.startswith("lambdaops_model_stage_info{") for line in drift["metrics"])
    assert said[-1].endswith(f"{stack.info['api_url']}/docs")


def test_racing_promotions_leave_exactly_one_production(stack: RunningStack) -> None:
    client, name, racers = stack.client, "race-model", 10
    client.create_model(name)
    model = train_logistic_regression(50)
    key = f"models/{name}/shared/model.onnx"
    stack.s3.put_object(Bucket=stack.info["bucket"], Key=key, Body=model.onnx_bytes)
    versions = [f"1.{i}.0" for i in range(racers)]
    for version in versions:
        client.register_version(name, f"s3://{stack.info['bucket']}/{key}", version=version)
        client.set_stage(name, version, "staging")

    start = threading.Barrier(racers)
    outcomes: dict[str, Any] = {}

    def promote(version: str) -> None:
        racer = LambdaopsClient(stack.info["api_url"])
        start.wait()
        try:
            outcomes[version] = racer.set_stage(name, version, "production", f"racer {version}")["stage"]
        except ApiError as error:
            outcomes[version] = error.status

    threads = [threading.Thread(target=promote, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    counts = Counter(outcomes.values())
    assert set(counts) <= {"production", 409}, outcomes
    assert counts["production"] >= 1
    assert counts[409] >= 1, "the racers never collided; the test proved nothing"
    stages = current_stages(client, name)
    assert list(stages.values()).count("production") == 1
    history = client.history(name)["items"]
    assert replay(history) == stages
    winners = [h["version"] for h in history if h["to_stage"] == "production"]
    assert sorted(winners) == sorted(v for v, outcome in outcomes.items() if outcome == "production")
    assert client.get_model(name)["production_version"] == winners[-1]


def test_http_errors_have_the_contract_shape(stack: RunningStack) -> None:
    def send(method: str, path: str, data: bytes | None = None) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": "application/json"}
        request = urllib.request.Request(
            stack.info["api_url"] + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return reply.status, json.loads(reply.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    assert send("POST", "/models", b"{not json")[1]["error"]["code"] == "MalformedJson"
    status, body = send("GET", "/nowhere")
    assert (status, body["error"]["code"]) == (404, "RouteNotFound")
    status, body = send("DELETE", "/models/abc")
    assert (status, body["error"]["code"]) == (405, "MethodNotAllowed")
    status, body = send("POST", "/models/does-not-exist/rollback")
    assert (status, body["error"]["code"]) == (404, "ModelNotFound")
    status, body = send("POST", "/models/does-not-exist/drift", b'{"rows": [[1, 2, 3, 4]]}')
    assert (status, body["error"]["code"]) == (404, "ModelNotFound")
    status, body = send("POST", "/_local/schedules/no-such-schedule")
    assert (status, body["error"]["code"]) == (404, "ScheduleNotFound")
