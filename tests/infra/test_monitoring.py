"""Alarms on artifact integrity, failed drift scans and dead-lettered schedules, each notifying alerts."""

from __future__ import annotations

from typing import Any

from lambdaops_tools.deployment import DEPLOYMENT, METRICS_NAMESPACE
from tests.infra.conftest import Synthesized


def alarm(synthesized: Synthesized, metric_name: str) -> dict[str, Any]:
    matching: list[dict[str, Any]] = [
        alarm["Properties"]
        for alarm in synthesized.resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"]["MetricName"] == metric_name
    ]
    [properties] = matching
    return properties


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


def test_integrity_failures_raise_an_alarm(synthesized: Synthesized) -> None:
    properties = alarm(synthesized, "ArtifactIntegrityFailures")
    assert properties["Namespace"] == METRICS_NAMESPACE
    assert properties["Dimensions"] == [{"Name": "service", "Value": service_of(synthesized, "predict")}]
    assert properties["Statistic"] == "Sum"
    assert_alarms_on_any(properties)


def test_a_failed_drift_scan_raises_an_alarm(synthesized: Synthesized) -> None:
    properties = alarm(synthesized, "DriftScanFailures")
    assert properties["Namespace"] == METRICS_NAMESPACE
    assert properties["Dimensions"] == [{"Name": "service", "Value": service_of(synthesized, "drift")}]
    assert service_of(synthesized, "drift") == "lambdaops-drift"
    assert (properties["Statistic"], properties["Period"]) == ("Sum", 3600)
    assert_alarms_on_any(properties)


def test_a_dead_lettered_schedule_raises_an_alarm(synthesized: Synthesized) -> None:
    properties = alarm(synthesized, "ApproximateNumberOfMessagesVisible")
    [queue_id] = synthesized.resources("AWS::SQS::Queue")
    assert properties["Namespace"] == "AWS/SQS"
    assert properties["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
    ]
    assert_alarms_on_any(properties)


def test_every_alarm_notifies_the_alerts_topic(synthesized: Synthesized) -> None:
    alarms = synthesized.resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 3
    for logical_id, resource in alarms.items():
        assert resource["Properties"]["AlarmActions"] == [{"Ref": DEPLOYMENT.alerts_topic.logical_id}], (
            logical_id
        )
