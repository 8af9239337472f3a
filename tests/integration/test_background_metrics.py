"""EMF metrics printed by threads outside an invocation reach CloudWatch locally, as they do in AWS."""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from lambdaops.aws import clients as aws_clients
from lambdaops.runtime.metrics import EmfMetrics
from lambdaops.serving.telemetry import CAPTURE_FAILURES
from lambdaops_tools.demo.sample_models import TrainedModel

from .conftest import Api

NAME = "churn-classifier"


@pytest.fixture
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")


def total(namespace: str, metric: str, **dimensions: str) -> float:
    """The sum of a metric's datapoints of the last hour, across the dimension sets with these values."""
    cloudwatch = boto3.client("cloudwatch")
    now = datetime.now(UTC)
    sum_ = 0.0
    for listed in cloudwatch.list_metrics(Namespace=namespace, MetricName=metric)["Metrics"]:
        if {d["Name"]: d["Value"] for d in listed["Dimensions"]}.items() >= dimensions.items():
            reply = cloudwatch.get_metric_statistics(
                Namespace=namespace,
                MetricName=metric,
                Dimensions=listed["Dimensions"],
                StartTime=now - timedelta(hours=1),
                EndTime=now + timedelta(minutes=1),
                Period=3600,
                Statistics=["Sum"],
            )
            sum_ += sum(point["Sum"] for point in reply["Datapoints"])
    return sum_


def in_a_thread(target: Any) -> None:
    thread = threading.Thread(target=target, name="background")
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()


def test_an_emf_line_printed_by_a_background_thread_reaches_cloudwatch(
    api: Api, metrics_on: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert api.call("GET", "/models")[0] == 200  # the local runtime now routes this process's stdout
    metrics = EmfMetrics("background-test", service="svc")

    def report() -> None:
        print("plain text, passed through")
        sys.stdout.write("partial ")
        sys.stdout.write("line\n")
        metrics.count("Lost", 3, model="m")

    in_a_thread(report)

    assert total("background-test", "Lost", model="m", service="svc") == 3.0
    out = capsys.readouterr().out
    assert "plain text, passed through\npartial line\n" in out
    assert '"Lost":[3.0]' in out  # echoed, as CloudWatch Logs would show it


def test_a_capture_failure_counted_on_the_capture_thread_reaches_cloudwatch(
    api: Api, cache_dir: Path, trained: TrainedModel, metrics_on: None
) -> None:
    assert api.call("POST", "/models", {"name": NAME})[0] == 201
    assert api.register(NAME, "1.0.0", trained)[0] == 201
    for stage in ("staging", "production"):
        assert api.call("POST", f"/models/{NAME}/versions/1.0.0/stage", {"stage": stage})[0] == 200
    predict = api.functions["predict"].module()

    def refuse(**_: Any) -> None:
        raise RuntimeError("the capture bucket refuses writes")

    aws_clients.client("s3").meta.events.register("before-call.s3.PutObject", refuse)
    try:
        status, _ = api.call("POST", f"/models/{NAME}/predict", {"instances": [[24.0, 79.5, 1.0, 12.5]]})
        assert status == 200
        assert predict.capture.flush(timeout=30)
    finally:
        aws_clients.client("s3").meta.events.unregister("before-call.s3.PutObject", refuse)

    assert total("lambdaops", CAPTURE_FAILURES, model=NAME) == 1.0
