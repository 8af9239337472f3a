"""Canary rollouts: start one, and the steps the state machine runs (set weight, judge, restore, promote).

Judgement, per step, on the predict function's metrics for the step's window:
- no canary invocations or latency: `insufficient_data`, treated as a breach (never promote on no
  evidence);
- canary error rate above the incumbent's (0 when it saw nothing) by more than `max_error_rate`: breach,
  so a canary is held to "no worse than what it replaces, within a tolerance";
- canary p99 latency above `max_p99_ms`: breach;
- otherwise pass. After the last step (weight 100) passes, the version is promoted through the
  promotion rules (gates included); a breach restores the split in place before the rollout.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, Protocol

from lambdaops.errors import RolloutConflict, RolloutNotFound
from lambdaops.model_changes import RegistryStore
from lambdaops.promotion import Promotion
from lambdaops.registry import require_model, require_version_of, utc_now
from lambdaops.rollout_store import RolloutStore, rollout_key
from lambdaops.schemas import (
    ArmFigures,
    CanaryRequest,
    ExecutionStarted,
    Rollout,
    RolloutStep,
    StageChangeRequest,
    TrafficRoute,
    TrafficSplit,
)
from lambdaops.stages import Stage

CANARY_ACTOR = "lambdaops-canary"
Verdict = Literal["pass", "breach", "insufficient_data"]


class RolloutRunner(Protocol):
    def start(self, name: str, payload: dict[str, Any]) -> str: ...

    def status(self, execution_arn: str) -> str: ...


class ArmMetrics(Protocol):
    def figures(
        self, model: str, version: str, variant: str, start: datetime, end: datetime
    ) -> ArmFigures: ...


def judge(canary: ArmFigures, incumbent: ArmFigures, settings: CanaryRequest) -> tuple[Verdict, str | None]:
    """The step's verdict and, for anything but a pass, why."""
    if canary.invocations == 0 or canary.error_rate is None or canary.p99_ms is None:
        return "insufficient_data", "no requests (or no latency) reached the canary during the step"
    baseline = incumbent.error_rate or 0.0
    if canary.error_rate > baseline + settings.max_error_rate:
        return "breach", (
            f"canary error rate {canary.error_rate:.3f} exceeds the incumbent's {baseline:.3f} "
            f"by more than {settings.max_error_rate}"
        )
    if canary.p99_ms > settings.max_p99_ms:
        return "breach", f"canary p99 latency {canary.p99_ms:.1f} ms is above {settings.max_p99_ms} ms"
    return "pass", None


def canary_split(incumbent: str, version: str, weight: int) -> TrafficSplit:
    return TrafficSplit(
        routes=[
            TrafficRoute(version=incumbent, weight=100 - weight, variant="incumbent"),
            TrafficRoute(version=version, weight=weight, variant="canary"),
        ]
    )


def _parse(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


class CanaryRollouts:
    def __init__(
        self,
        store: RegistryStore,
        rollouts: RolloutStore,
        promotion: Promotion,
        runner: RolloutRunner | None = None,
        metrics: ArmMetrics | None = None,
        clock: Callable[[], str] = utc_now,
    ) -> None:
        self._store = store
        self._rollouts = rollouts
        self._promotion = promotion
        self._runner = runner
        self._metrics = metrics
        self._clock = clock

    def start(self, name: str, request: CanaryRequest, actor: str) -> ExecutionStarted:
        """Check the candidate and incumbent, record the rollout, and start its state machine."""
        state = require_model(self._store, name)
        model = state.record
        candidate = require_version_of(self._store, state, request.version)
        if candidate.stage != Stage.STAGING:
            raise RolloutConflict(
                f"version {request.version} is {candidate.stage}; a canary starts from staging",
                version=request.version,
            )
        if model.production_version is None:
            raise RolloutConflict(f"model '{name}' has no production version to compare with", model=name)
        assert self._runner is not None, "the promotion function starts rollouts"
        running = self._rollouts.latest(name)
        if running is not None and running.status == "running" and running.execution_arn is not None:
            ended = self._runner.status(running.execution_arn)
            if ended != "RUNNING":
                # Stopped, timed out, or its Abort step failed: close it so it cannot block every later one.
                self._restore_traffic(running)
                self._finish(running, "failed", f"the execution ended {ended} before the rollout finished")
                running = None
        if running is not None and running.status == "running":
            raise RolloutConflict(
                f"rollout {running.rollout_id} of version {running.version} is still running",
                rollout_id=running.rollout_id,
            )
        rollout = Rollout(
            rollout_id=uuid.uuid4().hex[:12],
            model=name,
            version=request.version,
            incumbent=model.production_version,
            status="running",
            started_at=self._clock(),
            started_by=actor,
            settings=request,
            previous_traffic=model.traffic,
        )
        self._rollouts.claim(name, rollout.rollout_id)
        self._rollouts.save(rollout)
        payload = {
            "model": name,
            "rollout": rollout_key(rollout),
            "interval_seconds": request.interval_seconds,
            "step_index": -1,
        }
        try:
            execution = self._runner.start(f"{name}-{rollout.rollout_id}", payload)
        except Exception:
            self._finish(rollout, "failed", "the state machine could not be started")
            raise
        self._rollouts.save(rollout.model_copy(update={"execution_arn": execution}))
        return ExecutionStarted(execution_arn=execution)

    def latest(self, name: str) -> Rollout:
        require_model(self._store, name)
        rollout = self._rollouts.latest(name)
        if rollout is None:
            raise RolloutNotFound(f"model '{name}' has had no canary rollout", model=name)
        return rollout

    def set_weight(self, state: dict[str, Any]) -> dict[str, Any]:
        """Move to the next step: route its weight to the canary."""
        rollout = self._load(state)
        index = state["step_index"] + 1
        weight = rollout.settings.steps[index]
        self._promotion.set_traffic(rollout.model, canary_split(rollout.incumbent, rollout.version, weight))
        now = self._clock()  # the step's window opens once its split is written
        steps = [*rollout.steps, RolloutStep(weight=weight, started_at=now)]
        self._rollouts.save(rollout.model_copy(update={"step": index, "weight": weight, "steps": steps}))
        return {**state, "step_index": index, "last_step": index == len(rollout.settings.steps) - 1}

    def evaluate(self, state: dict[str, Any]) -> dict[str, Any]:
        """Judge the step on both arms' metrics since it began."""
        assert self._metrics is not None, "the canary function judges"
        rollout = self._load(state)
        step = rollout.steps[-1]
        start, end = _parse(step.started_at), _parse(self._clock())
        canary = self._metrics.figures(rollout.model, rollout.version, "canary", start, end)
        incumbent = self._metrics.figures(rollout.model, rollout.incumbent, "incumbent", start, end)
        verdict, reason = judge(canary, incumbent, rollout.settings)
        judged = step.model_copy(update={"canary": canary, "incumbent": incumbent, "verdict": verdict})
        self._rollouts.save(
            rollout.model_copy(update={"steps": [*rollout.steps[:-1], judged], "reason": reason})
        )
        return {**state, "verdict": "pass" if verdict == "pass" else "breach"}

    def restore(self, state: dict[str, Any]) -> dict[str, Any]:
        """Put back the split that was in force before the rollout; the version stays in staging."""
        rollout = self._load(state)
        self._restore_traffic(rollout)
        self._finish(rollout, "rolled_back", rollout.reason)
        return {**state, "status": "rolled_back"}

    def promote(self, state: dict[str, Any]) -> dict[str, Any]:
        """The last step passed: promote through the promotion rules, which also clears the split."""
        rollout = self._load(state)
        request = StageChangeRequest(
            stage=Stage.PRODUCTION,
            reason=f"canary rollout {rollout.rollout_id} passed {len(rollout.steps)} steps",
            approved_by=rollout.settings.approved_by,
        )
        self._promotion.change_stage(rollout.model, rollout.version, request, CANARY_ACTOR)
        self._finish(rollout, "promoted", None)
        return {**state, "status": "promoted"}

    def abort(self, state: dict[str, Any]) -> dict[str, Any]:
        """A step failed (a gate refused the promotion, a service error): restore and record why."""
        rollout = self._load(state)
        error = state.get("error") or {}
        reason = f"{error.get('Error', 'error')}: {error.get('Cause', '')}"[:1000]
        self._restore_traffic(rollout)
        self._finish(rollout, "failed", reason)
        return {**state, "status": "failed"}

    def _restore_traffic(self, rollout: Rollout) -> None:
        current = require_model(self._store, rollout.model).record
        ours = [canary_split(rollout.incumbent, rollout.version, w) for w in rollout.settings.steps]
        # Undo only a split this rollout wrote: a production change already cleared it, and a split
        # someone set by hand meanwhile is theirs to keep.
        if current.traffic in ours:
            self._promotion.replace_traffic(rollout.model, rollout.previous_traffic)

    def _finish(self, rollout: Rollout, status: str, reason: str | None) -> None:
        latest = self._rollouts.get(rollout.model, rollout_key(rollout)) or rollout
        self._rollouts.save(
            latest.model_copy(update={"status": status, "reason": reason, "finished_at": self._clock()})
        )
        self._rollouts.release(rollout.model, rollout.rollout_id)

    def _load(self, state: dict[str, Any]) -> Rollout:
        rollout = self._rollouts.get(state["model"], state["rollout"])
        if rollout is None:
            raise RolloutNotFound(f"no rollout {state['rollout']} of model {state['model']}")
        return rollout
