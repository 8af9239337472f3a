"""Asking for a model to be retrained: the port, and the event used until a training pipeline exists."""

from __future__ import annotations

from typing import Protocol

from lambdaops.registry.events import EventPublisher

RETRAINING_REQUESTED = "RetrainingRequested"


class RetrainingRequests(Protocol):
    def request(self, model: str, version: str, reason: str, report_uri: str) -> str:
        """Starts or asks for retraining; returns what was started (an execution ARN or the event name)."""
        ...


class EventRetraining:
    """Until a training pipeline exists, whoever listens for `RetrainingRequested` acts on it."""

    def __init__(self, events: EventPublisher) -> None:
        self._events = events

    def request(self, model: str, version: str, reason: str, report_uri: str) -> str:
        detail = {"model": model, "version": version, "reason": reason, "drift_report_uri": report_uri}
        self._events.publish(RETRAINING_REQUESTED, detail)
        return RETRAINING_REQUESTED
