"""The in-memory store is a test double; these prove it keeps the contract the domain relies on."""

from __future__ import annotations

from typing import Any

import pytest

from lambdaops.core.errors import (
    ArtifactInvalid,
    ArtifactTooLarge,
    ConcurrentModification,
    InvalidInput,
    ModelAlreadyExists,
    VersionAlreadyExists,
    VersionNotFound,
)
from lambdaops.registry.policies import PromotionPolicy
from lambdaops.registry.schemas import HistoryEntry, InputSchema, Lineage, ModelRecord, VersionRecord
from lambdaops.registry.stages import Stage
from lambdaops.registry.store import ModelChange, StageMove, TagFilter, VersionFilter

from .memory_store import FakeArtifacts, InMemoryRegistryStore, RecordingPublisher

AT = "2025-01-01T00:00:00.000Z"


def model(name: str = "churn") -> ModelRecord:
    return ModelRecord(
        name=name, description="", tags={}, policy=PromotionPolicy(), created_at=AT, created_by="alice"
    )


def version(number: str, stage: Stage = Stage.NONE, **tags: str) -> VersionRecord:
    return VersionRecord(
        model="churn",
        version=number,
        stage=stage,
        artifact_uri=f"s3://b/models/churn/{number}",
        artifact_version_id=None,
        sha256="0" * 64,
        size_bytes=1,
        metrics={},
        params={},
        input_schema=InputSchema.model_validate({"features": [{"name": "x", "type": "float"}]}),
        lineage=Lineage(),
        tags=tags,
        description="",
        created_at=AT,
        created_by="alice",
        stage_changed_at=AT,
    )


def entry(number: str, to_stage: Stage = Stage.NONE) -> HistoryEntry:
    return HistoryEntry(
        at=AT, actor="alice", action="register", version=number, from_stage=None, to_stage=to_stage, reason=""
    )


def change(revision: int, **fields: Any) -> ModelChange:
    values: dict[str, Any] = {
        "model": "churn",
        "expected_revision": revision,
        "production_version": None,
        "staging_versions": (),
        "latest_version": None,
        "production_history": (),
        "traffic": None,
        "at": "2025-01-02T00:00:00.000Z",
    }
    return ModelChange(**{**values, **fields})


@pytest.fixture
def store() -> InMemoryRegistryStore:
    store = InMemoryRegistryStore()
    store.create_model(model())
    store.commit(change(0, new_version=version("1.0.0"), latest_version="1.0.0", history=(entry("1.0.0"),)))
    return store


def test_create_model_twice_is_refused(store: InMemoryRegistryStore) -> None:
    with pytest.raises(ModelAlreadyExists):
        store.create_model(model())


def test_commit_applies_everything_and_advances_the_revision(store: InMemoryRegistryStore) -> None:
    store.commit(
        change(
            1,
            new_version=version("2.0.0"),
            moves=(StageMove("1.0.0", Stage.NONE, Stage.STAGING),),
            staging_versions=("1.0.0",),
            latest_version="2.0.0",
            production_history=("0.9.0",),
            history=(entry("2.0.0"),),
        )
    )
    state = store.get_model("churn")
    assert state is not None
    assert state.revision == 2
    assert state.record.staging_versions == ["1.0.0"]
    assert state.record.latest_version == "2.0.0"
    assert state.production_history == ("0.9.0",)
    moved = store.get_version("churn", "1.0.0")
    assert moved is not None
    assert (moved.stage, moved.stage_changed_at) == (Stage.STAGING, "2025-01-02T00:00:00.000Z")
    assert [e.version for e in store.history("churn")] == ["1.0.0", "2.0.0"]


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({"expected_revision": 0}, ConcurrentModification),
        ({"new_version": version("1.0.0")}, VersionAlreadyExists),
        ({"moves": (StageMove("1.0.0", Stage.STAGING, Stage.PRODUCTION),)}, ConcurrentModification),
        ({"moves": (StageMove("3.0.0", Stage.NONE, Stage.STAGING),)}, ConcurrentModification),
    ],
)
def test_a_failed_check_applies_nothing(
    store: InMemoryRegistryStore, bad: dict[str, Any], error: type[Exception]
) -> None:
    before = store.snapshot()
    fields: dict[str, Any] = {
        "new_version": version("2.0.0"),
        "latest_version": "2.0.0",
        "history": (entry("2.0.0"),),
        **bad,
    }
    with pytest.raises(error):
        store.commit(change(fields.pop("expected_revision", 1), **fields))
    assert store.snapshot() == before


def test_a_stale_revision_wins_over_a_duplicate_version(store: InMemoryRegistryStore) -> None:
    # The domain retries on ConcurrentModification; a stale writer must hear that first.
    with pytest.raises(ConcurrentModification):
        store.commit(change(0, new_version=version("1.0.0")))


def test_returned_records_are_copies(store: InMemoryRegistryStore) -> None:
    record = store.get_version("churn", "1.0.0")
    assert record is not None
    record.tags["mutated"] = "yes"
    assert store.get_version("churn", "1.0.0").tags == {}


def test_list_versions_newest_first_filtered_and_paged(store: InMemoryRegistryStore) -> None:
    store.commit(change(1, new_version=version("1.10.0", team="a")))
    store.commit(change(2, new_version=version("1.9.0", Stage.STAGING, team="b")))
    where = VersionFilter()
    first = store.list_versions("churn", where, 2, None)
    second = store.list_versions("churn", where, 2, first.next_token)
    assert [v.version for v in first.items + second.items] == ["1.10.0", "1.9.0", "1.0.0"]
    assert second.next_token is None
    assert [
        v.version for v in store.list_versions("churn", VersionFilter(tag_key="team"), 9, None).items
    ] == [
        "1.10.0",
        "1.9.0",
    ]
    only_b = store.list_versions("churn", VersionFilter(tag_key="team", tag_value="b"), 9, None)
    assert [v.version for v in only_b.items] == ["1.9.0"]
    staging = store.list_versions("churn", VersionFilter(stage=Stage.STAGING), 9, None)
    assert [v.version for v in staging.items] == ["1.9.0"]
    with pytest.raises(InvalidInput):
        store.list_versions("churn", where, 2, "garbage")


def test_update_version(store: InMemoryRegistryStore) -> None:
    assert store.update_version("churn", "1.0.0", {"a": "b"}, None).tags == {"a": "b"}
    with pytest.raises(VersionNotFound):
        store.update_version("churn", "9.0.0", None, "x")


def test_fake_artifacts() -> None:
    artifacts = FakeArtifacts("bucket")
    assert artifacts.put("models/m/a.onnx", b"abc") == "s3://bucket/models/m/a.onnx"
    fetched = artifacts.fetch("models/m/a.onnx", 10)
    assert (fetched.data, fetched.version_id) == (b"abc", "v1")
    with pytest.raises(ArtifactInvalid) as caught:
        artifacts.fetch("models/m/b.onnx", 10)
    assert caught.value.details["reason"] == "missing"
    with pytest.raises(ArtifactTooLarge):
        artifacts.fetch("models/m/a.onnx", 2)


def test_recording_publisher() -> None:
    publisher = RecordingPublisher()
    publisher.publish("Kind", {"a": 1})
    assert publisher.events == [("Kind", {"a": 1})]


def test_list_models_filtered_by_tag() -> None:
    store = InMemoryRegistryStore()
    for name, tags in (("a", {"team": "x"}), ("b", {"team": "y"}), ("c", {"team": "x", "gold": ""})):
        store.create_model(model(name).model_copy(update={"tags": tags}))
    names = [m.name for m in store.list_models(TagFilter("team", "x"), 9, None).items]
    assert names == ["a", "c"]
    assert [m.name for m in store.list_models(TagFilter("gold"), 9, None).items] == ["c"]
    assert [m.name for m in store.list_models(TagFilter(), 9, None).items] == ["a", "b", "c"]
