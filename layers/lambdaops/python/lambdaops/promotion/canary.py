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
from typing import Literal

from lambdaops.core.clock import Clock, parse_iso, utc_now
from lambdaops.core.errors import RolloutConflict, RolloutNotFound
from lambdaops.promotion.rollouts import ArmMetrics, RolloutRunner, RolloutStore, rollout_ref
from lambdaops.promotion.schemas import (
    ArmFigures,
    CanaryRequest,
    ExecutionStarted,
    Rollout,
    RolloutState,
    RolloutStep,
    StageChangeRequest,
)
from lambdaops.promotion.stage_changes import Promotion
from lambdaops.registry.lookups import require_model, require_version_of
from lambdaops.registry.schemas import TrafficRoute, TrafficSplit
from lambdaops.registry.stages import Stage
from lambdaops.registry.store import RegistryStore

CANARY_ACTOR = "lambdaops-canary"
Verdict = Literal["pass", "breach", "insufficient_data"]
Ending = Literal["promoted", "rolled_back", "failed"]


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


class RolloutRecords:
    """What starting and running a rollout share: its record, and undoing its traffic when it ends."""

    def __init__(
        self, store: RegistryStore, rollouts: RolloutStore, promotion: Promotion, clock: Clock = utc_now
    ) -> None:
        self.store = store
        self.rollouts = rollouts
        self.promotion = promotion
        self.clock = clock

    def load(self, state: RolloutState) -> tuple[Rollout, CanaryRequest]:
        """The rollout a step acts on, and its settings; one that cannot be read back fails the step."""
        rollout = self.rollouts.get(state.model, state.rollout)
        if rollout is None or rollout.settings is None:
            why = rollout.reason if rollout is not None else "not found"
            raise RolloutNotFound(f"rollout {state.rollout} of model {state.model}: {why}")
        return rollout, rollout.settings

    def restore_traffic(self, rollout: Rollout) -> None:
        if rollout.settings is None:
            return  # unreadable: which splits it wrote is unknown, so any split in force is left alone
        current = require_model(self.store, rollout.model).record
        ours = [canary_split(rollout.incumbent, rollout.version, w) for w in rollout.settings.steps]
        # Undo only a split this rollout wrote: a production change already cleared it, and a split
        # someone set by hand meanwhile is theirs to keep.
        if current.traffic in ours:
            self.promotion.replace_traffic(rollout.model, rollout.previous_traffic)

    def finish(self, rollout: Rollout, status: Ending, reason: str | None) -> None:
        latest = self.rollouts.get(rollout.model, rollout_ref(rollout)) or rollout
        self.rollouts.save(
            latest.model_copy(update={"status": status, "reason": reason, "finished_at": self.clock()})
        )
        self.rollouts.release(rollout.model, rollout.rollout_id)


class CanaryStarts:
    """The promotion function's part: start a rollout, and show the latest one."""

    def __init__(self, records: RolloutRecords, runner: RolloutRunner) -> None:
        self._records = records
        self._runner = runner

    def start(self, name: str, request: CanaryRequest, actor: str) -> ExecutionStarted:
        """Check the candidate and incumbent, record the rollout, and start its state machine."""
        records = self._records
        state = require_model(records.store, name)
        model = state.record
        candidate = require_version_of(records.store, state, request.version)
        if candidate.stage != Stage.STAGING:
            raise RolloutConflict(
                f"version {request.version} is {candidate.stage}; a canary starts from staging",
                version=request.version,
            )
        if model.production_version is None:
            raise RolloutConflict(f"model '{name}' has no production version to compare with", model=name)
        self._close_dead_rollout(name)
        rollout = Rollout(
            rollout_id=uuid.uuid4().hex[:12],
            model=name,
            version=request.version,
            incumbent=model.production_version,
            status="running",
            started_at=records.clock(),
            started_by=actor,
            settings=request,
            previous_traffic=model.traffic,
        )
        records.rollouts.claim(name, rollout.rollout_id)
        records.rollouts.save(rollout)
        first = RolloutState(
            model=name, rollout=rollout_ref(rollout), interval_seconds=request.interval_seconds
        )
        try:
            execution = self._runner.start(f"{name}-{rollout.rollout_id}", first)
        except Exception:
            records.finish(rollout, "failed", "the state machine could not be started")
            raise
        records.rollouts.save(rollout.model_copy(update={"execution_arn": execution}))
        return ExecutionStarted(execution_arn=execution)

    def latest(self, name: str) -> Rollout:
        require_model(self._records.store, name)
        rollout = self._records.rollouts.latest(name)
        if rollout is None:
            raise RolloutNotFound(f"model '{name}' has had no canary rollout", model=name)
        return rollout

    def _close_dead_rollout(self, name: str) -> None:
        """A running rollout blocks a new one, unless its execution ended without finishing it.

        A rollout that is not running (finished, failed, or a record that cannot be read back) never
        blocks: its claim, if it is still held (it ended between saving and releasing), is released.
        """
        running = self._records.rollouts.latest(name)
        if running is None:
            return
        if running.status != "running":
            self._records.rollouts.release(name, running.rollout_id)
            return
        if running.execution_arn is not None:
            ended = self._runner.status(running.execution_arn)
            if ended != "RUNNING":
                # Stopped, timed out, or its Abort step failed: close it so it cannot block every later one.
                self._records.restore_traffic(running)
                self._records.finish(
                    running, "failed", f"the execution ended {ended} before the rollout finished"
                )
                return
        raise RolloutConflict(
            f"rollout {running.rollout_id} of version {running.version} is still running",
            rollout_id=running.rollout_id,
        )


class CanarySteps:
    """The canary function's part: the steps the state machine runs."""

    def __init__(self, records: RolloutRecords, metrics: ArmMetrics) -> None:
        self._records = records
        self._metrics = metrics

    def set_weight(self, state: RolloutState) -> RolloutState:
        """Move to the next step: route its weight to the canary."""
        records = self._records
        rollout, settings = records.load(state)
        index = state.step_index + 1
        weight = settings.steps[index]
        records.promotion.set_traffic(rollout.model, canary_split(rollout.incumbent, rollout.version, weight))
        now = records.clock()  # the step's window opens once its split is written
        steps = [*rollout.steps, RolloutStep(weight=weight, started_at=now)]
        records.rollouts.save(rollout.model_copy(update={"step": index, "weight": weight, "steps": steps}))
        return state.model_copy(update={"step_index": index, "last_step": index == len(settings.steps) - 1})

    def evaluate(self, state: RolloutState) -> RolloutState:
        """Judge the step on both arms' metrics since it began."""
        records = self._records
        rollout, settings = records.load(state)
        step = rollout.steps[-1]
        start, end = parse_iso(step.started_at), parse_iso(records.clock())
        canary = self._metrics.figures(rollout.model, rollout.version, "canary", start, end)
        incumbent = self._metrics.figures(rollout.model, rollout.incumbent, "incumbent", start, end)
        verdict, reason = judge(canary, incumbent, settings)
        judged = step.model_copy(update={"canary": canary, "incumbent": incumbent, "verdict": verdict})
        records.rollouts.save(
            rollout.model_copy(update={"steps": [*rollout.steps[:-1], judged], "reason": reason})
        )
        return state.model_copy(update={"verdict": "pass" if verdict == "pass" else "breach"})

    def restore(self, state: RolloutState) -> RolloutState:
        """Put back the split that was in force before the rollout; the version stays in staging."""
        rollout, _ = self._records.load(state)
        self._records.restore_traffic(rollout)
        self._records.finish(rollout, "rolled_back", rollout.reason)
        return state.model_copy(update={"status": "rolled_back"})

    def promote(self, state: RolloutState) -> RolloutState:
        """The last step passed: promote through the promotion rules, which also clears the split."""
        rollout, settings = self._records.load(state)
        request = StageChangeRequest(
            stage=Stage.PRODUCTION,
            reason=f"canary rollout {rollout.rollout_id} passed {len(rollout.steps)} steps",
            approved_by=settings.approved_by,
        )
        self._records.promotion.change_stage(rollout.model, rollout.version, request, CANARY_ACTOR)
        self._records.finish(rollout, "promoted", None)
        return state.model_copy(update={"status": "promoted"})

    def abort(self, state: RolloutState) -> RolloutState:
        """A step failed (a gate refused the promotion, a service error): restore and record why."""
        rollout, _ = self._records.load(state)
        error = state.error
        reason = f"{error.Error}: {error.Cause}"[:1000] if error is not None else "error: "
        self._records.restore_traffic(rollout)
        self._records.finish(rollout, "failed", reason)
        return state.model_copy(update={"status": "failed"})
