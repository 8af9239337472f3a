"""Pydantic shapes of training (see ../shared/api.md, "Training and tuning"): requests, manifests, runs."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, Field, StringConstraints, model_validator

from lambdaops.core.models import Strict
from lambdaops.registry.fields import ModelName, VersionString

RunStatus = Literal["running", "succeeded", "failed"]
Trigger = Literal["api", "upload", "drift"]
Strategy = Literal["Bayesian", "Random", "Hyperband", "Grid"]
Scaling = Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"]
HyperparameterName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]
HyperparameterValue = float | int | bool | str
"""Float first, so that refusing NaN (`lambdaops.core.models.Strict`) reports "finite number"."""
DatasetUri = Annotated[str, StringConstraints(pattern=r"^s3://[^/]+/datasets/.+", max_length=1024)]
RUN_ID_PATTERN = r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$"
RunId = Annotated[str, StringConstraints(pattern=RUN_ID_PATTERN)]

MAX_RUNTIME_LIMIT_S = 5 * 24 * 3600
"""SageMaker's upper bound on `StoppingCondition.MaxRuntimeInSeconds` (5 days)."""


Hyperparameters = Annotated[dict[HyperparameterName, HyperparameterValue], Field(max_length=100)]


class ParameterRange(Strict):
    """One tuned hyperparameter: a continuous or integer interval, or categorical values."""

    type: Literal["continuous", "integer", "categorical"]
    min: float | None = None
    max: float | None = None
    values: Annotated[list[HyperparameterValue], Field(min_length=1, max_length=30)] | None = None
    scaling: Scaling = "Auto"

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.type == "categorical":
            if self.values is None or self.min is not None or self.max is not None:
                raise ValueError("a categorical range takes 'values' (and no 'min' or 'max')")
            if self.scaling != "Auto":
                raise ValueError("a categorical range has no scaling")
            return self
        if self.min is None or self.max is None or self.values is not None:
            raise ValueError(f"a {self.type} range takes 'min' and 'max' (and no 'values')")
        if self.min > self.max:
            raise ValueError(f"'min' ({self.min:g}) is greater than 'max' ({self.max:g})")
        if self.type == "integer" and not (self.min.is_integer() and self.max.is_integer()):
            raise ValueError("an integer range needs integral 'min' and 'max'")
        if self.scaling == "Logarithmic" and self.min <= 0:
            raise ValueError("Logarithmic scaling needs 'min' greater than 0")
        if self.scaling == "ReverseLogarithmic" and (self.type == "integer" or self.min < 0 or self.max >= 1):
            raise ValueError("ReverseLogarithmic scaling is for continuous ranges within [0, 1)")
        return self


class Objective(Strict):
    metric: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    type: Literal["Maximize", "Minimize"]


class TuningConfig(Strict):
    strategy: Strategy
    objective: Objective
    max_jobs: Annotated[int, Field(ge=1, le=750)] | None = None
    """Required, but for Grid, which runs every combination (and, when given, must equal their number)."""
    max_parallel_jobs: Annotated[int, Field(ge=1, le=100)]
    ranges: Annotated[dict[HyperparameterName, ParameterRange], Field(min_length=1, max_length=30)]
    early_stopping: Literal["Off", "Auto"] = "Off"

    @model_validator(mode="after")
    def _strategy_fits(self) -> Self:
        if self.strategy == "Grid":
            continuous = sorted(n for n, r in self.ranges.items() if r.type != "categorical")
            if continuous:
                raise ValueError(f"Grid search takes only categorical ranges; not {', '.join(continuous)}")
            if self.max_jobs is not None and self.max_jobs != self.grid_size:
                raise ValueError(f"a Grid over these values runs {self.grid_size} jobs; max_jobs must match")
        elif self.max_jobs is None:
            raise ValueError(f"{self.strategy} search needs max_jobs")
        if self.strategy == "Hyperband" and self.early_stopping != "Off":
            raise ValueError("Hyperband stops trials itself: early_stopping must be 'Off'")
        if self.max_jobs is not None and self.max_parallel_jobs > self.max_jobs:
            raise ValueError("max_parallel_jobs may not exceed max_jobs")
        return self

    @property
    def grid_size(self) -> int:
        return math.prod(len(r.values or ()) for r in self.ranges.values())


class JobSettings(Strict):
    """How the SageMaker job runs; what the request leaves out comes from the deployment's defaults."""

    instance_type: Annotated[str, StringConstraints(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")] | None = None
    instance_count: Annotated[int, Field(ge=1, le=16)] | None = None
    spot: bool | None = None
    max_runtime_seconds: Annotated[int, Field(ge=1, le=MAX_RUNTIME_LIMIT_S)] | None = None


class Manifest(JobSettings):
    """`datasets/<model>/<dataset_id>/manifest.json`: written last, it marks the dataset complete."""

    label: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    hyperparameters: Hyperparameters = Field(default_factory=dict)
    tuning: TuningConfig | None = None


class TrainingRequest(JobSettings):
    """`POST /training`; `label`, `hyperparameters` and `tuning` default to the dataset's manifest."""

    model: ModelName
    dataset_uri: DatasetUri
    label: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    hyperparameters: Hyperparameters | None = None
    tuning: TuningConfig | None = None


class RunFailure(BaseModel):
    step: str
    error: str
    cause: str


class Trial(BaseModel):
    training_job: str
    hyperparameters: dict[str, str]
    objective: float | None
    status: str


class PromotionOutcome(BaseModel):
    stage: str
    promoted: bool
    refusal: dict[str, Any] | None = None
    """The gate's error (`code`, `message`, `details`) when the policy refused the move."""


class Progress(BaseModel):
    """What a running job reports now (read live from SageMaker, never stored)."""

    job_status: str | None = None
    secondary_status: str | None = None
    epoch: int | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    trials_completed: int | None = None
    trials_running: int | None = None


class RunRecord(BaseModel):
    """One training run: an execution of the training state machine, as `GET /training/{run_id}` shows it."""

    run_id: str
    model: str
    status: RunStatus
    step: str
    trigger: Trigger
    reason: str | None = None
    """Why it started, when something other than a person started it (a drift alert's subject)."""
    dataset_uri: str
    label: str | None = None
    hyperparameters: dict[str, HyperparameterValue] = Field(default_factory=dict)
    tuning: TuningConfig | None = None
    settings: JobSettings = Field(default_factory=JobSettings)
    execution_arn: str | None = None
    training_job: str | None = None
    tuning_job: str | None = None
    trials: list[Trial] | None = None
    job_metrics: dict[str, float] = Field(default_factory=dict)
    """The training job's final metrics as SageMaker reports them (validation:accuracy, ...)."""
    metrics: dict[str, float] = Field(default_factory=dict)
    """The new model's metrics on the holdout rows, under the names promotion gates use."""
    production_metrics: dict[str, float] | None = None
    """The production version's metrics on the same rows, when there was one to compare with."""
    registered_version: VersionString | None = None
    promoted: bool | None = None
    promotion: PromotionOutcome | None = None
    failure: RunFailure | None = None
    started_at: str
    ended_at: str | None = None
    progress: Progress | None = None


class StartedRun(BaseModel):
    run_id: str
    execution_arn: str


class RunPage(BaseModel):
    items: list[RunRecord]
    next_token: str | None = None
