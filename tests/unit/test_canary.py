"""Canary judgement and the checks before a rollout starts, without AWS."""

from __future__ import annotations

from typing import Any

import pytest

from lambdaops.canary import CanaryRollouts, canary_split, judge
from lambdaops.errors import RolloutConflict
from lambdaops.rollout_store import rollout_key
from lambdaops.schemas import ArmFigures, CanaryRequest, PromotionPolicy, Rollout, TrafficSplit
from lambdaops.stages import Stage
from lambdaops.traffic import validate_split

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
        (arm(100, errors=6), arm(100), "breach", "above 0.05"),
        (arm(100, errors=4), arm(1000, errors=0), "pass", None),
        (arm(100, p99=100.0), arm(100), "pass", None),
        (arm(100, p99=100.5), arm(100), "breach", "p99 latency 100.5"),
        (arm(0), arm(100), "insufficient_data", "no requests reached the canary"),
        (arm(100, p99=None), arm(0), "pass", None),
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
        self.items[rollout_key(rollout)] = rollout

    def get(self, model: str, key: str) -> Rollout | None:
        return self.items.get(key)

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
        self.started: list[tuple[str, dict[str, Any]]] = []

    def start(self, name: str, payload: dict[str, Any]) -> str:
        self.started.append((name, payload))
        return f"arn:aws:states:us-east-1:123456789012:execution:canary-rollout:{name}"


def rollouts_for(world: World) -> tuple[CanaryRollouts, MemoryRollouts, Runner]:
    store, runner = MemoryRollouts(), Runner()
    canaries = CanaryRollouts(
        store=world.store,
        rollouts=store,
        promotion=world.promotion,
        runner=runner,
    )
    return canaries, store, runner


def test_start_records_and_starts_once(world: World) -> None:
    world.create()
    world.register("1.0.0")
    world.register("1.1.0")
    world.move("1.0.0", Stage.STAGING)
    world.move("1.0.0", Stage.PRODUCTION)
    canaries, _store, runner = rollouts_for(world)
    with pytest.raises(RolloutConflict, match="starts from staging"):
        canaries.start("churn", SETTINGS, "me")
    world.move("1.1.0", Stage.STAGING)
    started = canaries.start("churn", SETTINGS, "me")
    rollout = canaries.latest("churn")
    assert (rollout.status, rollout.incumbent, rollout.execution_arn) == (
        "running",
        "1.0.0",
        started.execution_arn,
    )
    assert runner.started[0][1]["rollout"] == rollout_key(rollout)
    with pytest.raises(RolloutConflict, match="still running"):
        canaries.start("churn", SETTINGS, "me")
    assert len(runner.started) == 1


def test_start_needs_an_incumbent(world: World) -> None:
    world.create()
    world.register("1.1.0")
    world.move("1.1.0", Stage.STAGING)
    canaries, _, runner = rollouts_for(world)
    with pytest.raises(RolloutConflict, match="no production version"):
        canaries.start("churn", SETTINGS, "me")
    assert runner.started == []


def test_validate_split_is_what_the_canary_writes(world: World) -> None:
    world.create()
    world.register("1.0.0")
    world.register("1.1.0")
    versions = {v: world.store.get_version("churn", v) for v in ("1.0.0", "1.1.0")}
    validate_split(canary_split("1.0.0", "1.1.0", 10), versions)


class Figures:
    """Arm metrics a test decides: {(version, variant): ArmFigures}."""

    def __init__(self, by_arm: dict[tuple[str, str], ArmFigures]) -> None:
        self.by_arm = by_arm

    def figures(self, model: str, version: str, variant: str, start: Any, end: Any) -> ArmFigures:
        return self.by_arm.get((version, variant), arm(0))


def run_rollout(
    world: World, figures: Figures, request: CanaryRequest, rollouts: MemoryRollouts | None = None
) -> Rollout:
    """Drive the steps as the state machine does (statemachines/canary_rollout.asl.json)."""
    rollouts, runner = rollouts or MemoryRollouts(), Runner()
    canaries = CanaryRollouts(world.store, rollouts, world.promotion, runner=runner, metrics=figures)
    canaries.start("churn", request, "me")
    state = runner.started[0][1]
    try:
        while True:
            state = canaries.evaluate(canaries.set_weight(state))
            if state["verdict"] == "breach":
                canaries.restore(state)
                break
            if state["last_step"]:
                canaries.promote(state)
                break
    except Exception as error:  # the ASL's Catch
        canaries.abort({**state, "error": {"Error": type(error).__name__, "Cause": str(error)}})
    return canaries.latest("churn")


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
    assert rollout.reason is not None and "error rate 1.000" in rollout.reason
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
