"""The registry's storage port: the whole change the domain decides, and the interface storage offers.

The domain decides a whole change (pointers, new version, stage moves, history) as one value; the store
writes it atomically or not at all, conditioned on the model's revision, so concurrent writers
cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from lambdaops.registry.schemas import HistoryEntry, ModelRecord, Page, TrafficSplit, VersionRecord
from lambdaops.registry.stages import Stage


@dataclass(frozen=True)
class ModelState:
    """A model as stored: its public record plus the bookkeeping that guards and enables changes."""

    record: ModelRecord
    revision: int
    production_history: tuple[str, ...] = ()
    """Versions that were in production before the current one, oldest first (for rollback)."""

    def change(self, at: str, **updates: Any) -> ModelChange:
        """A change from this state: its pointers carried over unless `updates` replaces them."""
        carried = ModelChange(
            model=self.record.name,
            expected_revision=self.revision,
            production_version=self.record.production_version,
            staging_versions=tuple(self.record.staging_versions),
            latest_version=self.record.latest_version,
            production_history=self.production_history,
            traffic=self.record.traffic,
            at=at,
        )
        return replace(carried, **updates)


@dataclass(frozen=True)
class StageMove:
    version: str
    from_stage: Stage
    to_stage: Stage


@dataclass(frozen=True)
class ModelChange:
    """One atomic write: applies only if the model is still at `expected_revision`."""

    model: str
    expected_revision: int
    production_version: str | None
    staging_versions: tuple[str, ...]
    latest_version: str | None
    production_history: tuple[str, ...]
    traffic: TrafficSplit | None
    """The split after the change: carried over unchanged, replaced, or cleared (None)."""
    at: str
    new_version: VersionRecord | None = None
    moves: tuple[StageMove, ...] = ()
    history: tuple[HistoryEntry, ...] = field(default=())


@dataclass(frozen=True)
class TagFilter:
    """Records carrying tag `tag_key` (with value `tag_value`, when given); no key keeps everything."""

    tag_key: str | None = None
    tag_value: str | None = None

    def keeps(self, tags: dict[str, str]) -> bool:
        if self.tag_key is None:
            return True
        if self.tag_key not in tags:
            return False
        return self.tag_value is None or tags[self.tag_key] == self.tag_value


@dataclass(frozen=True)
class VersionFilter(TagFilter):
    stage: Stage | None = None


class RegistryStore(Protocol):
    def create_model(self, record: ModelRecord) -> None: ...

    def get_model(self, name: str) -> ModelState | None: ...

    def list_models(self, where: TagFilter, limit: int, token: str | None) -> Page[ModelRecord]: ...

    def get_version(self, name: str, version: str) -> VersionRecord | None: ...

    def list_versions(
        self, name: str, where: VersionFilter, limit: int, token: str | None
    ) -> Page[VersionRecord]: ...

    def update_version(
        self, name: str, version: str, tags: dict[str, str] | None, description: str | None
    ) -> VersionRecord: ...

    def commit(self, change: ModelChange) -> None:
        """Write the change atomically; raise `ConcurrentModification` or `VersionAlreadyExists`."""
        ...

    def history(self, name: str) -> list[HistoryEntry]: ...
