"""Domain fixtures: the registry and promotion use cases over in-memory ports and real ONNX bytes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from lambdaops.promotion.schemas import StageChangeRequest
from lambdaops.promotion.stage_changes import Promotion
from lambdaops.registry.catalog import Registry
from lambdaops.registry.schemas import CreateModelRequest, RegisterVersionRequest, VersionRecord
from lambdaops.registry.stages import Stage
from lambdaops_tools.demo.sample_models import TrainedModel, train_logistic_regression

from .memory_store import FakeArtifacts, InMemoryRegistryStore, RecordingPublisher, TickingClock

BUCKET = "artifacts-bucket"
MAX_BYTES = 1_000_000
ALICE = "arn:aws:iam::123456789012:user/alice"
BOB = "arn:aws:iam::123456789012:user/bob"


@pytest.fixture(scope="session")
def trained() -> TrainedModel:
    return train_logistic_regression(200)


@dataclass
class World:
    """One registry and its promotion use cases sharing in-memory ports."""

    store: InMemoryRegistryStore
    artifacts: FakeArtifacts
    events: RecordingPublisher
    registry: Registry
    promotion: Promotion
    model: TrainedModel

    def create(self, name: str = "churn", **fields: Any) -> None:
        self.registry.create_model(CreateModelRequest(name=name, **fields), ALICE)

    def upload(self, name: str, path: str, data: bytes | None = None) -> str:
        return self.artifacts.put(f"models/{name}/{path}", self.model.onnx_bytes if data is None else data)

    def register(
        self, version: str | None = None, name: str = "churn", actor: str = ALICE, **fields: Any
    ) -> VersionRecord:
        fields.setdefault("artifact_uri", self.upload(name, f"{version or 'next'}/model.onnx"))
        fields.setdefault("metrics", dict(self.model.metrics))
        request = RegisterVersionRequest(version=version, **fields)
        return self.registry.register_version(name, request, actor)

    def move(self, version: str, stage: Stage, name: str = "churn", **fields: Any) -> None:
        self.promotion.change_stage(name, version, StageChangeRequest(stage=stage, **fields), ALICE)

    def stages(self, name: str = "churn") -> dict[str, Stage]:
        page = self.registry.list_versions(name, None, None, 1000, None)
        return {record.version: record.stage for record in page.items}


def build_world(model: TrainedModel, store: Any = None) -> World:
    store = store if store is not None else InMemoryRegistryStore()
    artifacts, events, clock = FakeArtifacts(BUCKET), RecordingPublisher(), TickingClock()
    return World(
        store=store,
        artifacts=artifacts,
        events=events,
        registry=Registry(store, artifacts, events, BUCKET, MAX_BYTES, clock=clock),
        promotion=Promotion(store, events, clock=clock),
        model=model,
    )


@pytest.fixture
def world(trained: TrainedModel) -> World:
    return build_world(trained)
