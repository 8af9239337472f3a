"""Alarms on the signals that must never be ignored."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from lambdaops.deployment import METRICS_NAMESPACE


class Monitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.integrity_alarm = cloudwatch.Alarm(
            self,
            "ArtifactIntegrityAlarm",
            alarm_description="An artifact no longer matched its recorded sha256 and was refused.",
            metric=cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name="ArtifactIntegrityFailures",
                dimensions_map={"service": "lambdaops-predict"},
                statistic="Sum",
                period=Duration.minutes(1),
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
