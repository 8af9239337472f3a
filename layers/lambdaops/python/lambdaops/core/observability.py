"""The ports capabilities report through: a log, metrics, and alerts to people.

Powertools' Logger and a stdlib logger both satisfy `Log`; `lambdaops.runtime.metrics.EmfMetrics`
satisfies `Metrics`; `lambdaops.aws.sns_alerts.SnsAlerts` satisfies `AlertPublisher`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Log(Protocol):
    def warning(self, msg: str, *, extra: Mapping[str, object] | None = None) -> None: ...

    def error(self, msg: str, *, extra: Mapping[str, object] | None = None) -> None: ...

    def exception(self, msg: str, *, extra: Mapping[str, object] | None = None) -> None: ...


class Metrics(Protocol):
    def count(self, name: str, value: int = 1, **dimensions: str) -> None: ...

    def gauge(self, name: str, value: float, **dimensions: str) -> None:
        """A unitless measurement (a drift score, a 0/1 verdict)."""
        ...


class AlertPublisher(Protocol):
    """Alerts to people: a topic that email, chat and paging subscribe to."""

    def publish(self, subject: str, message: dict[str, Any], attributes: dict[str, str]) -> None: ...
