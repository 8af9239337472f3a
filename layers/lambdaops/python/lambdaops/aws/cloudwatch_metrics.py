"""CloudWatch adapter: a canary arm's figures (`ArmMetrics`) from the predict function's metrics."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from lambdaops.promotion.schemas import ArmFigures
from lambdaops.serving.telemetry import ERRORS, INVOCATIONS, LATENCY


class CloudWatchArmMetrics:
    """An arm's figures from the predict function's EMF metrics (`lambdaops.serving.telemetry`)."""

    def __init__(self, client: Any, namespace: str, service: str) -> None:
        self._cloudwatch = client
        self._namespace = namespace
        self._service = service

    def figures(self, model: str, version: str, variant: str, start: datetime, end: datetime) -> ArmFigures:
        dimensions = [
            {"Name": "service", "Value": self._service},
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
                query("invocations", INVOCATIONS, "Sum"),
                query("errors", ERRORS, "Sum"),
                query("p99", LATENCY, "p99"),
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
