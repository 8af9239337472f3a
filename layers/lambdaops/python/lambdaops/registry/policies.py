"""What a model's owner sets with the model (`POST /models`): its promotion gates and its drift settings.

Both are stored on the model record, so they live with the registry; the gates are enforced by
`lambdaops.promotion.gates` and the drift settings read by `lambdaops.monitoring.drift`.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from lambdaops.core.models import Strict
from lambdaops.registry.fields import MetricName

DriftMethod = Literal["psi", "kl", "js", "wasserstein", "ks", "chi_square"]


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


class MethodChoice(Strict):
    method: DriftMethod
    threshold: Annotated[float, Field(gt=0)] | None = None
    """The method's default (`lambdaops.monitoring.drift.methods.DEFAULT_THRESHOLDS`) when omitted."""


class MethodOverrides(Strict):
    """Which test a feature gets: per feature, else per kind, else chosen by type and sample size."""

    numeric: MethodChoice | None = None
    category: MethodChoice | None = None
    features: dict[str, MethodChoice] = Field(default_factory=dict)


class DriftPolicy(MethodOverrides):
    """A model's drift settings, set with the model (`POST /models`, field `drift`)."""

    drift_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    """The dataset has drifted when at least this share of the checked features has."""
    missing_rate_increase: Annotated[float, Field(ge=0, le=1)] = 0.1
    """A data-quality failure when a feature's missing rate exceeds the baseline's by more than this."""
    out_of_range_share: Annotated[float, Field(ge=0, le=1)] = 0.05
    """A warning when more than this share of a numeric feature lies outside the baseline's [min, max]."""
    unseen_category_share: Annotated[float, Field(ge=0, le=1)] = 0.0
    """A warning when more than this share of a category feature's values were never seen in training."""
    retrain_on_drift: bool = False
    """The scheduled scan starts retraining when it finds dataset drift or a data-quality failure."""
