"""Alarms on the signals that must never be ignored, each notifying the alerts topic.

Models are not known at deploy time, so the prediction alarms watch the predict function's service-level
series (every model together: `EmfMetrics.request` writes it beside the per-arm ones); the dashboard's
model selector shows which model and version moved. Missing data never breaches: no traffic, no scan and
no run are not failures.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from lambdaops.monitoring.drift.monitor import SCAN_FAILURES
from lambdaops.serving.telemetry import ARTIFACT_INTEGRITY_FAILURES, ERRORS, INVOCATIONS, LATENCY
from lambdaops_tools.deployment import DEPLOYMENT, METRICS_NAMESPACE

FIVE_MINUTES = Duration.minutes(5)

MIN_REQUESTS = 20
"""Fewer requests than this in a period make a rate noise (one failure in three is 33%): such a period
counts as a rate of 0."""

ERROR_RATE_THRESHOLD = 0.05
"""5% of requests failing for 10 of 15 minutes. The canary already refuses a version 1% worse than its
incumbent; 5% across every model is a broken service or model, not a regression to judge."""

P99_THRESHOLD_MS = 500
"""Twice the canary's default `max_p99_ms` (250) for 15 minutes straight: an inference slower than any
rollout would have accepted, sustained past a burst of cold caches."""


@dataclass(frozen=True)
class AlarmSpec:
    """What an alarm says to the person it wakes: what happened, and what to do next."""

    name: str
    happened: str
    next_step: str

    @property
    def description(self) -> str:
        return f"{self.happened} Next: {self.next_step}"


def service_metric(metric_name: str, function: str, statistic: str, period: Duration) -> cloudwatch.Metric:
    """A metric a function emits through Powertools, on its `service` dimension alone."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"service": DEPLOYMENT.function(function).service_name},
        statistic=statistic,
        period=period,
    )


def guarded_rate(
    failures: cloudwatch.IMetric, requests: cloudwatch.IMetric, label: str
) -> cloudwatch.MathExpression:
    """failures / requests per period, 0 where there were fewer than `MIN_REQUESTS` requests."""
    return cloudwatch.MathExpression(
        expression=f"IF(requests >= {MIN_REQUESTS}, failures / requests, 0)",
        using_metrics={"failures": failures, "requests": requests},
        period=FIVE_MINUTES,
        label=label,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alerts_topic: sns.ITopic,
        dead_letter_queue: sqs.IQueue,
        api_stage: apigateway.Stage,
        training_machine: sfn.IStateMachine,
        dashboard_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self._stack_name = cdk.Stack.of(self).stack_name
        dashboard = f"the CloudWatch dashboard {dashboard_name} (pick the model at its top)"
        self.api_errors_alarm = self._rate_alarm(
            "ApiServerErrorsAlarm",
            AlarmSpec(
                "api-5xx-rate",
                f"More than {ERROR_RATE_THRESHOLD:.0%} of the API's requests answered 5xx in 2 of the last 3 "
                "5-minute periods.",
                f"open {dashboard} to see which model's predictions fail (500 InferenceFailed: roll the "
                "model back with POST /models/{name}/rollback); otherwise the API's access logs show "
                "which routes answer 5xx, and their function's logs the cause (a 503 ServiceUnavailable "
                "names the AWS dependency that failed).",
            ),
            api_stage.metric_server_error(statistic="Sum", period=FIVE_MINUTES),
            api_stage.metric_count(statistic="Sum", period=FIVE_MINUTES),
            "API 5xx rate",
        )
        self.predict_errors_alarm = self._rate_alarm(
            "PredictErrorRateAlarm",
            AlarmSpec(
                "predict-error-rate",
                f"More than {ERROR_RATE_THRESHOLD:.0%} of predictions failed (the version could not be "
                "loaded or its inference failed) in 2 of the last 3 5-minute periods, over all models.",
                f"open {dashboard}: its error-rate graph names the model, version and variant that fail; "
                "roll that model back (POST /models/{name}/rollback) or clear its traffic split.",
            ),
            service_metric(ERRORS, "predict", "Sum", FIVE_MINUTES),
            service_metric(INVOCATIONS, "predict", "Sum", FIVE_MINUTES),
            "prediction error rate",
        )
        self.predict_latency_alarm = self._alarm(
            "PredictLatencyP99Alarm",
            AlarmSpec(
                "predict-latency-p99",
                f"The p99 prediction latency (encoding and inference, over all models) was above "
                f"{P99_THRESHOLD_MS} ms for 15 minutes.",
                f"open {dashboard}: its latency graph names the model, version and variant that slowed; "
                "roll that model back, or give the predict function more memory if every model slowed.",
            ),
            service_metric(LATENCY, "predict", "p99", FIVE_MINUTES),
            threshold=P99_THRESHOLD_MS,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3,
        )
        # The run's own alert (its AlertFailure state) names the model, step and cause; this one also
        # fires when that alert could not be sent. 5 minutes: a failure is news as soon as it happens.
        self.training_failures_alarm = self._alarm(
            "TrainingRunsFailedAlarm",
            AlarmSpec(
                "training-runs-failed",
                "A training run's execution failed: the run stopped at one of its steps and did not finish.",
                "find the run with `lambdaops runs --status failed` (GET /training?status=failed); its "
                "failure names the model, step and cause. Fix the dataset or settings and start the run "
                "again (POST /training).",
            ),
            training_machine.metric_failed(statistic="Sum", period=FIVE_MINUTES),
        )
        self.integrity_alarm = self._alarm(
            "ArtifactIntegrityAlarm",
            AlarmSpec(
                "artifact-integrity",
                "A model artifact no longer matched its recorded sha256 and was refused (422 "
                "ArtifactIntegrityError): its object was overwritten or corrupted.",
                "the predict function's logs name the model and version; roll that model back (POST "
                "/models/{name}/rollback) and register the artifact again from a trusted copy.",
            ),
            service_metric(ARTIFACT_INTEGRITY_FAILURES, "predict", "Sum", Duration.minutes(1)),
        )
        # The scan runs hourly: one failed scan in the hour it ran is worth waking someone for.
        self.drift_scan_alarm = self._alarm(
            "DriftScanFailuresAlarm",
            AlarmSpec(
                "drift-scan-failures",
                "A scheduled drift scan could not check a model; its captured traffic went unchecked (it is "
                "read again next hour).",
                "the drift function's logs ('drift scan of a model failed') name each model and its "
                "error; a BaselineMissing model needs POST /models/{name}/versions/{version}/baseline, "
                "unreadable captures need the predict function's capture settings checked.",
            ),
            service_metric(SCAN_FAILURES, "drift", "Sum", Duration.hours(1)),
        )
        self.dead_letter_alarm = self._alarm(
            "ScheduleDeadLettersAlarm",
            AlarmSpec(
                "dead-letters",
                "A scheduled or dataset-upload invocation was not delivered, or failed after its retries; "
                "the dead-letter queue holds the event and the error.",
                "read the queue's messages (the model is in the event's dataset key), fix the cause from "
                "the function's logs, then upload the manifest again or wait for the next scan; delete "
                "the messages once handled, or the alarm stays on.",
            ),
            dead_letter_queue.metric_approximate_number_of_messages_visible(
                statistic="Maximum", period=FIVE_MINUTES
            ),
        )
        action = cloudwatch_actions.SnsAction(alerts_topic)
        for alarm in self.alarms:
            alarm.add_alarm_action(action)

    @property
    def alarms(self) -> tuple[cloudwatch.Alarm, ...]:
        return (
            self.api_errors_alarm,
            self.predict_errors_alarm,
            self.predict_latency_alarm,
            self.training_failures_alarm,
            self.integrity_alarm,
            self.drift_scan_alarm,
            self.dead_letter_alarm,
        )

    def _rate_alarm(
        self,
        construct_id: str,
        spec: AlarmSpec,
        failures: cloudwatch.IMetric,
        requests: cloudwatch.IMetric,
        label: str,
    ) -> cloudwatch.Alarm:
        """A failure rate above `ERROR_RATE_THRESHOLD` in 2 of 3 periods (`guarded_rate`)."""
        return self._alarm(
            construct_id,
            spec,
            guarded_rate(failures, requests, label),
            threshold=ERROR_RATE_THRESHOLD,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3,
            datapoints_to_alarm=2,
        )

    def _alarm(
        self,
        construct_id: str,
        spec: AlarmSpec,
        metric: cloudwatch.IMetric,
        *,
        threshold: float = 1,
        comparison: cloudwatch.ComparisonOperator = (
            cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        ),
        evaluation_periods: int = 1,
        datapoints_to_alarm: int | None = None,
    ) -> cloudwatch.Alarm:
        """By default alarms when one period's count reaches 1; no data (nothing happened) never breaches."""
        return cloudwatch.Alarm(
            self,
            construct_id,
            # Named, so the notification's subject says which alarm it is.
            alarm_name=f"{self._stack_name}-{spec.name}",
            alarm_description=spec.description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            comparison_operator=comparison,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
