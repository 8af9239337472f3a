"""What the predict function reports: its CloudWatch metrics (EMF, via Powertools) and its log port.

The metric names and dimensions are a contract: the canary rollout reads `Invocations`, `Errors` and
`Latency` by `model`, `version` and `variant` (Powertools adds `service`) to compare its arms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

INVOCATIONS = "Invocations"
"""A request that reached a version: it was loaded, or its loading failed."""
ERRORS = "Errors"
"""0 or 1 per invocation: 1 when the version could not be loaded or its inference failed."""
LATENCY = "Latency"
"""Milliseconds spent encoding the instances and running inference (also on failure)."""
INVALID_INPUTS = "InvalidInputs"
"""A request refused for its instances (4xx); it is not an invocation and not an error."""
ARTIFACT_INTEGRITY_FAILURES = "ArtifactIntegrityFailures"
CAPTURE_DROPPED = "CaptureDropped"
CAPTURE_FAILURES = "CaptureFailures"
REQUEST_DIMENSIONS = ("model", "version", "variant")


class PredictionMetrics(Protocol):
    def request(
        self, model: str, version: str, variant: str, *, error: bool, latency_ms: float | None
    ) -> None:
        """One invocation's `Invocations`, `Errors` and (when it ran) `Latency`."""
        ...

    def count(self, name: str, value: int = 1, **dimensions: str) -> None: ...


class Log(Protocol):
    """What the prediction modules log through: a stdlib or a Powertools logger."""

    def warning(self, msg: str, *, extra: Mapping[str, object] | None = None) -> None: ...

    def error(self, msg: str, *, extra: Mapping[str, object] | None = None) -> None: ...


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
        metrics = self._metrics({"model": model, "version": version, "variant": variant})
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
