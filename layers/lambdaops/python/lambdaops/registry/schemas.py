"""Pydantic shapes of the registry: model and version requests, and the records stored and returned."""

from __future__ import annotations

from typing import Annotated, Generic, Literal, Self, TypeVar

from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator

from lambdaops.core.models import Strict
from lambdaops.core.semver import Bump
from lambdaops.registry.fields import (
    Description,
    MetricName,
    ModelName,
    ParamValue,
    Tags,
    VersionString,
)
from lambdaops.registry.policies import DriftPolicy, PromotionPolicy
from lambdaops.registry.stages import Stage


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
    """Finite numbers (`Strict` refuses NaN, Infinity and booleans)."""
    params: dict[MetricName, ParamValue] = Field(default_factory=dict)
    input_schema: InputSchema | None = None
    lineage: Lineage = Field(default_factory=Lineage)
    tags: Tags = Field(default_factory=dict)
    description: Description = ""

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
