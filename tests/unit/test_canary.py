"""Canary judgement and the checks before a rollout starts, without AWS."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from lambdaops.core.errors import ConcurrentModification, RolloutConflict
from lambdaops.promotion.canary import CanaryStarts, CanarySteps, RolloutRecords, canary_split, judge
from lambdaops.promotion.rollouts import rollout_ref
from lambdaops.promotion.schemas import ArmFigures, CanaryRequest, Rollout, RolloutState, StepError
from lambdaops.promotion.traffic import validate_split
from lambdaops.registry.policies import PromotionPolicy
from lambdaops.registry.schemas import TrafficSplit
from lambdaops.registry.stages import Stage

from .conftest import World

SETTINGS = CanaryRequest(version="1.1.0", max_error_rate=0.05, max_p99_ms=100)


def arm(invocations: int, errors: int = 0, p99: float | None = 10.0) -> ArmFigures:
    rate = errors / invocations if invocations else None
    return ArmFigures(invocations=invocations, errors=errors, error_rate=rate, p99_ms=p99)


@pytest.mark.parametrize(
    ("canary", "incumbent", "verdict", "why"),
    [
        (arm(100), arm(100), "pass", None),
        (arm(100, errors=5), arm(100), "pass", None),  # exactly at the limit passes
        (arm(100, errors=6), arm(100), "breach", "by more than 0.05"),
        (arm(100, errors=50), arm(100, errors=50), "pass", None),  # no worse than the incumbent
        (arm(100, errors=4), arm(1000, errors=0), "pass", None),
        (arm(100, p99=100.0), arm(100), "pass", None),
        (arm(100, p99=100.5), arm(100), "breach", "p99 latency 100.5"),
        (arm(0), arm(100), "insufficient_data", "no requests"),
        (arm(100, p99=None), arm(0), "insufficient_data", "no latency"),
    ],
)
def test_judge(canary: ArmFigures, incumbent: ArmFigures, verdict: str, why: str | None) -> None:
    got, reason = judge(canary, incumbent, SETTINGS)
    assert got == verdict
    assert (reason is None) == (why is None)
    if why is not None:
        assert why in (reason or "")


def test_relative_breach_against_the_incumbent() -> None:
    lenient = SETTINGS.model_copy(update={"max_error_rate": 0.3})
    verdict, _ = judge(arm(10, errors=3), arm(10, errors=0), lenient)
    assert verdict == "pass"  # 0.3 is not above 0.3, nor above 0.0 + 0.3
    verdict, _ = judge(arm(10, errors=4), arm(10, errors=0), lenient)
    assert verdict == "breach"


@pytest.mark.parametrize("weight", [1, 10, 50, 100])
def test_canary_split_sums_to_100_with_named_arms(weight: int) -> None:
    split = canary_split("1.0.0", "1.1.0", weight)
    assert sum(route.weight for route in split.routes) == 100
    assert [(r.version, r.variant) for r in split.routes] == [("1.0.0", "incumbent"), ("1.1.0", "canary")]


def test_steps_must_rise_to_100() -> None:
    with pytest.raises(ValueError, match="rise strictly"):
        CanaryRequest(version="1.0.0", steps=[50, 20, 100])
    with pytest.raises(ValueError, match="end at 100"):
        CanaryRequest(version="1.0.0", steps=[10, 50])


class MemoryRollouts:
    def __init__(self) -> None:
        self.items: dict[str, Rollout] = {}
        self.active: dict[str, str] = {}

    def save(self, rollout: Rollout) -> None:
        self.items[rollout_ref(rollout)] = rollout

    def get(self, model: str, ref: str) -> Rollout | None:
        return self.items.get(ref)

    def latest(self, model: str) -> Rollout | None:
        mine = [r for key, r in sorted(self.items.items()) if r.model == model]
        return mine[-1] if mine else None

    def claim(self, model: str, rollout_id: str) -> None:
        if model in self.active:
            raise RolloutConflict(f"model '{model}' already has a rollout running")
        self.active[model] = rollout_id

    def release(self, model: str, rollout_id: str) -> None:
        if self.active.get(model) == rollout_id:
            del self.active[model]


class Runner:
    def __init__(self) -> None:
        self.started: list[tuple[str, RolloutState]] = []
        self.statuses: dict[str, str] = {}

    def start(self, name: str, state: RolloutState) -> str:
        self.started.append((name, state))
        return f"arn:aws:states:us-east-1:123456789012:execution:canary-rollout:{name}"

    def status(self, execution_arn: str) -> str:
        return self.statuses.get(execution_arn, "RUNNING")


@dataclass
class Canary:
    """Both roles over one world: what the promotion function starts and the canary function runs."""

    starts: CanaryStarts
    steps: CanarySteps
    rollouts: MemoryRollouts
    runner: Runner


def canary_for(
    world: World, metrics: Figures | None = None, rollouts: MemoryRollouts | None = None
) -> Canary:
    rollouts, runner = rollouts or MemoryRollouts(), Runner()
    records = RolloutRecords(world.store, rollouts, world.promotion, clock=_ticks(len(rollouts.items)))
    return Canary(
        CanaryStarts(records, runner), CanarySteps(records, metrics or Figures({})), rollouts, runner
    )


def test_start_records_and_starts_once(world: World) -> None:
    world.create()
    world.register("1.0.0")
    world.register("1.1.0")
    world.move("1.0.0", Stage.STAGING)
    world.move("1.0.0", Stage.PRODUCTION)
    canary = canary_for(world)
    with pytest.raises(RolloutConflict, match="starts from staging"):
        canary.starts.start("churn", SETTINGS, "me")
    world.move("1.1.0", Stage.STAGING)
    started = canary.starts.start("churn", SETTINGS, "me")
    rollout = canary.starts.latest("churn")
    assert (rollout.status, rollout.incumbent, rollout.execution_arn) == (
        "running",
        "1.0.0",
        started.execution_arn,
    )
    assert canary.runner.started[0][1] == RolloutState(
        model="churn", rollout=rollout_ref(rollout), interval_seconds=SETTINGS.interval_seconds
    )
    with pytest.raises(RolloutConflict, match="still running"):
        canary.starts.start("churn", SETTINGS, "me")
    assert len(canary.runner.started) == 1


def test_start_needs_an_incumbent(world: World) -> None:
    world.create()
    world.register("1.1.0")
    world.move("1.1.0", Stage.STAGING)
    canary = canary_for(world)
    with pytest.raises(RolloutConflict, match="no production version"):
        canary.starts.start("churn", SETTINGS, "me")
    assert canary.runner.started == []


def test_validate_split_is_what_the_canary_writes(world: World) -> None:
    world.create()
    world.register("1.0.0")
    world.register("1.1.0")
    world.move("1.0.0", Stage.STAGING)
    world.move("1.0.0", Stage.PRODUCTION)
    world.move("1.1.0", Stage.STAGING)  # the canary's arms: a split routes only to staging or production
    versions = {v: world.store.get_version("churn", v) for v in ("1.0.0", "1.1.0")}
    validate_split(canary_split("1.0.0", "1.1.0", 10), versions)


class Figures:
    """Arm metrics a test decides: {(version, variant): ArmFigures}."""

    def __init__(self, by_arm: dict[tuple[str, str], ArmFigures]) -> None:
        self.by_arm = by_arm

    def figures(self, model: str, version: str, variant: str, start: Any, end: Any) -> ArmFigures:
        return self.by_arm.get((version, variant), arm(0))


def _ticks(start: int) -> Callable[[], str]:
    """A clock one second further on every call, so rollouts started in one test sort in order."""
    counter = itertools.count(start * 100)

    def tick() -> str:
        seconds = next(counter)
        return f"2026-01-01T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.000Z"

    return tick


def run_rollout(
    world: World, figures: Figures, request: CanaryRequest, rollouts: MemoryRollouts | None = None
) -> Rollout:
    """Drive the steps as the state machine does (statemachines/canary_rollout.asl.json)."""
    canary = canary_for(world, figures, rollouts)
    canary.starts.start("churn", request, "me")
    state = canary.runner.started[0][1]
    try:
        while True:
            state = canary.steps.evaluate(canary.steps.set_weight(state))
            if state.verdict == "breach":
                canary.steps.restore(state)
                break
            if state.last_step:
                canary.steps.promote(state)
                break
    except Exception as error:  # the ASL's Catch
        caught = StepError(Error=type(error).__name__, Cause=str(error))
        canary.steps.abort(state.model_copy(update={"error": caught}))
    return canary.starts.latest("churn")


def go_live(world: World, policy: PromotionPolicy | None = None) -> World:
    """1.0.0 in production behind a 90/10 split with 1.2.0; 1.1.0 in staging as the candidate."""
    world.create(policy=policy or PromotionPolicy())
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        world.register(version)
    world.move("1.0.0", Stage.STAGING)
    world.move("1.0.0", Stage.PRODUCTION, approved_by="bob")
    world.move("1.1.0", Stage.STAGING)
    world.move("1.2.0", Stage.STAGING)
    world.promotion.set_traffic(
        "churn",
        TrafficSplit.model_validate(
            {"routes": [{"version": "1.0.0", "weight": 90}, {"version": "1.2.0", "weight": 10}]}
        ),
    )
    return world


@pytest.fixture
def live(world: World) -> World:
    return go_live(world)


HEALTHY = Figures({("1.1.0", "canary"): arm(100), ("1.0.0", "incumbent"): arm(100)})


def test_a_healthy_canary_is_promoted_and_the_split_cleared(live: World) -> None:
    rollout = run_rollout(live, HEALTHY, CanaryRequest(version="1.1.0", steps=[20, 100]))
    assert (rollout.status, [s.weight for s in rollout.steps]) == ("promoted", [20, 100])
    assert [s.verdict for s in rollout.steps] == ["pass", "pass"]
    model = live.registry.get_model("churn")
    assert (model.production_version, model.traffic) == ("1.1.0", None)
    assert live.stages()["1.0.0"] == Stage.ARCHIVED


def test_an_erroring_canary_is_rolled_back_to_the_previous_split(live: World) -> None:
    before = live.registry.get_model("churn").traffic
    failing = Figures({("1.1.0", "canary"): arm(50, errors=50), ("1.0.0", "incumbent"): arm(100)})
    rollout = run_rollout(live, failing, CanaryRequest(version="1.1.0", steps=[20, 100]))
    assert (rollout.status, len(rollout.steps), rollout.steps[0].verdict) == ("rolled_back", 1, "breach")
    assert rollout.reason is not None and "canary error rate 1.000 exceeds" in rollout.reason
    model = live.registry.get_model("churn")
    assert (model.production_version, model.traffic) == ("1.0.0", before)
    assert live.stages()["1.1.0"] == Stage.STAGING


def test_a_tight_latency_limit_rolls_back(live: World) -> None:
    strict = CanaryRequest(version="1.1.0", steps=[100], max_p99_ms=1.0)  # p99 10 ms > 1 ms
    rollout = run_rollout(live, HEALTHY, strict)
    assert rollout.status == "rolled_back"
    assert rollout.reason is not None and "p99 latency" in rollout.reason


def test_a_promotion_the_gates_refuse_fails_the_rollout_and_restores_the_split(world: World) -> None:
    live = go_live(world, PromotionPolicy(require_approval_for_production=True))
    before = live.registry.get_model("churn").traffic
    rollout = run_rollout(live, HEALTHY, CanaryRequest(version="1.1.0", steps=[50, 100]))  # no approved_by
    assert rollout.status == "failed"
    assert rollout.reason is not None and rollout.reason.startswith("PolicyViolation")
    model = live.registry.get_model("churn")
    assert (model.production_version, model.traffic) == ("1.0.0", before)
    assert live.stages()["1.1.0"] == Stage.STAGING


def test_a_finished_rollout_releases_its_claim(live: World) -> None:
    rollouts = MemoryRollouts()
    first = run_rollout(live, HEALTHY, CanaryRequest(version="1.1.0", steps=[100]), rollouts)
    assert first.status == "promoted"
    assert rollouts.active == {}
    second = run_rollout(live, HEALTHY, CanaryRequest(version="1.2.0", steps=[100]), rollouts)
    assert second.status == "rolled_back"  # HEALTHY has no figures for 1.2.0: insufficient data
    assert rollouts.active == {}


def test_a_rollout_whose_execution_died_does_not_block_the_next(live: World) -> None:
    canary = canary_for(live)
    started = canary.starts.start("churn", CanaryRequest(version="1.1.0", steps=[50, 100]), "me")
    canary.steps.set_weight(canary.runner.started[0][1])  # the split is now the rollout's 50/50
    with pytest.raises(RolloutConflict, match="still running"):
        canary.starts.start("churn", CanaryRequest(version="1.2.0"), "me")
    canary.runner.statuses[started.execution_arn] = "ABORTED"  # stopped by hand: no Abort step ran
    canary.starts.start("churn", CanaryRequest(version="1.2.0"), "me")
    dead = next(r for r in canary.rollouts.items.values() if r.version == "1.1.0")
    assert (dead.status, dead.reason) == ("failed", "the execution ended ABORTED before the rollout finished")
    assert live.registry.get_model("churn").traffic == dead.previous_traffic
    assert canary.rollouts.active == {"churn": canary.starts.latest("churn").rollout_id}


def test_restore_keeps_a_split_someone_set_during_the_rollout(live: World) -> None:
    canary = canary_for(live)
    canary.starts.start("churn", CanaryRequest(version="1.1.0", steps=[50, 100]), "me")
    state = canary.steps.set_weight(canary.runner.started[0][1])
    theirs = TrafficSplit.model_validate({"routes": [{"version": "1.0.0", "weight": 100}]})
    live.promotion.set_traffic("churn", theirs)
    canary.steps.restore(state.model_copy(update={"verdict": "breach"}))
    assert live.registry.get_model("churn").traffic == theirs
    assert canary.starts.latest("churn").status == "rolled_back"


def test_a_version_archived_while_a_split_is_validated_is_not_written(live: World) -> None:
    """Validation and write see the same revision: a concurrent archival makes the write a 409."""
    store, archived = live.store, []
    real_get_version = store.get_version

    def get_version_then_archive(name: str, version: str) -> Any:
        record = real_get_version(name, version)
        if version == "1.1.0" and not archived:  # after its (still staging) record is read
            archived.append(version)
            live.move("1.1.0", Stage.ARCHIVED)  # another request lands between check and write
        return record

    store.get_version = get_version_then_archive  # type: ignore[method-assign]
    before = live.registry.get_model("churn").traffic
    split = TrafficSplit.model_validate(
        {"routes": [{"version": "1.0.0", "weight": 50}, {"version": "1.1.0", "weight": 50}]}
    )
    with pytest.raises(ConcurrentModification):
        live.promotion.set_traffic("churn", split)
    store.get_version = real_get_version  # type: ignore[method-assign]
    assert live.registry.get_model("churn").traffic == before  # 1.1.0 was not in it, so it stays
