"""CloudWatch adapter for `GET /metrics` (`operations.collector.SeriesSource`): a namespace's series from
ListMetrics, and their statistics from GetMetricData, 500 queries a call (its limit), following
`NextToken` when a call's datapoints are paged."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from lambdaops.operations.collector import Point, SeriesId, StatQuery

MAX_QUERIES = 500
"""GetMetricData's limit on queries per call."""


class CloudWatchSeries:
    def __init__(self, client: Any) -> None:
        self._cloudwatch = client

    def list_series(self, namespace: str) -> list[SeriesId]:
        found: dict[SeriesId, None] = {}  # ordered, without duplicates
        for page in self._cloudwatch.get_paginator("list_metrics").paginate(Namespace=namespace):
            for metric in page.get("Metrics", []):
                # As listed: CloudWatch ignores the order of a query's dimensions, but moto (5.2.5) matches
                # them only in the order they were put, which is the order it lists them in.
                dimensions = tuple((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))
                found[SeriesId(metric["MetricName"], dimensions)] = None
        return list(found)

    def read(
        self, namespace: str, queries: Sequence[StatQuery], start: datetime, end: datetime
    ) -> list[list[Point]]:
        points: list[list[Point]] = [[] for _ in queries]
        for first in range(0, len(queries), MAX_QUERIES):
            batch = [
                _query(f"q{first + offset}", namespace, query)
                for offset, query in enumerate(queries[first : first + MAX_QUERIES])
            ]
            token: str | None = None
            while True:
                reply = self._cloudwatch.get_metric_data(
                    MetricDataQueries=batch,
                    StartTime=start,
                    EndTime=end,
                    **({"NextToken": token} if token else {}),
                )
                for result in reply.get("MetricDataResults", []):
                    found = zip(result.get("Timestamps", []), result.get("Values", []), strict=True)
                    points[int(result["Id"][1:])] += [(at, float(value)) for at, value in found]
                token = reply.get("NextToken")
                if not token:
                    break
        return points


def _query(query_id: str, namespace: str, query: StatQuery) -> dict[str, Any]:
    dimensions = [{"Name": name, "Value": value} for name, value in query.series.dimensions]
    metric = {"Namespace": namespace, "MetricName": query.series.metric, "Dimensions": dimensions}
    return {"Id": query_id, "MetricStat": {"Metric": metric, "Period": query.period_s, "Stat": query.stat}}
