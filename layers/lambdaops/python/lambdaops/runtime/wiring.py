"""The adapters a handler builds from its settings, built one way for every function."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lambdaops.aws import clients
from lambdaops.aws.eventbridge import EventBridgePublisher
from lambdaops.aws.registry_store import DynamoRegistryStore
from lambdaops.aws.s3_artifacts import S3ArtifactStore
from lambdaops.runtime.settings import ArtifactSettings, EventSettings, FunctionSettings

if TYPE_CHECKING:
    from lambdaops.promotion.canary import RolloutRecords


def registry_store(settings: FunctionSettings) -> DynamoRegistryStore:
    return DynamoRegistryStore(clients.client("dynamodb"), settings.table_name)


def artifact_store(settings: ArtifactSettings) -> S3ArtifactStore:
    return S3ArtifactStore(clients.client("s3"), settings.bucket_name)


def event_publisher(settings: EventSettings) -> EventBridgePublisher:
    return EventBridgePublisher(clients.client("events"), settings.event_bus_name, settings.event_source)


def rollout_records(settings: EventSettings) -> RolloutRecords:
    """What both canary roles share: the registry, the rollout records and the promotion rules."""
    # Imported here: only the promotion and canary functions build these, and the rollout shapes' pydantic
    # models (~18 ms) would otherwise be built at every other function's cold start.
    from lambdaops.aws.rollout_store import DynamoRolloutStore
    from lambdaops.promotion.canary import RolloutRecords
    from lambdaops.promotion.stage_changes import Promotion

    store = registry_store(settings)
    return RolloutRecords(
        store=store,
        rollouts=DynamoRolloutStore(clients.client("dynamodb"), settings.table_name),
        promotion=Promotion(store=store, events=event_publisher(settings)),
    )
