"""Alarms on the signals that must never be ignored, each notifying the alerts topic."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from lambdaops.monitoring.drift.monitor import SCAN_FAILURES
from lambdaops.serving.telemetry import ARTIFACT_INTEGRITY_FAILURES
from lambdaops_tools.deployment import DEPLOYMENT, METRICS_NAMESPACE


def _failures(metric_name: str, function: str, period: Duration) -> cloudwatch.Metric:
    """The sum of a count a function emits through Powertools (dimension `service`)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"service": DEPLOYMENT.function(function).service_name},
        statistic="Sum",
        period=period,
    )


def _alarm_on_any(
    scope: Construct, construct_id: str, description: str, metric: cloudwatch.IMetric
) -> cloudwatch.Alarm:
    """Alarms when one period's value reaches 1; no data (nothing happened) is not a breach."""
    return cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_description=description,
        metric=metric,
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alerts_topic: sns.ITopic,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.integrity_alarm = _alarm_on_any(
            self,
            "ArtifactIntegrityAlarm",
            "An artifact no longer matched its recorded sha256 and was refused.",
            _failures(ARTIFACT_INTEGRITY_FAILURES, "predict", Duration.minutes(1)),
        )
        # The scan runs hourly: one failed scan in the hour it ran is worth waking someone for.
        self.drift_scan_alarm = _alarm_on_any(
            self,
            "DriftScanFailuresAlarm",
            "A scheduled drift scan could not check a model; its captured traffic went unchecked.",
            _failures(SCAN_FAILURES, "drift", Duration.hours(1)),
        )
        self.dead_letter_alarm = _alarm_on_any(
            self,
            "ScheduleDeadLettersAlarm",
            "A scheduled or dataset-upload invocation was not delivered, or failed after its retries; "
            "the dead-letter queue holds the event and the error.",
            dead_letter_queue.metric_approximate_number_of_messages_visible(
                statistic="Maximum", period=Duration.minutes(5)
            ),
        )
        action = cloudwatch_actions.SnsAction(alerts_topic)
        for alarm in (self.integrity_alarm, self.drift_scan_alarm, self.dead_letter_alarm):
            alarm.add_alarm_action(action)
