"""Registry changes as events for other systems to consume: their names, shapes and the publishing port."""

from __future__ import annotations

from typing import Any, Protocol

from lambdaops.registry.schemas import HistoryEntry, VersionRecord

VERSION_REGISTERED = "ModelVersionRegistered"
STAGE_CHANGED = "ModelVersionStageChanged"


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


def registered_event(version: VersionRecord) -> dict[str, Any]:
    return {
        "model": version.model,
        "version": version.version,
        "artifact_uri": version.artifact_uri,
        "sha256": version.sha256,
        "metrics": version.metrics,
        "actor": version.created_by,
    }


def stage_changed_event(model: str, entry: HistoryEntry) -> dict[str, Any]:
    return {"model": model, **entry.model_dump(mode="json")}
