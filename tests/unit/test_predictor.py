"""The prediction use case over in-memory ports: which version answers, shadows, caching, metrics."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from lambdaops.core.errors import (
    ArtifactIntegrityError,
    InferenceFailed,
    InvalidInput,
    ModelNotFound,
    NoProductionVersion,
    TooManyInstances,
    VersionNotFound,
)
from lambdaops.registry.schemas import ShadowRoute, TrafficRoute, TrafficSplit
from lambdaops.registry.stages import Stage
from lambdaops.registry.store import ModelChange, StageMove
from lambdaops.serving.capture import CaptureWriter
from lambdaops.serving.model_cache import ModelCache
from lambdaops.serving.predictor import Predictor
from lambdaops.serving.schemas import PredictRequest
from lambdaops_tools.demo.sample_models import (
    FEATURES,
    TrainedModel,
    export_failing_model,
    train_logistic_regression,
)

from .conftest import BUCKET, World
from .test_model_cache import RecordingMetrics

TTL = 5.0
ROWS = [[1.0, -0.5, 2.0, 0.25], [-1.0, 0.5, -2.0, 3.0]]


@pytest.fixture(scope="module")
def weaker() -> TrainedModel:
    return train_logistic_regression(200, dropped_features=("support_tickets",))


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Puts:
    objects: dict[str, bytes] = field(default_factory=dict)

    def __call__(self, key: str, body: bytes) -> None:
        self.objects[key] = body

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for body in self.objects.values() for line in body.decode().splitlines()]


@dataclass
class Serving:
    world: World
    predictor: Predictor
    metrics: RecordingMetrics
    clock: ManualClock
    capture: CaptureWriter
    puts: Puts

    def predict(self, instances: list[Any] = ROWS, **fields: Any) -> Any:
        return self.predictor.predict("churn", PredictRequest(instances=instances, **fields))

    def register(self, version: str, data: bytes) -> None:
        # Not "<version>/model.onnx": World.register uploads its default model there.
        uri = self.world.upload("churn", f"{version}/candidate.onnx", data)
        self.world.register(version, artifact_uri=uri, input_schema=self.world.model.input_schema)

    def promote(self, version: str) -> None:
        self.world.move(version, Stage.STAGING)
        self.world.move(version, Stage.PRODUCTION)

    def commit(self, traffic: TrafficSplit | None, moves: tuple[StageMove, ...] = ()) -> None:
        """Write the split (and stage moves) straight to the store, as the promotion function would."""
        state = self.world.store.get_model("churn")
        assert state is not None
        self.world.store.commit(
            ModelChange(
                model="churn",
                expected_revision=state.revision,
                production_version=state.record.production_version,
                staging_versions=tuple(state.record.staging_versions),
                latest_version=state.record.latest_version,
                production_history=state.production_history,
                traffic=traffic,
                at="2026-11-01T00:00:00.000Z",
                moves=moves,
            )
        )


def build_serving(world: World, cache_dir: Path, capture_rate: float = 1.0) -> Serving:
    metrics, clock, puts = RecordingMetrics(), ManualClock(), Puts()
    capture = CaptureWriter(puts, metrics)
    models = ModelCache(world.artifacts, BUCKET, cache_dir, 50_000_000, 10_000_000, metrics)
    predictor = Predictor(
        world.store,
        models,
        capture,
        metrics,
        max_instances=100,
        routing_cache_seconds=TTL,
        capture_sample_rate=capture_rate,
        clock=clock,
        now=lambda: datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
        rng=random.Random(11),
    )
    return Serving(world, predictor, metrics, clock, capture, puts)


@pytest.fixture
def serving(world: World, tmp_path: Path) -> Serving:
    world.create()
    return build_serving(world, tmp_path)


def direct(data: bytes, rows: list[list[float]] = ROWS) -> list[Any]:
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    output = session.run(None, {"input": np.asarray(rows, dtype=np.float32)})[0]
    return list(output.tolist())


def test_production_answers_by_default(serving: Serving, weaker: TrainedModel) -> None:
    serving.register("1.0.0", serving.world.model.onnx_bytes)
    serving.promote("1.0.0")
    reply = serving.predict()
    assert (reply.model, reply.version, reply.variant) == ("churn", "1.0.0", "production")
    assert reply.predictions == direct(serving.world.model.onnx_bytes)
    assert serving.metrics.requests == [
        {
            "model": "churn",
            "version": "1.0.0",
            "variant": "production",
            "error": False,
            "latency_ms": serving.metrics.requests[0]["latency_ms"],
        }
    ]
    assert serving.metrics.requests[0]["latency_ms"] > 0


def test_records_are_answered_like_arrays(serving: Serving) -> None:
    serving.register("1.0.0", serving.world.model.onnx_bytes)
    serving.promote("1.0.0")
    records = [dict(zip(reversed(FEATURES), reversed(row), strict=True)) for row in ROWS]
    assert serving.predict(records).predictions == serving.predict(ROWS).predictions


def test_a_named_version_answers_whatever_its_stage(serving: Serving, weaker: TrainedModel) -> None:
    serving.register("1.0.0", serving.world.model.onnx_bytes)
    serving.register("1.1.0", weaker.onnx_bytes)
    serving.promote("1.0.0")
    reply = serving.predict(version="1.1.0")
    assert (reply.version, reply.variant) == ("1.1.0", "requested")
    assert reply.predictions == direct(weaker.onnx_bytes)
    serving.world.move("1.1.0", Stage.ARCHIVED)
    serving.clock.now += TTL
    assert serving.predict(version="1.1.0").version == "1.1.0"


def test_unknown_model_unknown_version_and_no_production(serving: Serving) -> None:
    with pytest.raises(ModelNotFound):
        serving.predictor.predict("nope", PredictRequest(instances=ROWS))
    with pytest.raises(NoProductionVersion) as raised:
        serving.predict()
    assert raised.value.status == 409
    serving.register("1.0.0", serving.world.model.onnx_bytes)
    with pytest.raises(VersionNotFound):
        serving.predict(version="2.0.0")
    assert serving.metrics.requests == []


def split(*routes: tuple[str, int, str], shadow: str | None = None) -> TrafficSplit:
    return TrafficSplit(
        routes=[TrafficRoute(version=v, weight=w, variant=name) for v, w, name in routes],
        shadow=ShadowRoute(version=shadow, sample_rate=1.0) if shadow else None,
    )


def test_a_split_is_sticky_per_routing_key_and_follows_its_weights(
    serving: Serving, weaker: TrainedModel
) -> None:
    serving.register("1.0.0", serving.world.model.onnx_bytes)
    serving.register("1.1.0", weaker.onnx_bytes)
    serving.promote("1.0.0")
    serving.commit(split(("1.0.0", 70, "control"), ("1.1.0", 30, "treatment")))
    resolve = serving.predictor.resolve
    arms = [resolve("churn", None, f"user-{i}").variant for i in range(3000)]
    assert 0.66 < arms.count("control") / len(arms) < 0.74
    assert set(arms) == {"control", "treatment"}
    for i in range(0, 3000, 97):
        assert {resolve("churn", None, f"user-{i}").variant for _ in range(5)} == {arms[i]}
    key = f"user-{arms.index('treatment')}"
    reply = serving.predict(routing_key=key)
    assert (reply.version, reply.variant) == ("1.1.0", "treatment")
    assert reply.predictions == direct(weaker.onnx_bytes)
    assert serving.metrics.requests[-1]["variant"] == "treatment"


def test_without_a_routing_key_the_split_is_drawn_at_random(serving: Serving, weaker: TrainedModel) -> None:
    serving.register("1.0.0", serving.world.model.onnx_bytes)
    serving.register("1.1.0", weaker.onnx_bytes)
    serving.promote("1.0.0")
    serving.commit(split(("1.0.0", 50, "a"), ("1.1.0", 50, "b")))
    arms = [serving.predictor.resolve("churn", None, None).variant for _ in range(2000)]
    assert 0.45 < arms.count("a") / len(arms) < 0.55


def test_the_shadow_runs_is_captured_and_never_returned(serving: Serving, weaker: TrainedModel) -> None:
    serving.register("1.0.0", serving.world.model.onnx_bytes)
    serving.register("1.1.0", weaker.onnx_bytes)
    serving.promote("1.0.0")
    serving.commit(split(("1.0.0", 100, "control"), shadow="1.1.0"))
    reply = serving.predict()
    assert (reply.version, reply.variant) == ("1.0.0", "control")
    assert reply.predictions == direct(serving.world.model.onnx_bytes)
    assert serving.capture.flush(timeout=10)
    records = serving.puts.records()
    assert [record["shadow"] for record in records] == [
        {"version": "1.1.0", "prediction": prediction} for prediction in direct(weaker.onnx_bytes)
    ]
    assert [(m["version"], m["variant"], m["error"]) for m in serving.metrics.requests] == [
        ("1.0.0", "control", False),
        ("1.1.0", "shadow", False),
    ]


def test_a_failing_shadow_never_touches_the_reply(serving: Serving, weaker: TrainedModel) -> None:
    serving.register("1.0.0", serving.world.model.onnx_bytes)
    serving.register("1.1.0", export_failing_model())
    serving.register("1.2.0", weaker.onnx_bytes)
    serving.promote("1.0.0")
    serving.commit(split(("1.0.0", 100, "control"), shadow="1.1.0"))
    reply = serving.predict()
    assert reply.predictions == direct(serving.world.model.onnx_bytes)
    assert [(m["version"], m["error"]) for m in serving.metrics.requests] == [
        ("1.0.0", False),
        ("1.1.0", True),
    ]
    # A shadow whose artifact no longer matches its sha256 is just as harmless.
    key = "models/churn/1.2.0/candidate.onnx"
    serving.world.artifacts.objects[key] = (b"tampered", serving.world.artifacts.objects[key][1])
    serving.commit(split(("1.0.0", 100, "control"), shadow="1.2.0"))
    serving.clock.now += TTL
    assert serving.predict().predictions == reply.predictions
    assert serving.capture.flush(timeout=10)
    assert all("shadow" not in record for record in serving.puts.records())


def test_a_routed_version_archived_since_falls_back_to_production(
    serving: Serving, weaker: TrainedModel
) -> None:
    serving.register("1.0.0", serving.world.model.onnx_bytes)
    serving.register("1.1.0", weaker.onnx_bytes)
    serving.promote("1.0.0")
    serving.world.move("1.1.0", Stage.STAGING)
    serving.commit(split(("1.1.0", 100, "canary")))
    assert serving.predict().variant == "canary"
    serving.commit(
        split(("1.1.0", 100, "canary")), moves=(StageMove("1.1.0", Stage.STAGING, Stage.ARCHIVED),)
    )
    serving.clock.now += TTL
    reply = serving.predict()
    assert (reply.version, reply.variant) == ("1.0.0", "production")


def test_a_promotion_is_seen_after_the_routing_ttl_and_not_before(
    serving: Serving, weaker: TrainedModel
) -> None:
    serving.register("1.0.0", serving.world.model.onnx_bytes)
    serving.register("1.1.0", weaker.onnx_bytes)
    serving.promote("1.0.0")
    assert serving.predict().version == "1.0.0"
    serving.promote("1.1.0")
    serving.clock.now += TTL - 0.001
    assert serving.predict().version == "1.0.0"
    serving.clock.now += 0.001
    assert serving.predict().version == "1.1.0"


def test_a_split_change_is_seen_after_the_routing_ttl(serving: Serving, weaker: TrainedModel) -> None:
    serving.register("1.0.0", serving.world.model.onnx_bytes)
    serving.register("1.1.0", weaker.onnx_bytes)
    serving.promote("1.0.0")
    assert serving.predict().variant == "production"
    serving.commit(split(("1.1.0", 100, "canary")))
    assert serving.predict().variant == "production"
    serving.clock.now += TTL
    assert serving.predict().variant == "canary"


def test_an_inference_failure_is_a_500_naming_model_and_version_and_an_error(serving: Serving) -> None:
    serving.register("1.0.0", export_failing_model())
    serving.promote("1.0.0")
    with pytest.raises(InferenceFailed) as raised:
        serving.predict()
    assert raised.value.status == 500
    assert raised.value.code == "InferenceFailed"
    assert (raised.value.details["model"], raised.value.details["version"]) == ("churn", "1.0.0")
    [metric] = serving.metrics.requests
    assert (metric["variant"], metric["error"]) == ("production", True)
    assert metric["latency_ms"] is not None
    assert serving.capture.flush(timeout=10)
    assert serving.puts.objects == {}


def test_an_unloadable_version_counts_as_an_error(serving: Serving) -> None:
    serving.register("1.0.0", serving.world.model.onnx_bytes)
    serving.promote("1.0.0")
    key = "models/churn/1.0.0/candidate.onnx"
    serving.world.artifacts.objects[key] = (b"tampered", serving.world.artifacts.objects[key][1])
    with pytest.raises(ArtifactIntegrityError):
        serving.predict()
    assert [(m["error"], m["latency_ms"]) for m in serving.metrics.requests] == [(True, None)]
    assert serving.metrics.counted("ArtifactIntegrityFailures") == [{}]


def test_invalid_instances_are_counted_apart_from_invocations(serving: Serving) -> None:
    serving.register("1.0.0", serving.world.model.onnx_bytes)
    serving.promote("1.0.0")
    with pytest.raises(InvalidInput):
        serving.predict([[1.0, 2.0]])
    with pytest.raises(TooManyInstances):
        serving.predict(ROWS * 51)
    assert serving.metrics.requests == []
    assert (
        serving.metrics.counted("InvalidInputs")
        == [{"model": "churn", "version": "1.0.0", "variant": "production"}] * 2
    )


def test_captured_records_carry_raw_features_and_predictions(serving: Serving) -> None:
    serving.register("1.0.0", serving.world.model.onnx_bytes)
    serving.promote("1.0.0")
    records = [dict(zip(FEATURES, row, strict=True)) for row in ROWS]
    reply = serving.predict([ROWS[0], records[1]])
    assert serving.capture.flush(timeout=10)
    [key] = serving.puts.objects
    assert key.startswith("captures/churn/dt=2026-11-24/hour=09/") and key.endswith(".jsonl")
    assert serving.puts.records() == [
        {
            "at": "2026-11-24T09:30:00.000Z",
            "model": "churn",
            "version": "1.0.0",
            "variant": "production",
            "features": records[i],
            "prediction": reply.predictions[i],
        }
        for i in range(2)
    ]


def test_no_capture_at_a_zero_sample_rate(serving: Serving, tmp_path: Path) -> None:
    serving.register("1.0.0", serving.world.model.onnx_bytes)
    serving.promote("1.0.0")
    uncaptured = build_serving(serving.world, tmp_path, capture_rate=0.0)
    uncaptured.predict()
    assert uncaptured.capture.flush(timeout=10)
    assert uncaptured.puts.objects == {}


def test_preload_warms_production_versions_and_carries_on_past_failures(serving: Serving) -> None:
    serving.register("1.0.0", serving.world.model.onnx_bytes)
    serving.promote("1.0.0")
    serving.world.create("no-production")
    warmed = serving.predictor.preload(["churn", "no-production", "missing"])
    assert [(key.model, key.version) for key in warmed] == [("churn", "1.0.0")]


def test_a_shadowed_request_is_captured_whatever_the_sample_rate_unless_capture_is_off(
    serving: Serving, weaker: TrainedModel, tmp_path: Path
) -> None:
    serving.register("1.0.0", serving.world.model.onnx_bytes)
    serving.register("1.1.0", weaker.onnx_bytes)
    serving.promote("1.0.0")
    serving.commit(split(("1.0.0", 100, "control"), shadow="1.1.0"))
    rarely, never = (build_serving(serving.world, tmp_path, capture_rate=rate) for rate in (1e-9, 0.0))
    for deployed in (rarely, never):
        for _ in range(3):
            deployed.predict()
        assert deployed.capture.flush(timeout=10)
    assert len(rarely.puts.records()) == 3 * len(ROWS)
    assert all(record["shadow"]["version"] == "1.1.0" for record in rarely.puts.records())
    assert never.puts.objects == {}
    assert [m["variant"] for m in never.metrics.requests] == ["control", "shadow"] * 3
