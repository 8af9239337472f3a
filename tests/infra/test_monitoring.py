"""Alarms on the API, predictions, training, artifact integrity, drift scans and dead letters: each with its
threshold, notifying the alerts topic, saying what happened and what to do next."""

from __future__ import annotations

from typing import Any

import pytest

from infra.components.monitoring import ERROR_RATE_THRESHOLD, MIN_REQUESTS, P99_THRESHOLD_MS
from lambdaops_tools.deployment import DEPLOYMENT, METRICS_NAMESPACE
from tests.infra.conftest import Synthesized

ALARMS = (
    "api-5xx-rate",
    "predict-error-rate",
    "predict-latency-p99",
    "training-runs-failed",
    "artifact-integrity",
    "drift-scan-failures",
    "dead-letters",
)


def alarm(synthesized: Synthesized, name: str) -> dict[str, Any]:
    [properties] = [
        resource["Properties"]
        for resource in synthesized.resources("AWS::CloudWatch::Alarm").values()
        if resource["Properties"]["AlarmName"] == f"{synthesized.stack.stack_name}-{name}"
    ]
    return dict(properties)


def service_of(synthesized: Synthesized, function: str) -> str:
    """The `service` dimension the function's Powertools metrics carry."""
    resource = synthesized.template_json["Resources"][synthesized.function_ids[function]]
    service: str = resource["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
    return service


def assert_alarms_on_any(properties: dict[str, Any]) -> None:
    assert properties["Threshold"] == 1
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert properties["EvaluationPeriods"] == 1
    assert properties["TreatMissingData"] == "notBreaching"


def math_inputs(properties: dict[str, Any]) -> tuple[str, dict[str, dict[str, Any]]]:
    """(expression, id -> MetricStat) of a metric-math alarm."""
    [expression] = [query["Expression"] for query in properties["Metrics"] if "Expression" in query]
    stats = {query["Id"]: query["MetricStat"] for query in properties["Metrics"] if "MetricStat" in query}
    assert all(not query.get("ReturnData", True) for query in properties["Metrics"] if "MetricStat" in query)
    return expression, stats


def assert_rate_alarm(properties: dict[str, Any]) -> None:
    """A guarded rate above 5% in 2 of 3 five-minute periods; quiet periods never breach."""
    assert properties["Threshold"] == ERROR_RATE_THRESHOLD == 0.05
    assert properties["ComparisonOperator"] == "GreaterThanThreshold"
    assert (properties["EvaluationPeriods"], properties["DatapointsToAlarm"]) == (3, 2)
    assert properties["TreatMissingData"] == "notBreaching"
    expression, stats = math_inputs(properties)
    assert expression == f"IF(requests >= {MIN_REQUESTS}, failures / requests, 0)"
    assert {stat["Period"] for stat in stats.values()} == {300}
    assert {stat["Stat"] for stat in stats.values()} == {"Sum"}


def test_api_5xx_rate_raises_an_alarm(synthesized: Synthesized) -> None:
    properties = alarm(synthesized, "api-5xx-rate")
    assert_rate_alarm(properties)
    _, stats = math_inputs(properties)
    assert stats["failures"]["Metric"]["MetricName"] == "5XXError"
    assert stats["requests"]["Metric"]["MetricName"] == "Count"
    [stage_id] = synthesized.resources("AWS::ApiGateway::Stage")
    for stat in stats.values():
        assert stat["Metric"]["Namespace"] == "AWS/ApiGateway"
        dimensions = {d["Name"]: d["Value"] for d in stat["Metric"]["Dimensions"]}
        assert dimensions == {"ApiName": "lambdaops", "Stage": {"Ref": stage_id}}


def test_prediction_error_rate_over_every_model_raises_an_alarm(synthesized: Synthesized) -> None:
    properties = alarm(synthesized, "predict-error-rate")
    assert_rate_alarm(properties)
    _, stats = math_inputs(properties)
    assert (stats["failures"]["Metric"]["MetricName"], stats["requests"]["Metric"]["MetricName"]) == (
        "Errors",
        "Invocations",
    )
    # The service-level series `EmfMetrics.request` writes beside the per-arm ones.
    for stat in stats.values():
        assert stat["Metric"]["Namespace"] == METRICS_NAMESPACE
        assert stat["Metric"]["Dimensions"] == [
            {"Name": "service", "Value": service_of(synthesized, "predict")}
        ]


def test_prediction_p99_latency_raises_an_alarm(synthesized: Synthesized) -> None:
    properties = alarm(synthesized, "predict-latency-p99")
    assert (properties["MetricName"], properties["Namespace"]) == ("Latency", METRICS_NAMESPACE)
    assert properties["Dimensions"] == [{"Name": "service", "Value": service_of(synthesized, "predict")}]
    assert (properties["ExtendedStatistic"], properties["Period"]) == ("p99", 300)
    assert properties["Threshold"] == P99_THRESHOLD_MS == 500
    assert properties["ComparisonOperator"] == "GreaterThanThreshold"
    assert properties["EvaluationPeriods"] == 3 and "DatapointsToAlarm" not in properties
    assert properties["TreatMissingData"] == "notBreaching"


def test_a_failed_training_execution_raises_an_alarm(synthesized: Synthesized) -> None:
    properties = alarm(synthesized, "training-runs-failed")
    assert (properties["Namespace"], properties["MetricName"]) == ("AWS/States", "ExecutionsFailed")
    assert properties["Dimensions"] == [
        {"Name": "StateMachineArn", "Value": {"Ref": synthesized.machine_ids["train-and-register"]}}
    ]
    assert (properties["Statistic"], properties["Period"]) == ("Sum", 300)
    assert_alarms_on_any(properties)


def test_integrity_failures_raise_an_alarm(synthesized: Synthesized) -> None:
    properties = alarm(synthesized, "artifact-integrity")
    assert (properties["MetricName"], properties["Namespace"]) == (
        "ArtifactIntegrityFailures",
        METRICS_NAMESPACE,
    )
    assert properties["Dimensions"] == [{"Name": "service", "Value": service_of(synthesized, "predict")}]
    assert (properties["Statistic"], properties["Period"]) == ("Sum", 60)
    assert_alarms_on_any(properties)


def test_a_failed_drift_scan_raises_an_alarm(synthesized: Synthesized) -> None:
    properties = alarm(synthesized, "drift-scan-failures")
    assert (properties["MetricName"], properties["Namespace"]) == ("DriftScanFailures", METRICS_NAMESPACE)
    assert properties["Dimensions"] == [{"Name": "service", "Value": service_of(synthesized, "drift")}]
    assert service_of(synthesized, "drift") == "lambdaops-drift"
    assert (properties["Statistic"], properties["Period"]) == ("Sum", 3600)
    assert_alarms_on_any(properties)


def test_a_dead_lettered_schedule_raises_an_alarm(synthesized: Synthesized) -> None:
    properties = alarm(synthesized, "dead-letters")
    [queue_id] = synthesized.resources("AWS::SQS::Queue")
    assert (properties["MetricName"], properties["Namespace"]) == (
        "ApproximateNumberOfMessagesVisible",
        "AWS/SQS",
    )
    assert properties["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
    ]
    assert (properties["Statistic"], properties["Period"]) == ("Maximum", 300)
    assert_alarms_on_any(properties)


def test_there_are_exactly_these_alarms_and_each_notifies_the_alerts_topic(synthesized: Synthesized) -> None:
    alarms = synthesized.resources("AWS::CloudWatch::Alarm")
    names = sorted(resource["Properties"]["AlarmName"] for resource in alarms.values())
    assert names == sorted(f"{synthesized.stack.stack_name}-{name}" for name in ALARMS)
    for logical_id, resource in alarms.items():
        properties = resource["Properties"]
        assert properties["AlarmActions"] == [{"Ref": DEPLOYMENT.alerts_topic.logical_id}], logical_id
        assert properties["TreatMissingData"] == "notBreaching", logical_id


@pytest.mark.parametrize("name", ALARMS)
def test_every_alarm_says_what_happened_and_what_to_do_next(synthesized: Synthesized, name: str) -> None:
    description = alarm(synthesized, name)["AlarmDescription"]
    happened, _, next_step = description.partition(" Next: ")
    assert len(happened) > 40 and len(next_step) > 40, description
    assert len(description) <= 1024  # CloudWatch's limit
    # Where the model and version are found: the dashboard, the run, the logs or the queue.
    assert any(where in next_step for where in ("dashboard", "lambdaops runs", "logs", "queue's messages")), (
        next_step
    )


def test_prediction_alarms_point_at_the_dashboard_that_names_the_model(synthesized: Synthesized) -> None:
    [dashboard] = synthesized.resources("AWS::CloudWatch::Dashboard").values()
    name = dashboard["Properties"]["DashboardName"]
    assert name == f"{synthesized.stack.stack_name}-models"
    for alarm_name in ("api-5xx-rate", "predict-error-rate", "predict-latency-p99"):
        assert f"dashboard {name}" in alarm(synthesized, alarm_name)["AlarmDescription"]
