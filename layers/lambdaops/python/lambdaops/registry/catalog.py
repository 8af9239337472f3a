"""Registry use cases: models and their immutable versions. No AWS here, only the ports."""

from __future__ import annotations

from collections.abc import Callable

from lambdaops.core.clock import Clock, utc_now
from lambdaops.core.errors import ConcurrentModification, InvalidInput, VersionAlreadyExists
from lambdaops.core.semver import next_version, parse_version
from lambdaops.registry.artifacts import Artifact, ArtifactStore, artifact_key
from lambdaops.registry.events import VERSION_REGISTERED, EventPublisher, registered_event
from lambdaops.registry.lookups import require_model, require_version
from lambdaops.registry.onnx_inspection import GraphInput, inspect_onnx, reconcile_schema
from lambdaops.registry.schemas import (
    Comparison,
    CreateModelRequest,
    HistoryEntry,
    InputSchema,
    ModelRecord,
    Page,
    RegisterVersionRequest,
    UpdateVersionRequest,
    VersionRecord,
)
from lambdaops.registry.stages import Stage
from lambdaops.registry.store import ModelChange, ModelState, RegistryStore, TagFilter, VersionFilter

_REGISTER_ATTEMPTS = 3


def _later(a: str | None, b: str) -> str:
    return b if a is None or parse_version(b) > parse_version(a) else a


class Registry:
    def __init__(
        self,
        store: RegistryStore,
        artifacts: ArtifactStore,
        events: EventPublisher,
        bucket: str,
        max_artifact_bytes: int,
        clock: Clock = utc_now,
        inspect: Callable[[bytes], GraphInput] = inspect_onnx,
    ) -> None:
        self._store = store
        self._artifacts = artifacts
        self._events = events
        self._bucket = bucket
        self._max_bytes = max_artifact_bytes
        self._clock = clock
        self._inspect = inspect

    def create_model(self, request: CreateModelRequest, actor: str) -> ModelRecord:
        record = ModelRecord(
            name=request.name,
            description=request.description,
            tags=request.tags,
            policy=request.policy,
            drift=request.drift,
            created_at=self._clock(),
            created_by=actor,
        )
        self._store.create_model(record)
        return record

    def get_model(self, name: str) -> ModelRecord:
        return require_model(self._store, name).record

    def list_models(self, tag: str | None, limit: int, token: str | None) -> Page[ModelRecord]:
        return self._store.list_models(_tag_filter(tag), limit, token)

    def register_version(self, name: str, request: RegisterVersionRequest, actor: str) -> VersionRecord:
        """Check the artifact end to end, then write version, pointers and history in one transaction."""
        state = require_model(self._store, name)
        if request.version is not None and self._store.get_version(name, request.version) is not None:
            raise VersionAlreadyExists(
                f"model '{name}' already has version {request.version}", version=request.version
            )
        artifact = self._artifacts.fetch(
            artifact_key(request.artifact_uri, self._bucket, name), self._max_bytes
        )
        schema = reconcile_schema(self._inspect(artifact.data), request.input_schema)
        for attempt in range(_REGISTER_ATTEMPTS):
            record = self._new_version(state, request, artifact, schema, actor)
            try:
                self._store.commit(self._registration(state, record, request.description))
                break
            except ConcurrentModification:
                # Another registration or stage change landed first; re-read and try again.
                if attempt == _REGISTER_ATTEMPTS - 1:
                    raise
                state = require_model(self._store, name)
        self._events.publish(VERSION_REGISTERED, registered_event(record))
        return record

    def _new_version(
        self,
        state: ModelState,
        request: RegisterVersionRequest,
        artifact: Artifact,
        schema: InputSchema,
        actor: str,
    ) -> VersionRecord:
        """The version as recorded: named by the request, else the next after the model's latest."""
        now = self._clock()
        version = request.version or str(next_version(state.record.latest_version, request.bump or "patch"))
        return VersionRecord(
            model=state.record.name,
            version=version,
            stage=Stage.NONE,
            artifact_uri=request.artifact_uri,
            artifact_version_id=artifact.version_id,
            sha256=artifact.sha256,
            size_bytes=len(artifact.data),
            metrics=request.metrics,
            params=request.params,
            input_schema=schema,
            lineage=request.lineage,
            tags=request.tags,
            description=request.description,
            created_at=now,
            created_by=actor,
            stage_changed_at=now,
        )

    @staticmethod
    def _registration(state: ModelState, record: VersionRecord, reason: str) -> ModelChange:
        entry = HistoryEntry(
            at=record.created_at,
            actor=record.created_by,
            action="register",
            version=record.version,
            from_stage=None,
            to_stage=Stage.NONE,
            reason=reason,
        )
        return state.change(
            record.created_at,
            latest_version=_later(state.record.latest_version, record.version),
            new_version=record,
            history=(entry,),
        )

    def get_version(self, name: str, version: str) -> VersionRecord:
        return require_version(self._store, name, version)

    def list_versions(
        self, name: str, stage: Stage | None, tag: str | None, limit: int, token: str | None
    ) -> Page[VersionRecord]:
        require_model(self._store, name)
        tags = _tag_filter(tag)
        where = VersionFilter(stage=stage, tag_key=tags.tag_key, tag_value=tags.tag_value)
        return self._store.list_versions(name, where, limit, token)

    def update_version(self, name: str, version: str, request: UpdateVersionRequest) -> VersionRecord:
        require_version(self._store, name, version)
        return self._store.update_version(name, version, request.tags, request.description)

    def compare(self, name: str, a: str, b: str) -> Comparison:
        first, second = require_version(self._store, name, a), require_version(self._store, name, b)
        metrics: dict[str, dict[str, float | None]] = {}
        for metric in sorted(first.metrics.keys() | second.metrics.keys()):
            va, vb = first.metrics.get(metric), second.metrics.get(metric)
            metrics[metric] = {
                "a": va,
                "b": vb,
                "delta": vb - va if va is not None and vb is not None else None,
            }
        params = {
            key: {"a": first.params.get(key), "b": second.params.get(key)}
            for key in sorted(first.params.keys() | second.params.keys())
            if first.params.get(key) != second.params.get(key)
        }
        features_a = {f.name: f for f in first.input_schema.features}
        features_b = {f.name: f for f in second.input_schema.features}
        schema = {
            "added": sorted(features_b.keys() - features_a.keys()),
            "removed": sorted(features_a.keys() - features_b.keys()),
            "changed": sorted(
                n for n in features_a.keys() & features_b.keys() if features_a[n] != features_b[n]
            ),
        }
        lineage_a, lineage_b = first.lineage.model_dump(), second.lineage.model_dump()
        lineage = {
            key: {"a": lineage_a[key], "b": lineage_b[key]}
            for key in lineage_a
            if lineage_a[key] != lineage_b[key]
        }
        return Comparison(a=a, b=b, metrics=metrics, params=params, input_schema=schema, lineage=lineage)


def _tag_filter(tag: str | None) -> TagFilter:
    """`key` or `key=value`, as listings take it in their `tag` parameter."""
    if tag is None:
        return TagFilter()
    key, sep, value = tag.partition("=")
    if not key:
        raise InvalidInput("tag filter is 'key' or 'key=value'", field="tag")
    return TagFilter(key, value if sep else None)
