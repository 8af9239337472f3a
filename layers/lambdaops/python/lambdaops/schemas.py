"""Pydantic shapes of the HTTP API (requests and replies) and of stored records."""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Annotated, Any, Generic, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from lambdaops.drift_policy import DriftPolicy
from lambdaops.semver import MODEL_NAME_PATTERN, VERSION_PATTERN, Bump
from lambdaops.stages import Stage

ModelName = Annotated[str, StringConstraints(pattern=MODEL_NAME_PATTERN)]
VersionString = Annotated[str, StringConstraints(pattern=VERSION_PATTERN)]
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=128)]
TagValue = Annotated[str, StringConstraints(max_length=256)]
Tags = Annotated[dict[TagKey, TagValue], Field(max_length=50)]
Description = Annotated[str, StringConstraints(max_length=2048)]
Reason = Annotated[str, StringConstraints(max_length=1024)]
MetricName = Annotated[str, StringConstraints(min_length=1, max_length=128)]
ParamValue = str | int | float | bool | None


class Strict(BaseModel):
    """Unknown fields are refused, so a typo never silently drops a value."""

    model_config = ConfigDict(extra="forbid")


def _finite_metrics(metrics: dict[str, float]) -> dict[str, float]:
    bad = sorted(name for name, value in metrics.items() if not math.isfinite(value))
    if bad:
        raise ValueError(f"metrics must be finite numbers: {', '.join(bad)}")
    return metrics


class Feature(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    type: Literal["float", "int", "category"]
    categories: list[str] | None = None
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.type == "category" and not self.categories:
            raise ValueError(f"feature '{self.name}' is a category and needs 'categories'")
        if self.type != "category" and self.categories is not None:
            raise ValueError(f"feature '{self.name}' has 'categories' but is not a category")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"feature '{self.name}' has min greater than max")
        return self


class InputSchema(Strict):
    features: Annotated[list[Feature], Field(min_length=1, max_length=10_000)]

    @field_validator("features")
    @classmethod
    def _unique_names(cls, features: list[Feature]) -> list[Feature]:
        names = [feature.name for feature in features]
        if len(set(names)) != len(names):
            raise ValueError("feature names must be unique")
        return features


class MetricThreshold(Strict):
    metric: MetricName
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _has_bound(self) -> Self:
        if self.min is None and self.max is None:
            raise ValueError(f"threshold on '{self.metric}' needs 'min' or 'max'")
        return self


class BeatProduction(Strict):
    """The candidate must beat the production version on `metric` by at least `min_delta`."""

    metric: MetricName
    min_delta: float = Field(default=0.0, ge=0)
    higher_is_better: bool = True


class PromotionPolicy(Strict):
    thresholds: list[MetricThreshold] = Field(default_factory=list)
    must_beat_production: list[BeatProduction] = Field(default_factory=list)
    require_approval_for_production: bool = False


class Lineage(Strict):
    dataset_uri: str | None = None
    training_job: str | None = None
    tuning_job: str | None = None
    execution_arn: str | None = None
    source_commit: str | None = None
    parent_version: VersionString | None = None


class CreateModelRequest(Strict):
    name: ModelName
    description: Description = ""
    tags: Tags = Field(default_factory=dict)
    policy: PromotionPolicy = Field(default_factory=PromotionPolicy)
    drift: DriftPolicy = Field(default_factory=DriftPolicy)


class RegisterVersionRequest(Strict):
    artifact_uri: Annotated[str, StringConstraints(min_length=6, max_length=1024)]
    version: VersionString | None = None
    bump: Bump | None = None
    metrics: dict[MetricName, float] = Field(default_factory=dict)
    params: dict[MetricName, ParamValue] = Field(default_factory=dict)
    input_schema: InputSchema | None = None
    lineage: Lineage = Field(default_factory=Lineage)
    tags: Tags = Field(default_factory=dict)
    description: Description = ""

    _check_metrics = field_validator("metrics")(_finite_metrics)

    @model_validator(mode="after")
    def _version_or_bump(self) -> Self:
        if self.version is not None and self.bump is not None:
            raise ValueError("give either 'version' or 'bump', not both")
        return self


class UpdateVersionRequest(Strict):
    tags: Tags | None = None
    description: Description | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.tags is None and self.description is None:
            raise ValueError("give 'tags' or 'description'")
        return self


class StageChangeRequest(Strict):
    stage: Stage
    reason: Reason = ""
    approved_by: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None


class RollbackRequest(Strict):
    reason: Reason = ""


class TrafficRoute(Strict):
    version: VersionString
    weight: Annotated[int, Field(ge=0, le=100)]
    variant: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")] | None = None
    """A name for the arm (e.g. control, canary); the version string when omitted."""


class ShadowRoute(Strict):
    version: VersionString
    sample_rate: Annotated[float, Field(gt=0, le=1)]


class TrafficSplit(Strict):
    """Weighted routes (A/B, canary), sticky per routing key, plus an optional shadow."""

    routes: Annotated[list[TrafficRoute], Field(min_length=1, max_length=10)]
    shadow: ShadowRoute | None = None


class PredictRequest(Strict):
    instances: list[Any]
    """Rows as arrays or as records keyed by feature name; checked against the version's schema by
    `instances.InstanceEncoder` (pydantic would coerce `true` to 1.0 before the schema could refuse it)."""
    version: VersionString | None = None
    routing_key: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None


class PredictResponse(BaseModel):
    predictions: list[Any]
    model: str
    version: str
    variant: str


def _rising_to_100(steps: list[int]) -> list[int]:
    if any(b <= a for a, b in pairwise(steps)) or steps[-1] != 100:
        raise ValueError("steps must rise strictly and end at 100")
    return steps


class CanaryRequest(Strict):
    version: VersionString
    steps: Annotated[list[Annotated[int, Field(ge=1, le=100)]], Field(min_length=1, max_length=10)] = Field(
        default_factory=lambda: [10, 50, 100]
    )
    interval_seconds: Annotated[int, Field(ge=0, le=86_400)] = 300
    max_error_rate: Annotated[float, Field(ge=0, le=1)] = 0.01
    max_p99_ms: Annotated[float, Field(gt=0)] = 250.0
    approved_by: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None

    _check_steps = field_validator("steps")(_rising_to_100)


class ArmFigures(BaseModel):
    invocations: int
    errors: int
    error_rate: float | None
    p99_ms: float | None


class RolloutStep(BaseModel):
    weight: int
    canary: ArmFigures | None = None
    incumbent: ArmFigures | None = None
    verdict: Literal["pass", "breach", "insufficient_data"] | None = None
    started_at: str


class Rollout(BaseModel):
    """One canary rollout, as GET /models/{name}/canary shows it."""

    rollout_id: str
    model: str
    version: str
    incumbent: str
    execution_arn: str | None = None
    status: Literal["running", "promoted", "rolled_back", "failed"]
    step: int = 0
    weight: int = 0
    steps: list[RolloutStep] = Field(default_factory=list)
    reason: str | None = None
    started_at: str
    started_by: str
    finished_at: str | None = None
    settings: CanaryRequest
    previous_traffic: TrafficSplit | None = None


class ExecutionStarted(BaseModel):
    execution_arn: str


class ModelRecord(BaseModel):
    name: str
    description: str
    tags: dict[str, str]
    policy: PromotionPolicy
    drift: DriftPolicy = Field(default_factory=DriftPolicy)
    created_at: str
    created_by: str
    production_version: str | None = None
    staging_versions: list[str] = Field(default_factory=list)
    latest_version: str | None = None
    traffic: TrafficSplit | None = None


class VersionRecord(BaseModel):
    model: str
    version: str
    stage: Stage
    artifact_uri: str
    artifact_version_id: str | None
    sha256: str
    size_bytes: int
    metrics: dict[str, float]
    params: dict[str, ParamValue]
    input_schema: InputSchema
    lineage: Lineage
    tags: dict[str, str]
    description: str
    created_at: str
    created_by: str
    stage_changed_at: str


class HistoryEntry(BaseModel):
    at: str
    actor: str
    action: Literal["register", "stage_change", "rollback"]
    version: str
    from_stage: Stage | None
    to_stage: Stage
    reason: str
    approved_by: str | None = None


class StageChangeResult(BaseModel):
    version: str
    stage: Stage
    previous_stage: Stage


class RollbackResult(BaseModel):
    production_version: str
    rolled_back_from: str | None


class Comparison(BaseModel):
    a: str
    b: str
    metrics: dict[str, dict[str, float | None]]
    params: dict[str, dict[str, ParamValue]]
    input_schema: dict[str, list[str]]
    lineage: dict[str, dict[str, str | None]]


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_token: str | None = None


class History(BaseModel):
    items: list[HistoryEntry]
