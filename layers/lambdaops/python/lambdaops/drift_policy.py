"""A model's drift settings and the methods a check can use.

Kept apart from `drift_schemas` because the registry's model record carries a `DriftPolicy`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


DriftMethod = Literal["psi", "kl", "js", "wasserstein", "ks", "chi_square"]
PVALUE_METHODS: frozenset[str] = frozenset({"ks", "chi_square"})
"""Methods whose threshold is a significance level (drift when p < threshold); the rest flag a
statistic at or above their threshold."""
SAMPLE_METHODS: frozenset[str] = frozenset({"ks", "wasserstein"})
"""Methods that compare samples on the number line, so numeric features only."""
DEFAULT_THRESHOLDS: dict[str, float] = {
    "psi": 0.1,
    "kl": 0.1,
    "js": 0.1,
    "wasserstein": 0.1,
    "ks": 0.05,
    "chi_square": 0.05,
}


class MethodChoice(_Strict):
    method: DriftMethod
    threshold: Annotated[float, Field(gt=0)] | None = None
    """The method's default (`DEFAULT_THRESHOLDS`) when omitted."""


class MethodOverrides(_Strict):
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
