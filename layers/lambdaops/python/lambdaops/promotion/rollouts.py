"""The ports a canary rollout runs on: where rollouts are recorded, what runs them, what judges them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from lambdaops.promotion.schemas import ArmFigures, Rollout, RolloutState


def rollout_ref(rollout: Rollout) -> str:
    """How a running state machine names its rollout: sortable by start, unique by id."""
    return f"{rollout.started_at}#{rollout.rollout_id}"


class RolloutStore(Protocol):
    def save(self, rollout: Rollout) -> None: ...

    def get(self, model: str, ref: str) -> Rollout | None: ...

    def latest(self, model: str) -> Rollout | None: ...

    def claim(self, model: str, rollout_id: str) -> None:
        """Mark a rollout as the model's running one; `RolloutConflict` if another holds the claim."""
        ...

    def release(self, model: str, rollout_id: str) -> None: ...


class RolloutRunner(Protocol):
    def start(self, name: str, state: RolloutState) -> str:
        """Starts the rollout's state machine with its first state; returns the execution's ARN."""
        ...

    def status(self, execution_arn: str) -> str:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED."""
        ...


class ArmMetrics(Protocol):
    def figures(
        self, model: str, version: str, variant: str, start: datetime, end: datetime
    ) -> ArmFigures: ...
