"""Prediction: pick the version a request goes to, encode its instances, run the model, report it.

Which version answers:
- `version` named in the request: that version (variant `requested`), whatever its stage. Archived
  versions stay servable by name (nothing is deleted, and replaying old traffic against a retired
  version is a legitimate use); only the split and the production default avoid them.
- else the model's traffic split, if it has one: `routing.choose_route`, sticky per `routing_key`, the
  variant named by the route. A route to a version archived since the split was set falls back to
  production. The split's shadow, when `routing.choose_shadow` samples it, runs on the same instances;
  its output is captured (whatever the capture sample rate, unless capture is off), never returned, and
  its failure never touches the reply.
- else production (variant `production`); 409 `NoProductionVersion` when there is none.

The model record (production pointer and split) and version records are trusted for
`routing_cache_seconds`: a promotion or a split change takes effect within that time.

Metrics (`telemetry`): each request that reaches a version is one `Invocations`, with
`Errors` 1 when the version could not be loaded or its inference failed, and `Latency` (encoding and
inference) whenever inference ran. Instances refused as invalid count as `InvalidInputs` only: the
version never saw them.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from lambdaops.core.errors import (
    InferenceFailed,
    InvalidInput,
    ModelNotFound,
    NoProductionVersion,
    TooManyInstances,
    VersionNotFound,
)
from lambdaops.core.observability import Log
from lambdaops.core.semver import check_model_name, parse_version
from lambdaops.registry.schemas import ModelRecord, TrafficSplit, VersionRecord
from lambdaops.registry.stages import Stage
from lambdaops.registry.store import ModelState
from lambdaops.serving.capture import CapturedRequest, CaptureWriter
from lambdaops.serving.instances import InstanceEncoder, Matrix
from lambdaops.serving.model_cache import LoadedModel, ModelCache, ModelKey
from lambdaops.serving.routing import choose_route, choose_shadow
from lambdaops.serving.schemas import PredictRequest, PredictResponse
from lambdaops.serving.telemetry import INVALID_INPUTS, PredictionMetrics

T = TypeVar("T")


class RoutingSource(Protocol):
    """The registry reads prediction needs (the DynamoDB store satisfies it)."""

    def get_model(self, name: str) -> ModelState | None: ...

    def get_version(self, name: str, version: str) -> VersionRecord | None: ...


@dataclass(frozen=True)
class _Fresh(Generic[T]):
    value: T
    until: float


@dataclass(frozen=True)
class Target:
    record: VersionRecord
    variant: str
    shadow: VersionRecord | None = None


def _rows(output: Any) -> list[Any]:
    return output.tolist() if isinstance(output, np.ndarray) else list(output)


class Predictor:
    def __init__(
        self,
        registry: RoutingSource,
        models: ModelCache,
        capture: CaptureWriter,
        metrics: PredictionMetrics,
        max_instances: int,
        routing_cache_seconds: float,
        capture_sample_rate: float,
        log: Log | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
    ) -> None:
        self._registry = registry
        self._models = models
        self._capture = capture
        self._metrics = metrics
        self._max_instances = max_instances
        self._ttl = routing_cache_seconds
        self._capture_rate = capture_sample_rate
        self._log: Log = log or logging.getLogger(__name__)
        self._clock = clock
        self._now = now
        self._rng = rng or random.Random()  # nosec B311 # traffic sampling, not security
        # Plain dicts: single reads and writes are atomic, and a race only costs a duplicate read.
        self._model_records: dict[str, _Fresh[ModelRecord]] = {}
        self._version_records: dict[tuple[str, str], _Fresh[VersionRecord]] = {}
        self._encoders: dict[ModelKey, InstanceEncoder] = {}

    def predict(self, name: str, request: PredictRequest) -> PredictResponse:
        target = self.resolve(name, request.version, request.routing_key)
        record = target.record
        loaded = self._load(record, target.variant)
        started = time.perf_counter()
        matrix = self._encode(loaded, record, target.variant, request.instances)
        predictions = self._run(loaded, record, target.variant, matrix, started)
        shadow_predictions = self._run_shadow(target.shadow, loaded, record, matrix, request.instances)
        shadow_version = target.shadow.version if target.shadow and shadow_predictions is not None else None
        if self._should_capture(shadow_ran=shadow_predictions is not None):
            self._capture.submit(
                CapturedRequest(
                    at=self._now(),
                    model=name,
                    version=record.version,
                    variant=target.variant,
                    feature_names=self._encoder(record, loaded).names,
                    instances=request.instances,
                    predictions=predictions,
                    shadow_version=shadow_version,
                    shadow_predictions=shadow_predictions,
                )
            )
        return PredictResponse(
            predictions=predictions, model=name, version=record.version, variant=target.variant
        )

    def _should_capture(self, shadow_ran: bool) -> bool:
        """The sampled share; and every request a shadow ran for, since capture is all a shadow is for."""
        if self._capture_rate <= 0:
            return False
        return shadow_ran or self._rng.random() < self._capture_rate

    def resolve(self, name: str, version: str | None, routing_key: str | None) -> Target:
        """The version (and shadow) that answers this request; see the module docstring."""
        model = self._model(name)
        if version is not None:
            parse_version(version)
            record = self._version(name, version)
            if record is None:
                raise VersionNotFound(f"model '{name}' has no version {version}", model=name, version=version)
            return Target(record, "requested")
        if model.traffic is not None:
            choice = choose_route(model.traffic, name, routing_key, self._rng)
            routed = self._version(name, choice.version)
            if routed is not None and routed.stage != Stage.ARCHIVED:
                return Target(routed, choice.variant, self._shadow_target(name, model.traffic, routed))
        return Target(self._production(model), "production")

    def preload(self, names: Iterable[str]) -> list[ModelKey]:
        """Load and warm (one inference on zeros) each model's production version; failures are logged."""
        warmed = []
        for name in names:
            try:
                record = self._production(self._model(name))
                loaded = self._models.get(record)
                loaded.run(np.zeros((1, loaded.width), dtype=loaded.dtype))
                warmed.append(loaded.key)
            except Exception as error:
                self._log.warning("could not preload model", extra={"model": name, "error": str(error)[:500]})
        return warmed

    def _model(self, name: str) -> ModelRecord:
        fresh = self._model_records.get(name)
        if fresh is not None and fresh.until > self._clock():
            return fresh.value
        state = self._registry.get_model(check_model_name(name))
        if state is None:
            raise ModelNotFound(f"no model named '{name}'", model=name)
        self._model_records[name] = _Fresh(state.record, self._clock() + self._ttl)
        return state.record

    def _version(self, name: str, version: str) -> VersionRecord | None:
        key = (name, version)
        fresh = self._version_records.get(key)
        if fresh is not None and fresh.until > self._clock():
            return fresh.value
        record = self._registry.get_version(name, version)
        if record is not None:
            self._version_records[key] = _Fresh(record, self._clock() + self._ttl)
        return record

    def _production(self, model: ModelRecord) -> VersionRecord:
        production = model.production_version
        record = self._version(model.name, production) if production is not None else None
        if record is None:
            raise NoProductionVersion(
                f"model '{model.name}' has no production version; name a version to predict with",
                model=model.name,
            )
        return record

    def _shadow_target(self, name: str, split: TrafficSplit, routed: VersionRecord) -> VersionRecord | None:
        version = choose_shadow(split, self._rng)
        if version is None or version == routed.version:
            return None
        try:
            record = self._version(name, version)
        except Exception as error:
            self._log.warning(
                "shadow version lookup failed", extra={"model": name, "error": str(error)[:500]}
            )
            return None
        return record if record is not None and record.stage != Stage.ARCHIVED else None

    def _encoder(self, record: VersionRecord, loaded: LoadedModel) -> InstanceEncoder:
        encoder = self._encoders.get(loaded.key)
        if encoder is None:
            encoder = InstanceEncoder(record.input_schema, loaded.dtype, self._max_instances)
            self._encoders[loaded.key] = encoder
        return encoder

    def _load(self, record: VersionRecord, variant: str) -> LoadedModel:
        try:
            return self._models.get(record)
        except Exception:
            self._metrics.request(record.model, record.version, variant, error=True, latency_ms=None)
            raise

    def _encode(
        self, loaded: LoadedModel, record: VersionRecord, variant: str, instances: Sequence[Any]
    ) -> Matrix:
        try:
            return self._encoder(record, loaded).encode(instances)
        except (InvalidInput, TooManyInstances):
            self._metrics.count(INVALID_INPUTS, model=record.model, version=record.version, variant=variant)
            raise

    def _run(
        self, loaded: LoadedModel, record: VersionRecord, variant: str, matrix: Matrix, started: float
    ) -> list[Any]:
        """Inference and its metrics; `started` is when encoding began (Latency covers both)."""
        try:
            predictions = _rows(loaded.run(matrix))
        except Exception as error:
            latency_ms = (time.perf_counter() - started) * 1000
            self._metrics.request(record.model, record.version, variant, error=True, latency_ms=latency_ms)
            self._log.error(
                "inference failed",
                extra={
                    "model": record.model,
                    "version": record.version,
                    "variant": variant,
                    "error": str(error)[:1000],
                },
            )
            raise InferenceFailed(
                f"inference failed for model '{record.model}' version {record.version}",
                model=record.model,
                version=record.version,
                reason=str(error)[:500],
            ) from error
        latency_ms = (time.perf_counter() - started) * 1000
        self._metrics.request(record.model, record.version, variant, error=False, latency_ms=latency_ms)
        return predictions

    def _run_shadow(
        self,
        shadow: VersionRecord | None,
        primary: LoadedModel,
        primary_record: VersionRecord,
        matrix: Matrix,
        instances: Sequence[Any],
    ) -> list[Any] | None:
        """The shadow's predictions, or None; nothing it does can fail or change the reply."""
        if shadow is None:
            return None
        try:
            loaded = self._load(shadow, "shadow")
            started = time.perf_counter()
            if loaded.dtype != primary.dtype or shadow.input_schema != primary_record.input_schema:
                matrix = self._encode(loaded, shadow, "shadow", instances)
            return self._run(loaded, shadow, "shadow", matrix, started)
        except Exception as error:
            self._log.warning(
                "shadow prediction failed; the reply is unaffected",
                extra={"model": shadow.model, "version": shadow.version, "error": str(error)[:500]},
            )
            return None
