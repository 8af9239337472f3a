"""The DynamoDB adapter's transactions on moto: conditions hold, and a refused change writes nothing."""

from __future__ import annotations

import boto3
import pytest

from lambdaops.aws.registry_store import DynamoRegistryStore
from lambdaops.core.errors import ConcurrentModification, VersionAlreadyExists
from lambdaops.registry.policies import PromotionPolicy
from lambdaops.registry.schemas import HistoryEntry, InputSchema, Lineage, ModelRecord, VersionRecord
from lambdaops.registry.stages import Stage
from lambdaops.registry.store import ModelChange, StageMove
from lambdaops_tools.local.resources import LocalResources

from .conftest import table_snapshot

NOW = "2026-11-24T00:00:00.000Z"


def version(v: str) -> VersionRecord:
    return VersionRecord(
        model="m1",
        version=v,
        stage=Stage.NONE,
        artifact_uri=f"s3://b/models/m1/{v}/model.onnx",
        artifact_version_id=None,
        sha256="0" * 64,
        size_bytes=1,
        metrics={},
        params={},
        input_schema=InputSchema.model_validate({"features": [{"name": "x", "type": "float"}]}),
        lineage=Lineage(),
        tags={},
        description="",
        created_at=NOW,
        created_by="me",
        stage_changed_at=NOW,
    )


def registration(v: str, revision: int, latest: str | None = None) -> ModelChange:
    entry = HistoryEntry(
        at=NOW, actor="me", action="register", version=v, from_stage=None, to_stage=Stage.NONE, reason=""
    )
    return ModelChange(
        model="m1",
        expected_revision=revision,
        production_version=None,
        staging_versions=(),
        latest_version=latest or v,
        production_history=(),
        traffic=None,
        at=NOW,
        new_version=version(v),
        history=(entry,),
    )


@pytest.fixture
def store(aws: LocalResources) -> DynamoRegistryStore:
    store = DynamoRegistryStore(boto3.client("dynamodb"), aws.table_name)
    store.create_model(
        ModelRecord(
            name="m1", description="", tags={}, policy=PromotionPolicy(), created_at=NOW, created_by="me"
        )
    )
    return store


def test_commit_advances_revision_and_appends_history(store: DynamoRegistryStore) -> None:
    store.commit(registration("1.0.0", 0))
    state = store.get_model("m1")
    assert state is not None
    assert (state.revision, state.record.latest_version) == (1, "1.0.0")
    assert [h.version for h in store.history("m1")] == ["1.0.0"]


def test_stale_revision_is_refused_whole(store: DynamoRegistryStore, aws: LocalResources) -> None:
    store.commit(registration("1.0.0", 0))
    before = table_snapshot(aws)
    with pytest.raises(ConcurrentModification):
        store.commit(registration("1.1.0", 0))  # someone else already moved revision to 1
    assert table_snapshot(aws) == before


def test_duplicate_version_is_refused_whole(store: DynamoRegistryStore, aws: LocalResources) -> None:
    store.commit(registration("1.0.0", 0))
    before = table_snapshot(aws)
    with pytest.raises(VersionAlreadyExists):
        store.commit(registration("1.0.0", 1))
    assert table_snapshot(aws) == before


def test_stage_move_from_a_stale_stage_is_refused(store: DynamoRegistryStore, aws: LocalResources) -> None:
    store.commit(registration("1.0.0", 0))
    before = table_snapshot(aws)
    change = ModelChange(
        model="m1",
        expected_revision=1,
        production_version="1.0.0",
        staging_versions=(),
        latest_version="1.0.0",
        production_history=(),
        traffic=None,
        at=NOW,
        moves=(StageMove("1.0.0", Stage.STAGING, Stage.PRODUCTION),),
    )
    with pytest.raises(ConcurrentModification):
        store.commit(change)
    assert table_snapshot(aws) == before


def test_filtered_listing_fills_pages_across_dynamodb_pages(store: DynamoRegistryStore) -> None:
    from lambdaops.registry.store import VersionFilter

    for minor in range(30):
        store.commit(registration(f"1.{minor}.0", minor, latest=f"1.{minor}.0"))
    store.update_version("m1", "1.3.0", {"keep": "yes"}, None)
    store.update_version("m1", "1.27.0", {"keep": "yes"}, None)
    page = store.list_versions("m1", VersionFilter(tag_key="keep"), limit=1, token=None)
    assert [v.version for v in page.items] == ["1.27.0"]
    assert page.next_token is not None
    page = store.list_versions("m1", VersionFilter(tag_key="keep"), limit=1, token=page.next_token)
    assert [v.version for v in page.items] == ["1.3.0"]
    rest = store.list_versions("m1", VersionFilter(tag_key="keep"), limit=1, token=page.next_token)
    assert rest.items == []
    assert rest.next_token is None


def test_a_stale_writer_is_told_to_retry_even_when_its_version_also_clashes(
    store: DynamoRegistryStore, aws: LocalResources
) -> None:
    store.commit(registration("1.0.0", 0))
    before = table_snapshot(aws)
    with pytest.raises(ConcurrentModification):
        store.commit(registration("1.0.0", 0))  # both the revision and the version clash
    assert table_snapshot(aws) == before
