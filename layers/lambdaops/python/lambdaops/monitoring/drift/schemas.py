"""Pydantic shapes of drift monitoring: requests, baselines as stored, and reports."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, Field, StringConstraints, model_validator

from lambdaops.core.models import Strict
from lambdaops.registry.fields import VersionString
from lambdaops.registry.policies import DriftMethod, MethodOverrides
from lambdaops.registry.schemas import InputSchema

DataUri = Annotated[str, StringConstraints(pattern=r"^s3://[^/]+/.+", max_length=1024)]
FeatureKind = Literal["numeric", "category"]
Trigger = Literal["request", "schedule"]


class DataSource(Strict):
    """Rows inline (arrays in feature order or records by feature name) or a CSV / JSON Lines object."""

    rows: Annotated[list[Any], Field(min_length=1)] | None = None
    data_uri: DataUri | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.rows is None) == (self.data_uri is None):
            raise ValueError("give exactly one of 'rows' or 'data_uri'")
        return self


class BaselineRequest(DataSource):
    pass


class DriftRequest(DataSource):
    version: VersionString | None = None
    """The version whose baseline to compare with; the production version when omitted."""
    methods: MethodOverrides | None = None
    """Overrides the model's policy for this check."""


class NumericProfile(BaseModel):
    kind: Literal["numeric"] = "numeric"
    count: int
    """Non-missing values."""
    missing_rate: float
    mean: float | None
    std: float | None
    """Population standard deviation (ddof 0); the Wasserstein distance is normalized by it."""
    min: float | None
    max: float | None
    bin_edges: list[float]
    """Inner edges of the quantile bins: bin i holds values in [edge[i-1], edge[i])."""
    histogram: list[int]
    """Reference counts per bin; one more bin than inner edges."""
    sample: list[float]
    """Sorted: every value when few, else evenly spaced order statistics (see `drift_baseline`)."""
    values: dict[str, int] | None = None
    """Counts per distinct value (as `repr(float)`) when the feature takes few distinct values."""


class CategoryProfile(BaseModel):
    kind: Literal["category"] = "category"
    count: int
    missing_rate: float
    frequencies: dict[str, int]
    """Counts per category seen in training."""


FeatureProfile = Annotated[NumericProfile | CategoryProfile, Field(discriminator="kind")]


class Baseline(BaseModel):
    """What a drift check compares with, built once from training data and stored beside the artifact."""

    model: str
    version: str
    created_at: str
    rows: int
    source: str
    sample_size: int
    input_schema: InputSchema
    features: dict[str, FeatureProfile]


class FeatureSummary(BaseModel):
    kind: FeatureKind
    count: int
    missing_rate: float
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    categories: int | None = None


class BaselineSummary(BaseModel):
    model: str
    version: str
    created_at: str
    rows: int
    source: str
    baseline_uri: str
    features: dict[str, FeatureSummary]


class FeatureDrift(BaseModel):
    kind: FeatureKind
    method: DriftMethod
    statistic: float
    p_value: float | None = None
    threshold: float
    drifted: bool


QualityCheck = Literal[
    "missing_column", "unexpected_column", "wrong_type", "missing_rate", "out_of_range", "unseen_category"
]


class QualityFinding(BaseModel):
    check: QualityCheck
    feature: str
    severity: Literal["fail", "warn"]
    message: str
    value: float | None = None
    """The measured share (or count, for wrong types) in the checked data."""
    baseline: float | None = None
    examples: list[str] = Field(default_factory=list)


class DriftResult(BaseModel):
    """A check's outcome: per-feature tests, data-quality findings and the dataset verdict."""

    rows: int
    features: dict[str, FeatureDrift]
    drifted_features: list[str]
    drift_share: float
    dataset_drift_threshold: float
    dataset_drift: bool
    data_quality: list[QualityFinding]
    data_quality_failed: bool


class DriftReport(DriftResult):
    """A stored check: the result with what was checked, when and why."""

    report_id: str
    model: str
    version: str
    created_at: str
    trigger: Trigger
    source: str
    report_uri: str
    duration_ms: float


class DriftReportSummary(BaseModel):
    report_id: str
    model: str
    version: str
    created_at: str
    trigger: Trigger
    source: str
    rows: int
    dataset_drift: bool
    drift_share: float
    drifted_features: list[str]
    data_quality_failed: bool
    report_uri: str


class DriftHistory(BaseModel):
    items: list[DriftReportSummary]


class ScanFailure(BaseModel):
    model: str
    code: str
    message: str


class ScanOutcome(BaseModel):
    """What one scheduled scan did: per model, a report, a skip (no new traffic), a deferral (out of
    time) or a failure."""

    started_at: str
    reports: list[DriftReportSummary]
    skipped: list[str]
    deferred: list[str]
    failures: list[ScanFailure]
    alerts: int
    retraining: list[str]
