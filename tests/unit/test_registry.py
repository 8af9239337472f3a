from __future__ import annotations

import hashlib
import random
from typing import Any

import pytest

from lambdaops.core.errors import (
    ArtifactInvalid,
    ArtifactTooLarge,
    ConcurrentModification,
    InvalidInput,
    ModelAlreadyExists,
    ModelNotFound,
    VersionAlreadyExists,
    VersionNotFound,
)
from lambdaops.registry.catalog import Registry
from lambdaops.registry.events import VERSION_REGISTERED
from lambdaops.registry.schemas import CreateModelRequest, RegisterVersionRequest, UpdateVersionRequest
from lambdaops.registry.stages import Stage
from lambdaops_tools.demo.sample_models import TrainedModel

from .conftest import ALICE, BOB, BUCKET, World, build_world
from .memory_store import InMemoryRegistryStore, RacingStore

FOUR_FEATURES = {
    "features": [
        {"name": "tenure_months", "type": "float"},
        {"name": "monthly_spend", "type": "float", "min": 0},
        {"name": "support_tickets", "type": "int"},
        {"name": "plan", "type": "category", "categories": ["basic", "pro"]},
    ]
}


def test_create_model_returns_and_stores_the_record(world: World) -> None:
    request = CreateModelRequest.model_validate(
        {
            "name": "churn",
            "description": "who leaves",
            "tags": {"team": "growth"},
            "policy": {"thresholds": [{"metric": "accuracy", "min": 0.8}]},
        }
    )
    created = world.registry.create_model(request, ALICE)
    assert created.name == "churn"
    assert created.created_by == ALICE
    assert created.production_version is None
    assert created.staging_versions == []
    assert created.latest_version is None
    assert world.registry.get_model("churn") == created
    assert world.registry.get_model("churn").policy.thresholds[0].min == 0.8


def test_creating_a_model_twice_is_refused(world: World) -> None:
    world.create(description="first")
    with pytest.raises(ModelAlreadyExists) as caught:
        world.create(description="second")
    assert caught.value.status == 409
    assert world.registry.get_model("churn").description == "first"


def test_unknown_model(world: World) -> None:
    with pytest.raises(ModelNotFound) as caught:
        world.registry.get_model("nobody")
    assert caught.value.details == {"model": "nobody"}


def test_malformed_model_name_is_invalid_input(world: World) -> None:
    with pytest.raises(InvalidInput):
        world.registry.get_model("Not_A_Name")


def test_list_models_pages_through_names(world: World) -> None:
    for name in ["cc", "aa", "bb"]:
        world.create(name)
    first = world.registry.list_models(None, 2, None)
    assert [m.name for m in first.items] == ["aa", "bb"]
    assert first.next_token is not None
    second = world.registry.list_models(None, 2, first.next_token)
    assert [m.name for m in second.items] == ["cc"]
    assert second.next_token is None


def test_register_an_explicit_version(world: World) -> None:
    world.create()
    uri = world.upload("churn", "1.4.0/model.onnx")
    record = world.register(
        "1.4.0",
        artifact_uri=uri,
        metrics={"accuracy": 0.91},
        params={"epochs": 200},
        input_schema=FOUR_FEATURES,
        lineage={"dataset_uri": "s3://data/churn.csv", "source_commit": "abc123"},
        tags={"team": "growth"},
        description="first cut",
    )
    data = world.model.onnx_bytes
    assert record.version == "1.4.0"
    assert record.stage == Stage.NONE
    assert record.sha256 == hashlib.sha256(data).hexdigest()
    assert record.size_bytes == len(data)
    assert record.artifact_uri == uri
    assert record.artifact_version_id == world.artifacts.objects["models/churn/1.4.0/model.onnx"][1]
    assert record.created_by == ALICE
    assert record.input_schema.model_dump(exclude_none=True) == FOUR_FEATURES
    assert record.lineage.source_commit == "abc123"
    assert world.registry.get_version("churn", "1.4.0") == record
    model = world.registry.get_model("churn")
    assert model.latest_version == "1.4.0"
    assert model.production_version is None
    assert model.staging_versions == []
    [entry] = world.promotion.history("churn").items
    assert (entry.action, entry.version, entry.from_stage, entry.to_stage) == (
        "register",
        "1.4.0",
        None,
        Stage.NONE,
    )
    assert entry.actor == ALICE
    assert entry.at == record.created_at


def test_registration_publishes_one_event(world: World) -> None:
    world.create()
    record = world.register("1.0.0", actor=BOB)
    assert world.events.events == [
        (
            VERSION_REGISTERED,
            {
                "model": "churn",
                "version": "1.0.0",
                "artifact_uri": record.artifact_uri,
                "sha256": record.sha256,
                "metrics": record.metrics,
                "actor": BOB,
            },
        )
    ]


def test_first_version_is_1_0_0_and_default_bump_is_patch(world: World) -> None:
    world.create()
    assert world.register().version == "1.0.0"
    assert world.register().version == "1.0.1"
    assert world.register().version == "1.0.2"
    assert world.registry.get_model("churn").latest_version == "1.0.2"


@pytest.mark.parametrize("bump", ["major", "minor", "patch"])
def test_first_version_is_1_0_0_whatever_the_bump(world: World, bump: str) -> None:
    world.create()
    assert world.register(bump=bump).version == "1.0.0"


@pytest.mark.parametrize(("bump", "expected"), [("major", "2.0.0"), ("minor", "1.5.0"), ("patch", "1.4.8")])
def test_bump_from_the_latest(world: World, bump: str, expected: str) -> None:
    world.create()
    world.register("1.4.7")
    assert world.register(bump=bump).version == expected
    assert world.registry.get_model("churn").latest_version == expected


def test_latest_version_is_the_highest_even_when_an_older_one_comes_later(world: World) -> None:
    world.create()
    world.register("2.0.0")
    world.register("1.10.0")
    world.register("1.9.5")
    assert world.registry.get_model("churn").latest_version == "2.0.0"
    assert world.register(bump="minor").version == "2.1.0"
    world.register("10.0.0")
    world.register("9.9.9")
    assert world.registry.get_model("churn").latest_version == "10.0.0"


def test_a_duplicate_version_is_refused_and_nothing_is_written(world: World) -> None:
    world.create()
    world.register("1.0.0", description="original")
    before, events = world.store.snapshot(), list(world.events.events)
    with pytest.raises(VersionAlreadyExists) as caught:
        world.register("1.0.0", description="impostor")
    assert caught.value.status == 409
    assert caught.value.details == {"version": "1.0.0"}
    assert world.store.snapshot() == before
    assert world.events.events == events
    assert world.registry.get_version("churn", "1.0.0").description == "original"
    assert len(world.promotion.history("churn").items) == 1


def test_registering_into_an_unknown_model(world: World) -> None:
    with pytest.raises(ModelNotFound):
        world.register("1.0.0", name="ghost")


def random_bytes(size: int) -> bytes:
    return random.Random(1234).randbytes(size)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"artifact_uri": "s3://someone-elses-bucket/models/churn/model.onnx"}, "outside_bucket"),
        ({"artifact_uri": f"s3://{BUCKET}/models/churn/../other/model.onnx"}, "invalid_path"),
        ({"artifact_uri": f"s3://{BUCKET}/models/other/model.onnx"}, "outside_model_prefix"),
        ({"artifact_uri": f"s3://{BUCKET}/shared/model.onnx"}, "outside_model_prefix"),
        ({"artifact_uri": f"s3://{BUCKET}/models/churn/never-uploaded.onnx"}, "missing"),
        ({"upload": random_bytes(2048)}, "not_onnx"),
        ({"upload": b""}, "not_onnx"),
        ({"input_schema": {"features": [{"name": "a", "type": "float"}]}}, "schema_mismatch"),
        (
            {"input_schema": {"features": [{"name": f"x{i}", "type": "float"} for i in range(5)]}},
            "schema_mismatch",
        ),
    ],
)
def test_invalid_artifacts_are_refused_and_nothing_is_written(
    world: World, fields: dict[str, Any], reason: str
) -> None:
    world.create()
    world.register("1.0.0")
    # Objects outside the model's prefix exist, so only the location rule can refuse them.
    world.artifacts.put("models/other/model.onnx", world.model.onnx_bytes)
    world.artifacts.put("shared/model.onnx", world.model.onnx_bytes)
    if "upload" in fields:
        fields = {"artifact_uri": world.upload("churn", "bad/model.onnx", fields.pop("upload"))}
    before, events = world.store.snapshot(), list(world.events.events)
    with pytest.raises(ArtifactInvalid) as caught:
        world.register("1.1.0", **fields)
    assert caught.value.details["reason"] == reason
    assert caught.value.status == 422
    assert world.store.snapshot() == before
    assert world.events.events == events


def test_too_large_artifact_is_refused(trained: TrainedModel) -> None:
    store = InMemoryRegistryStore()
    small = build_world(trained, store)
    small.registry = Registry(store, small.artifacts, small.events, BUCKET, max_artifact_bytes=64)
    small.create()
    with pytest.raises(ArtifactTooLarge):
        small.register("1.0.0")
    assert small.store.get_version("churn", "1.0.0") is None
    assert small.promotion.history("churn").items == []


def test_schema_is_inferred_when_absent(world: World) -> None:
    world.create()
    record = world.register("1.0.0")
    assert [(f.name, f.type) for f in record.input_schema.features] == [
        ("f0", "float"),
        ("f1", "float"),
        ("f2", "float"),
        ("f3", "float"),
    ]


def test_a_given_schema_is_kept(world: World) -> None:
    world.create()
    record = world.register("1.0.0", input_schema=world.model.input_schema)
    assert [f.name for f in record.input_schema.features] == [
        "tenure_months",
        "monthly_spend",
        "support_tickets",
        "usage_hours",
    ]


def racing_world(trained: TrainedModel, times: int) -> tuple[World, World, RacingStore]:
    """`ours` writes through a racing store; `theirs` is the other writer on the same data."""
    inner = InMemoryRegistryStore()
    theirs = build_world(trained, inner)
    theirs.create()
    counter = iter(range(100, 200))
    racing = RacingStore(inner, lambda: theirs.register(f"{next(counter)}.0.0", actor=BOB), times)
    ours = build_world(trained, racing)
    return ours, theirs, racing


def test_registration_retries_after_a_concurrent_registration(trained: TrainedModel) -> None:
    inner = InMemoryRegistryStore()
    theirs = build_world(trained, inner)
    theirs.create()
    theirs.register("1.0.0")
    racing = RacingStore(inner, lambda: theirs.register(actor=BOB), times=1)
    ours = build_world(trained, racing)
    record = ours.register()
    # Both computed 1.0.1 from the same read; the retry re-reads and takes the next one.
    assert racing.commit_attempts == 2
    assert record.version == "1.0.2"
    assert inner.get_version("churn", "1.0.1").created_by == BOB
    assert inner.get_version("churn", "1.0.2").created_by == ALICE
    assert ours.registry.get_model("churn").latest_version == "1.0.2"
    assert [e.version for e in ours.promotion.history("churn").items] == ["1.0.0", "1.0.1", "1.0.2"]
    assert [d["version"] for _, d in ours.events.events] == ["1.0.2"]


def test_registration_retry_keeps_a_concurrent_stage_change(trained: TrainedModel) -> None:
    inner = InMemoryRegistryStore()
    theirs = build_world(trained, inner)
    theirs.create()
    theirs.register("1.0.0")
    racing = RacingStore(inner, lambda: theirs.move("1.0.0", Stage.STAGING), times=1)
    ours = build_world(trained, racing)
    assert ours.register("2.0.0").version == "2.0.0"
    model = ours.registry.get_model("churn")
    assert model.staging_versions == ["1.0.0"]
    assert model.latest_version == "2.0.0"
    assert ours.stages() == {"2.0.0": Stage.NONE, "1.0.0": Stage.STAGING}


def test_an_explicit_version_taken_concurrently_is_a_conflict_on_retry(trained: TrainedModel) -> None:
    inner = InMemoryRegistryStore()
    theirs = build_world(trained, inner)
    theirs.create()
    racing = RacingStore(inner, lambda: theirs.register("1.0.0", actor=BOB), times=1)
    ours = build_world(trained, racing)
    with pytest.raises(VersionAlreadyExists):
        ours.register("1.0.0")
    assert racing.commit_attempts == 2
    assert inner.get_version("churn", "1.0.0").created_by == BOB
    assert ours.events.events == []


def test_registration_gives_up_after_three_attempts(trained: TrainedModel) -> None:
    ours, _, racing = racing_world(trained, times=10)
    with pytest.raises(ConcurrentModification):
        ours.register(bump="major")
    assert racing.commit_attempts == 3
    assert ours.stages() == {"102.0.0": Stage.NONE, "101.0.0": Stage.NONE, "100.0.0": Stage.NONE}
    assert all(entry.actor == BOB for entry in ours.promotion.history("churn").items)
    assert ours.events.events == []


def test_registration_succeeds_on_the_third_attempt(trained: TrainedModel) -> None:
    ours, _, racing = racing_world(trained, times=2)
    record = ours.register(bump="major")
    assert racing.commit_attempts == 3
    assert record.version == "102.0.0"


def test_get_version_errors(world: World) -> None:
    world.create()
    with pytest.raises(VersionNotFound) as caught:
        world.registry.get_version("churn", "1.0.0")
    assert caught.value.details == {"model": "churn", "version": "1.0.0"}
    with pytest.raises(InvalidInput):
        world.registry.get_version("churn", "latest")
    with pytest.raises(ModelNotFound):
        world.registry.get_version("ghost", "1.0.0")


def test_list_versions_newest_first_with_filters(world: World) -> None:
    world.create()
    world.register("1.9.0", tags={"team": "a"})
    world.register("1.10.0", tags={"team": "b"})
    world.register("2.0.0", tags={"canary": ""})
    world.register("1.2.0")
    world.move("1.9.0", Stage.STAGING)
    world.move("2.0.0", Stage.STAGING)

    def versions(stage: Stage | None = None, tag: str | None = None) -> list[str]:
        return [v.version for v in world.registry.list_versions("churn", stage, tag, 50, None).items]

    assert versions() == ["2.0.0", "1.10.0", "1.9.0", "1.2.0"]
    assert versions(stage=Stage.STAGING) == ["2.0.0", "1.9.0"]
    assert versions(stage=Stage.PRODUCTION) == []
    assert versions(tag="team") == ["1.10.0", "1.9.0"]
    assert versions(tag="team=a") == ["1.9.0"]
    assert versions(tag="canary") == ["2.0.0"]
    assert versions(tag="canary=") == ["2.0.0"]
    assert versions(stage=Stage.STAGING, tag="team") == ["1.9.0"]


def test_list_versions_pages(world: World) -> None:
    world.create()
    for version in ["1.0.0", "1.1.0", "1.2.0"]:
        world.register(version)
    first = world.registry.list_versions("churn", None, None, 2, None)
    second = world.registry.list_versions("churn", None, None, 2, first.next_token)
    assert [v.version for v in first.items + second.items] == ["1.2.0", "1.1.0", "1.0.0"]
    assert second.next_token is None


def test_list_versions_refuses_an_empty_tag_key(world: World) -> None:
    world.create()
    with pytest.raises(InvalidInput) as caught:
        world.registry.list_versions("churn", None, "=x", 10, None)
    assert caught.value.details == {"field": "tag"}


def test_list_versions_of_an_unknown_model(world: World) -> None:
    with pytest.raises(ModelNotFound):
        world.registry.list_versions("ghost", None, None, 10, None)


def test_update_version_changes_tags_and_description_only(world: World) -> None:
    world.create()
    original = world.register("1.0.0", tags={"a": "1"}, description="old")
    updated = world.registry.update_version(
        "churn", "1.0.0", UpdateVersionRequest(tags={"b": "2"}, description="new")
    )
    assert updated.tags == {"b": "2"}
    assert updated.description == "new"
    assert updated.model_dump(exclude={"tags", "description"}) == original.model_dump(
        exclude={"tags", "description"}
    )
    only_tags = world.registry.update_version("churn", "1.0.0", UpdateVersionRequest(tags={}))
    assert only_tags.description == "new"
    assert only_tags.tags == {}
    with pytest.raises(ValueError, match="metrics"):
        UpdateVersionRequest.model_validate({"metrics": {"accuracy": 1.0}})


def test_update_unknown_version(world: World) -> None:
    world.create()
    with pytest.raises(VersionNotFound):
        world.registry.update_version("churn", "1.0.0", UpdateVersionRequest(description="x"))


def test_compare_two_versions(world: World) -> None:
    world.create()
    world.register(
        "1.0.0",
        metrics={"accuracy": 0.5, "log_loss": 0.7, "old_metric": 1.0},
        params={"epochs": 10, "learning_rate": 0.5},
        lineage={"dataset_uri": "s3://data/v1.csv", "training_job": "job-1"},
    )
    world.register(
        "1.1.0",
        metrics={"accuracy": 0.75, "log_loss": 0.7, "new_metric": 2.0},
        params={"epochs": 20, "learning_rate": 0.5, "seed": 7},
        input_schema={
            "features": [
                {"name": "f0", "type": "float"},
                {"name": "f1", "type": "float", "min": 0},
                {"name": "f2", "type": "float"},
                {"name": "g", "type": "float"},
            ]
        },
        lineage={"dataset_uri": "s3://data/v2.csv", "training_job": "job-1"},
    )
    result = world.registry.compare("churn", "1.0.0", "1.1.0")
    assert (result.a, result.b) == ("1.0.0", "1.1.0")
    assert result.metrics == {
        "accuracy": {"a": 0.5, "b": 0.75, "delta": 0.25},
        "log_loss": {"a": 0.7, "b": 0.7, "delta": 0.0},
        "new_metric": {"a": None, "b": 2.0, "delta": None},
        "old_metric": {"a": 1.0, "b": None, "delta": None},
    }
    assert result.params == {"epochs": {"a": 10, "b": 20}, "seed": {"a": None, "b": 7}}
    assert result.input_schema == {"added": ["g"], "removed": ["f3"], "changed": ["f1"]}
    assert result.lineage == {"dataset_uri": {"a": "s3://data/v1.csv", "b": "s3://data/v2.csv"}}


def test_compare_with_itself_has_no_differences(world: World) -> None:
    world.create()
    world.register("1.0.0", metrics={"accuracy": 0.9}, params={"epochs": 3})
    result = world.registry.compare("churn", "1.0.0", "1.0.0")
    assert result.metrics == {"accuracy": {"a": 0.9, "b": 0.9, "delta": 0.0}}
    assert result.params == {}
    assert result.input_schema == {"added": [], "removed": [], "changed": []}
    assert result.lineage == {}


def test_compare_with_an_unknown_version(world: World) -> None:
    world.create()
    world.register("1.0.0")
    with pytest.raises(VersionNotFound):
        world.registry.compare("churn", "1.0.0", "2.0.0")


def test_register_request_refuses_version_and_bump_together() -> None:
    with pytest.raises(ValueError, match="either"):
        RegisterVersionRequest(
            artifact_uri=f"s3://{BUCKET}/models/churn/m.onnx", version="1.0.0", bump="major"
        )


def test_register_request_refuses_non_finite_metrics() -> None:
    with pytest.raises(ValueError, match="finite"):
        RegisterVersionRequest(
            artifact_uri=f"s3://{BUCKET}/models/churn/m.onnx", metrics={"accuracy": float("nan")}
        )
