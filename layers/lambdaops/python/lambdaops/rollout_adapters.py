"""The AWS services a canary rollout uses: Step Functions to run it, CloudWatch to judge it."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

from lambdaops.schemas import ArmFigures

PREDICT_SERVICE = "lambdaops-predict"


class StepFunctionsRollouts:
    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._sfn = client
        self._arn = state_machine_arn

    def start(self, name: str, payload: dict[str, Any]) -> str:
        reply = self._sfn.start_execution(stateMachineArn=self._arn, name=name, input=json.dumps(payload))
        return str(reply["executionArn"])

    def status(self, execution_arn: str) -> str:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED."""
        return str(self._sfn.describe_execution(executionArn=execution_arn)["status"])


class CloudWatchArmMetrics:
    """An arm's figures from the predict function's EMF metrics (see `prediction_telemetry`)."""

    def __init__(self, client: Any, namespace: str) -> None:
        self._cloudwatch = client
        self._namespace = namespace

    def figures(self, model: str, version: str, variant: str, start: datetime, end: datetime) -> ArmFigures:
        dimensions = [
            {"Name": "service", "Value": PREDICT_SERVICE},
            {"Name": "model", "Value": model},
            {"Name": "version", "Value": version},
            {"Name": "variant", "Value": variant},
        ]
        # CloudWatch (and moto) want whole seconds and an end after the start, even for a fast step.
        start = start.replace(microsecond=0)
        end = max(end.replace(microsecond=0), start) + timedelta(seconds=1)
        # One period spanning the whole window, so each query returns one value.
        period = max(60, math.ceil((end - start).total_seconds() / 60) * 60)

        def query(query_id: str, metric: str, stat: str) -> dict[str, Any]:
            return {
                "Id": query_id,
                "MetricStat": {
                    "Metric": {"Namespace": self._namespace, "MetricName": metric, "Dimensions": dimensions},
                    "Period": period,
                    "Stat": stat,
                },
            }

        reply = self._cloudwatch.get_metric_data(
            MetricDataQueries=[
                query("invocations", "Invocations", "Sum"),
                query("errors", "Errors", "Sum"),
                query("p99", "Latency", "p99"),
            ],
            StartTime=start,
            EndTime=end,
        )
        values = {
            result["Id"]: [v for v in result.get("Values", []) if v is not None]
            for result in reply["MetricDataResults"]
        }
        invocations = int(sum(values.get("invocations", [])))
        errors = int(sum(values.get("errors", [])))
        p99 = max(values["p99"]) if values.get("p99") else None
        return ArmFigures(
            invocations=invocations,
            errors=errors,
            error_rate=errors / invocations if invocations else None,
            p99_ms=p99,
        )
