"""What the predict function reports: its metric names and the metrics port it reports through.

The metric names and dimensions are a contract: the canary rollout reads `Invocations`, `Errors` and
`Latency` by `model`, `version` and `variant` (Powertools adds `service`) to compare its arms.
"""

from __future__ import annotations

from typing import Protocol

from lambdaops.core.observability import Metrics

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


class PredictionMetrics(Metrics, Protocol):
    def request(
        self, model: str, version: str, variant: str, *, error: bool, latency_ms: float | None
    ) -> None:
        """One invocation's `Invocations`, `Errors` and (when it ran) `Latency`."""
        ...
