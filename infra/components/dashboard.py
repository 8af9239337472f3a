"""One CloudWatch dashboard for every model: pick a model at the top, read its arms, drift and runs.

Models are created after deploy, so nothing here names one: a pattern variable swaps `MODEL` (upper case,
which no model name can be) for the model picked, inside `SEARCH` expressions over the metrics'
dimensions. Its choices are the models that predicted in the last two weeks.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from lambdaops.monitoring.drift.monitor import DATASET_DRIFT, DRIFT_SCORE
from lambdaops.serving.telemetry import ERRORS, INVOCATIONS, LATENCY
from lambdaops.training.pipeline import TRAINING_RUNS
from lambdaops_tools.deployment import METRICS_NAMESPACE

MODEL = "SELECTED_MODEL"
"""What the `model` variable replaces: model names are lower case (`MODEL_NAME_PATTERN`)."""

# The dimension sets each metric is written with (Powertools adds `service` to every one).
PREDICTION_DIMENSIONS = ("model", "service", "variant", "version")
DRIFT_DIMENSIONS = ("feature", "model", "service")
MODEL_DIMENSIONS = ("model", "service")
RUN_DIMENSIONS = ("model", "service", "status")

FIVE_MINUTES = 300
ONE_HOUR = 3600


def search(
    metric_name: str,
    dimensions: Sequence[str],
    statistic: str,
    period_s: int,
    label: str = "",
    extra: str = "",
) -> cloudwatch.SearchExpression:
    """Every series of `metric_name` of the picked model, one line per remaining dimension value."""
    schema = ",".join((METRICS_NAMESPACE, *dimensions))
    query = f'{{{schema}}} MetricName="{metric_name}" model="{MODEL}"{extra}'
    # An empty label keeps each series' own (its variant, version or feature) in the legend.
    return cloudwatch.SearchExpression(
        expression=f"SEARCH('{query}', '{statistic}', {period_s})", label=label
    )


def graph(
    title: str,
    metrics: Sequence[cloudwatch.IMetric],
    *,
    unit: str = "",
    right: Sequence[cloudwatch.IMetric] = (),
    right_unit: str = "",
) -> cloudwatch.GraphWidget:
    """A third of a row; `right` metrics get their own axis (a rate beside milliseconds)."""
    return cloudwatch.GraphWidget(
        title=title,
        left=list(metrics),
        right=list(right),
        width=8,
        height=6,
        left_y_axis=cloudwatch.YAxisProps(label=unit, show_units=False, min=0),
        right_y_axis=cloudwatch.YAxisProps(label=right_unit, show_units=False, min=0),
    )


class Dashboard(Construct):
    """Per model: invocations, error rate and p50/p99 latency per variant, drift, training runs and
    canary steps; and every alarm's state."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dashboard_name: str,
        alarms: Sequence[cloudwatch.IAlarm],
        training_machine: sfn.IStateMachine,
        canary_machine: sfn.IStateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        model = cloudwatch.DashboardVariable(
            id="model",
            type=cloudwatch.VariableType.PATTERN,
            label="Model",
            input_type=cloudwatch.VariableInputType.SELECT,
            value=MODEL,
            values=cloudwatch.Values.from_search(
                f'{{{",".join((METRICS_NAMESPACE, *PREDICTION_DIMENSIONS))}}} MetricName="{INVOCATIONS}"',
                "model",
            ),
            default_value=cloudwatch.DefaultValue.FIRST,
        )
        canary_arms = ' (variant="canary" OR variant="incumbent")'
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name,
            default_interval=Duration.hours(3),
            variables=[model],
            widgets=[
                [
                    cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(alarms), width=24, height=3),
                ],
                [
                    graph(
                        "Invocations per variant and version",
                        [search(INVOCATIONS, PREDICTION_DIMENSIONS, "Sum", FIVE_MINUTES)],
                        unit="requests / 5 min",
                    ),
                    # `Errors` is 0 or 1 per invocation, so its average is the error rate.
                    graph(
                        "Error rate per variant and version",
                        [search(ERRORS, PREDICTION_DIMENSIONS, "Average", FIVE_MINUTES)],
                        unit="share of requests",
                    ),
                    graph(
                        "Latency p50 and p99 per variant and version",
                        [
                            search(LATENCY, PREDICTION_DIMENSIONS, "p50", FIVE_MINUTES, label="p50"),
                            search(LATENCY, PREDICTION_DIMENSIONS, "p99", FIVE_MINUTES, label="p99"),
                        ],
                        unit="ms",
                    ),
                ],
                [
                    graph(
                        "Drift score per feature (hourly scan)",
                        [search(DRIFT_SCORE, DRIFT_DIMENSIONS, "Maximum", ONE_HOUR)],
                        unit="statistic",
                    ),
                    graph(
                        "Dataset drift (1 = drifted)",
                        [search(DATASET_DRIFT, MODEL_DIMENSIONS, "Maximum", ONE_HOUR)],
                    ),
                    graph(
                        "Training runs by outcome",
                        [
                            search(TRAINING_RUNS, RUN_DIMENSIONS, "Sum", ONE_HOUR),
                            training_machine.metric_failed(
                                statistic="Sum",
                                period=Duration.hours(1),
                                label="failed executions, all models",
                            ),
                        ],
                        unit="runs / hour",
                    ),
                ],
                [
                    graph(
                        "Canary steps: requests per arm",
                        [search(INVOCATIONS, PREDICTION_DIMENSIONS, "Sum", FIVE_MINUTES, extra=canary_arms)],
                        unit="requests / 5 min",
                    ),
                    graph(
                        "Canary steps: error rate and p99 per arm",
                        [
                            search(
                                ERRORS, PREDICTION_DIMENSIONS, "Average", FIVE_MINUTES, "errors", canary_arms
                            )
                        ],
                        unit="share of requests",
                        right=[
                            search(LATENCY, PREDICTION_DIMENSIONS, "p99", FIVE_MINUTES, "p99", canary_arms)
                        ],
                        right_unit="ms",
                    ),
                    # A rollout ends Promoted (succeeded), or RolledBack / Failed (failed); all models.
                    graph(
                        "Canary rollouts (all models)",
                        [
                            canary_machine.metric_started(
                                statistic="Sum", period=Duration.hours(1), label="started"
                            ),
                            canary_machine.metric_succeeded(
                                statistic="Sum", period=Duration.hours(1), label="promoted"
                            ),
                            canary_machine.metric_failed(
                                statistic="Sum", period=Duration.hours(1), label="rolled back or failed"
                            ),
                        ],
                        unit="rollouts / hour",
                    ),
                ],
            ],
        )
