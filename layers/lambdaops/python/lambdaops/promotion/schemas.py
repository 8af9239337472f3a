"""Pydantic shapes of promotion: stage changes, rollback, history, and canary rollouts."""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from lambdaops.core.models import Strict
from lambdaops.registry.fields import Principal, Reason, VersionString
from lambdaops.registry.schemas import HistoryEntry, TrafficSplit
from lambdaops.registry.stages import Stage


class StageChangeRequest(Strict):
    stage: Annotated[Stage, Field(strict=False)]
    reason: Reason = ""
    approved_by: Principal | None = None


class RollbackRequest(Strict):
    reason: Reason = ""


class StageChangeResult(BaseModel):
    version: str
    stage: Stage
    previous_stage: Stage


class RollbackResult(BaseModel):
    production_version: str
    rolled_back_from: str | None


class History(BaseModel):
    items: list[HistoryEntry]


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
    approved_by: Principal | None = None

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
    settings: CanaryRequest | None
    """None only for a stored record that could not be read back (see `unreadable_rollout`)."""
    previous_traffic: TrafficSplit | None = None


def unreadable_rollout(model: str, ref: str, doc: str, why: str) -> Rollout:
    """A stored rollout that no longer validates, shown as failed (with what could be read) so that it
    never blocks its model; `ref` is its `rollout_ref`, `<started_at>#<rollout_id>`."""
    try:
        parsed: Any = json.loads(doc)
    except ValueError:
        parsed = None
    fields: dict[str, Any] = parsed if isinstance(parsed, dict) else {}

    def text(key: str) -> str | None:
        value = fields.get(key)
        return value if isinstance(value, str) else None

    started_at, _, rollout_id = ref.rpartition("#")
    return Rollout(
        rollout_id=rollout_id,
        model=model,
        version=text("version") or "unknown",
        incumbent=text("incumbent") or "unknown",
        execution_arn=text("execution_arn"),
        status="failed",
        reason=f"the stored rollout record cannot be read back ({why})"[:1000],
        started_at=started_at,
        started_by=text("started_by") or "unknown",
        finished_at=text("finished_at"),
        settings=None,
    )


class ExecutionStarted(BaseModel):
    execution_arn: str


class StepError(BaseModel):
    """What the state machine's Catch puts at `$.error` when a step failed."""

    Error: str = "error"
    Cause: str = ""


class RolloutState(Strict):
    """What the canary state machine carries from step to step (statemachines/canary_rollout.asl.json).

    Each step takes the state and returns it updated: `set_weight` advances `step_index` and sets
    `last_step`, `evaluate` sets `verdict`, the final steps set `status`; a Catch adds `error`.
    """

    model: str
    rollout: str
    """The rollout's `lambdaops.promotion.rollouts.rollout_ref`."""
    interval_seconds: int
    """The Wait state's `SecondsPath`."""
    step_index: int = -1
    last_step: bool = False
    verdict: Literal["pass", "breach"] | None = None
    status: Literal["promoted", "rolled_back", "failed"] | None = None
    error: StepError | None = None
