"""Canary judgement and the checks before a rollout starts, without AWS."""

from __future__ import annotations

from typing import Any

import pytest

from lambdaops.canary import CanaryRollouts, canary_split, judge
from lambdaops.errors import RolloutConflict
from lambdaops.rollout_store import rollout_key
from lambdaops.schemas import ArmFigures, CanaryRequest, Rollout
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

    def save(self, rollout: Rollout) -> None:
        self.items[rollout_key(rollout)] = rollout

    def get(self, model: str, key: str) -> Rollout | None:
        return self.items.get(key)

    def latest(self, model: str) -> Rollout | None:
        mine = [r for key, r in sorted(self.items.items()) if r.model == model]
        return mine[-1] if mine else None


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
