"""CloudWatch metrics as EMF documents through Powertools: the `Metrics` port every function reports to."""

from __future__ import annotations

from collections.abc import Mapping

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from lambdaops.serving.telemetry import ERRORS, INVOCATIONS, LATENCY


class EmfMetrics:
    """One EMF document per call, printed at once, so concurrent requests never share a metric set.

    `service` is fixed at construction: the local runtime applies a function's environment only while
    its module is imported, so reading it per request would lose the `service` dimension locally.
    """

    def __init__(self, namespace: str, service: str | None) -> None:
        self._namespace = namespace
        self._service = service

    def request(
        self, model: str, version: str, variant: str, *, error: bool, latency_ms: float | None
    ) -> None:
        """Per arm (what the canary reads) and, in the same document, per service alone: CloudWatch keeps
        no percentile across series, so the p99 over every model is alarmed on its own series."""
        metrics = self._metrics({"model": model, "version": version, "variant": variant})
        if self._service:
            metrics.add_dimensions(service=self._service)
        metrics.add_metric(name=INVOCATIONS, unit=MetricUnit.Count, value=1)
        metrics.add_metric(name=ERRORS, unit=MetricUnit.Count, value=int(error))
        if latency_ms is not None:
            metrics.add_metric(name=LATENCY, unit=MetricUnit.Milliseconds, value=latency_ms)
        metrics.flush_metrics()

    def count(self, name: str, value: int = 1, **dimensions: str) -> None:
        metrics = self._metrics(dimensions)
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        metrics.flush_metrics()

    def gauge(self, name: str, value: float, **dimensions: str) -> None:
        """A unitless measurement (a drift score, a 0/1 verdict)."""
        metrics = self._metrics(dimensions)
        metrics.add_metric(name=name, unit=MetricUnit.NoUnit, value=value)
        metrics.flush_metrics()

    def _metrics(self, dimensions: Mapping[str, str]) -> EphemeralMetrics:
        metrics = EphemeralMetrics(namespace=self._namespace, service=self._service)
        for key, value in dimensions.items():
            metrics.add_dimension(name=key, value=value)
        return metrics
