"""In-memory doubles of the registry's ports, faithful to the DynamoDB adapter's contract."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from lambdaops.core.errors import (
    ArtifactInvalid,
    ArtifactTooLarge,
    ConcurrentModification,
    InvalidInput,
    ModelAlreadyExists,
    VersionAlreadyExists,
    VersionNotFound,
)
from lambdaops.core.semver import SemVer, parse_version
from lambdaops.registry.artifacts import Artifact
from lambdaops.registry.schemas import HistoryEntry, ModelRecord, Page, VersionRecord
from lambdaops.registry.store import ModelChange, ModelState, TagFilter, VersionFilter

T = TypeVar("T")


def _key(version: str) -> SemVer:
    # The DynamoDB adapter keys versions by their parsed, zero-padded form; so does this double.
    return parse_version(version)


def _page(items: list[T], limit: int, token: str | None) -> Page[T]:
    try:
        start = int(token) if token is not None else 0
    except ValueError as error:
        raise InvalidInput("next_token is not a token this API issued", field="next_token") from error
    if start < 0 or start > len(items):
        raise InvalidInput("next_token is not a token this API issued", field="next_token")
    end = start + limit
    return Page[T](items=items[start:end], next_token=str(end) if end < len(items) else None)


class InMemoryRegistryStore:
    """`RegistryStore` in dictionaries; `commit` checks everything first and then applies it all."""

    def __init__(self) -> None:
        self._models: dict[str, ModelState] = {}
        self._versions: dict[str, dict[SemVer, VersionRecord]] = {}
        self._history: dict[str, list[HistoryEntry]] = {}
        self.applied: list[ModelChange] = []

    def create_model(self, record: ModelRecord) -> None:
        if record.name in self._models:
            raise ModelAlreadyExists(f"model '{record.name}' already exists", model=record.name)
        # Like the adapter, a new model starts without pointers whatever the record says.
        stored = record.model_copy(
            deep=True, update={"production_version": None, "staging_versions": [], "latest_version": None}
        )
        self._models[record.name] = ModelState(record=stored, revision=0)
        self._versions[record.name] = {}
        self._history[record.name] = []

    def get_model(self, name: str) -> ModelState | None:
        state = self._models.get(name)
        if state is None:
            return None
        return ModelState(
            record=state.record.model_copy(deep=True),
            revision=state.revision,
            production_history=state.production_history,
        )

    def list_models(self, where: TagFilter, limit: int, token: str | None) -> Page[ModelRecord]:
        records = [
            self._models[name].record.model_copy(deep=True)
            for name in sorted(self._models)
            if where.keeps(self._models[name].record.tags)
        ]
        return _page(records, limit, token)

    def get_version(self, name: str, version: str) -> VersionRecord | None:
        record = self._versions.get(name, {}).get(_key(version))
        return record.model_copy(deep=True) if record is not None else None

    def list_versions(
        self, name: str, where: VersionFilter, limit: int, token: str | None
    ) -> Page[VersionRecord]:
        versions = self._versions.get(name, {})
        matching = []
        for key in sorted(versions, reverse=True):
            record = versions[key]
            if where.stage is not None and record.stage != where.stage:
                continue
            if not where.keeps(record.tags):
                continue
            matching.append(record.model_copy(deep=True))
        return _page(matching, limit, token)

    def update_version(
        self, name: str, version: str, tags: dict[str, str] | None, description: str | None
    ) -> VersionRecord:
        versions = self._versions.get(name, {})
        record = versions.get(_key(version))
        if record is None:
            raise VersionNotFound(f"model '{name}' has no version {version}", version=version)
        update: dict[str, Any] = {}
        if tags is not None:
            update["tags"] = dict(tags)
        if description is not None:
            update["description"] = description
        versions[_key(version)] = record.model_copy(deep=True, update=update)
        return versions[_key(version)].model_copy(deep=True)

    def commit(self, change: ModelChange) -> None:
        state = self._models.get(change.model)
        if state is None or state.revision != change.expected_revision:
            raise ConcurrentModification(
                f"model '{change.model}' was changed by another request; read it again and retry",
                model=change.model,
            )
        versions = self._versions[change.model]
        touched = [_key(move.version) for move in change.moves]
        if change.new_version is not None:
            touched.append(_key(change.new_version.version))
            if _key(change.new_version.version) in versions:
                version = change.new_version.version
                raise VersionAlreadyExists(
                    f"model '{change.model}' already has version {version}", version=version
                )
        if len(set(touched)) != len(touched):
            # DynamoDB refuses a transaction that writes one item twice; a domain bug, not a conflict.
            raise ValueError(f"one transaction writes the same version twice: {change}")
        for move in change.moves:
            current = versions.get(_key(move.version))
            if current is None or current.stage != move.from_stage:
                raise ConcurrentModification(
                    f"model '{change.model}' was changed by another request; read it again and retry",
                    model=change.model,
                )

        updated = dict(versions)
        if change.new_version is not None:
            updated[_key(change.new_version.version)] = change.new_version.model_copy(deep=True)
        for move in change.moves:
            updated[_key(move.version)] = updated[_key(move.version)].model_copy(
                update={"stage": move.to_stage, "stage_changed_at": change.at}
            )
        record = state.record.model_copy(
            deep=True,
            update={
                "production_version": change.production_version,
                "staging_versions": list(change.staging_versions),
                "latest_version": change.latest_version,
                "traffic": change.traffic,
            },
        )
        self._versions[change.model] = updated
        self._models[change.model] = ModelState(
            record=record,
            revision=state.revision + 1,
            production_history=tuple(change.production_history),
        )
        self._history[change.model] = [
            *self._history[change.model],
            *(entry.model_copy(deep=True) for entry in change.history),
        ]
        self.applied.append(change)

    def history(self, name: str) -> list[HistoryEntry]:
        return [entry.model_copy(deep=True) for entry in self._history.get(name, [])]

    def snapshot(self) -> dict[str, Any]:
        """Everything stored, as plain data, to prove that a refused call wrote nothing."""
        return copy.deepcopy(
            {
                "models": {
                    name: (state.record.model_dump(), state.revision, state.production_history)
                    for name, state in self._models.items()
                },
                "versions": {
                    name: {str(key): record.model_dump() for key, record in versions.items()}
                    for name, versions in self._versions.items()
                },
                "history": {
                    name: [entry.model_dump() for entry in entries] for name, entries in self._history.items()
                },
            }
        )


class FakeArtifacts:
    """`ArtifactStore` over a dict of key to bytes; every put makes a new object version."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.fetched: list[str] = []
        self._puts = 0

    def put(self, key: str, data: bytes) -> str:
        self._puts += 1
        self.objects[key] = (data, f"v{self._puts}")
        return f"s3://{self.bucket}/{key}"

    def fetch(self, key: str, max_bytes: int, version_id: str | None = None) -> Artifact:
        self.fetched.append(key)
        if key not in self.objects:
            raise ArtifactInvalid(f"no artifact at s3://{self.bucket}/{key}", reason="missing", key=key)
        data, stored_version = self.objects[key]
        if version_id is not None and version_id != stored_version:
            raise ArtifactInvalid(f"no artifact at s3://{self.bucket}/{key}", reason="missing", key=key)
        if len(data) > max_bytes:
            raise ArtifactTooLarge(
                f"artifact is {len(data)} bytes; the limit is {max_bytes}",
                size_bytes=len(data),
                max_bytes=max_bytes,
            )
        return Artifact(key=key, data=data, version_id=stored_version)


@dataclass
class RecordingPublisher:
    """`EventPublisher` that remembers what it was asked to publish, in order."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.events.append((detail_type, copy.deepcopy(detail)))


class TickingClock:
    """A clock that advances one second per reading, so timestamps are distinct and ordered."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> str:
        self._now += timedelta(seconds=1)
        return self._now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RacingStore:
    """Wraps a store so that `race()` runs just before each of the first `times` commits.

    It stands for another writer that lands between the domain's read and its transaction.
    """

    def __init__(self, inner: InMemoryRegistryStore, race: Callable[[], None], times: int) -> None:
        self.inner = inner
        self._race = race
        self._remaining = times
        self.commit_attempts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def commit(self, change: ModelChange) -> None:
        self.commit_attempts += 1
        if self._remaining > 0:
            self._remaining -= 1
            self._race()
        self.inner.commit(change)
