"""The pipeline function counts `TrainingRuns` by model and status when a run ends, once per outcome."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from lambdaops_tools.demo.sample_models import TrainedModel

from .conftest import Api
from .test_training_pipeline import NAME, start, step, trained_job, with_production


@pytest.fixture
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")


def training_runs() -> dict[tuple[tuple[str, str], ...], float]:
    """Sum of `TrainingRuns` of the last hour by dimension set, as CloudWatch holds it."""
    cloudwatch = boto3.client("cloudwatch")
    now = datetime.now(UTC)
    sums = {}
    for metric in cloudwatch.list_metrics(Namespace="lambdaops", MetricName="TrainingRuns")["Metrics"]:
        reply = cloudwatch.get_metric_statistics(
            Namespace="lambdaops",
            MetricName="TrainingRuns",
            Dimensions=metric["Dimensions"],
            StartTime=now - timedelta(hours=1),
            EndTime=now + timedelta(minutes=1),
            Period=3600,
            Statistics=["Sum"],
        )
        key = tuple(sorted((d["Name"], d["Value"]) for d in metric["Dimensions"]))
        sums[key] = sum(point["Sum"] for point in reply["Datapoints"])
    return sums


def test_a_failed_run_counts_once_even_when_its_step_is_retried(
    api: Api, trained: TrainedModel, metrics_on: None
) -> None:
    with_production(api, trained)
    _, state = start(api)
    failed = state | {"error": {"Error": "States.TaskFailed", "Cause": json.dumps({"errorMessage": "boom"})}}
    step(api, "fail", failed)
    step(api, "fail", failed)  # Step Functions retries a Lambda task that timed out
    assert training_runs() == {
        (("model", NAME), ("service", "lambdaops-pipeline"), ("status", "failed")): 1.0,
    }


def test_a_run_that_finishes_counts_as_succeeded(api: Api, trained: TrainedModel, metrics_on: None) -> None:
    with_production(api, trained)
    _, state = start(api)
    state = step(api, "evaluate", trained_job(api, state, trained))
    state = step(api, "register", state)
    state = step(api, "promote", state)
    step(api, "finish", state)
    assert training_runs() == {
        (("model", NAME), ("service", "lambdaops-pipeline"), ("status", "succeeded")): 1.0,
    }
