"""Asking for a model to be retrained: the training state machine when deployed, else an event."""

from __future__ import annotations

import json
from typing import Any, Protocol

from lambdaops.registry_events import EventPublisher

RETRAINING_REQUESTED = "RetrainingRequested"


class RetrainingRequests(Protocol):
    def request(self, model: str, version: str, reason: str, report_uri: str) -> str:
        """Starts or asks for retraining; returns what was started (an execution ARN or the event name)."""
        ...


class StateMachineRetraining:
    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._sfn = client
        self._arn = state_machine_arn

    def request(self, model: str, version: str, reason: str, report_uri: str) -> str:
        payload = {"model": model, "version": version, "reason": reason, "drift_report_uri": report_uri}
        reply = self._sfn.start_execution(stateMachineArn=self._arn, input=json.dumps(payload))
        return str(reply["executionArn"])


class EventRetraining:
    """Until a training pipeline exists, whoever listens for `RetrainingRequested` acts on it."""

    def __init__(self, events: EventPublisher) -> None:
        self._events = events

    def request(self, model: str, version: str, reason: str, report_uri: str) -> str:
        detail = {"model": model, "version": version, "reason": reason, "drift_report_uri": report_uri}
        self._events.publish(RETRAINING_REQUESTED, detail)
        return RETRAINING_REQUESTED
