"""EventBridge adapter: `EventPublisher` onto an event bus."""

from __future__ import annotations

import json
import logging
from typing import Any

logger = logging.getLogger(__name__)


class EventBridgePublisher:
    """Publishes after the DynamoDB transaction committed; the table stays the source of truth."""

    def __init__(self, client: Any, bus_name: str, source: str) -> None:
        self._events = client
        self._bus = bus_name
        self._source = source

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        entry = {
            "EventBusName": self._bus,
            "Source": self._source,
            "DetailType": detail_type,
            "Detail": json.dumps(detail),
        }
        try:
            reply = self._events.put_events(Entries=[entry])
            failed = reply.get("FailedEntryCount", 0)
        except Exception:
            logger.exception("could not publish %s", detail_type)
            return
        if failed:
            logger.error("EventBridge refused %s: %s", detail_type, reply.get("Entries"))
