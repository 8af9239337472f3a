from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdaops.core.errors import (
    ConcurrentModification,
    IllegalTransition,
    InvalidInput,
    ModelNotFound,
    NothingToRollBack,
    PolicyViolation,
    VersionNotFound,
)
from lambdaops.core.semver import parse_version
from lambdaops.promotion.schemas import RollbackRequest, StageChangeRequest
from lambdaops.registry.events import STAGE_CHANGED
from lambdaops.registry.schemas import HistoryEntry
from lambdaops.registry.stages import Stage
from lambdaops_tools.demo.sample_models import TrainedModel

from .conftest import ALICE, BOB, World, build_world
from .memory_store import InMemoryRegistryStore, RacingStore

S, P, A, N = Stage.STAGING, Stage.PRODUCTION, Stage.ARCHIVED, Stage.NONE


def promote(world: World, *versions: str) -> None:
    """Take each version through staging to production, in order."""
    for version in versions:
        world.move(version, S)
        world.move(version, P)


def rollback(world: World, reason: str = "") -> Any:
    return world.promotion.rollback("churn", RollbackRequest(reason=reason), ALICE)


def transitions(world: World) -> list[tuple[str, str, Stage | None, Stage]]:
    return [(e.action, e.version, e.from_stage, e.to_stage) for e in world.promotion.history("churn").items]


def stage_events(world: World) -> list[dict[str, Any]]:
    return [detail for kind, detail in world.events.events if kind == STAGE_CHANGED]


@pytest.fixture
def three(world: World) -> World:
    """A model with versions 1.0.0, 2.0.0 and 3.0.0, all in stage none."""
    world.create()
    for version in ["1.0.0", "2.0.0", "3.0.0"]:
        world.register(version)
    return world


def test_move_to_staging(three: World) -> None:
    result = three.promotion.change_stage(
        "churn", "1.0.0", StageChangeRequest(stage=S, reason="looks good"), BOB
    )
    assert (result.version, result.stage, result.previous_stage) == ("1.0.0", S, N)
    record = three.registry.get_version("churn", "1.0.0")
    assert record.stage == S
    assert record.stage_changed_at > record.created_at
    model = three.registry.get_model("churn")
    assert model.staging_versions == ["1.0.0"]
    assert model.production_version is None
    last = three.promotion.history("churn").items[-1]
    assert (last.action, last.version, last.from_stage, last.to_stage) == ("stage_change", "1.0.0", N, S)
    assert (last.actor, last.reason, last.at) == (BOB, "looks good", record.stage_changed_at)
    assert stage_events(three) == [{"model": "churn", **last.model_dump(mode="json")}]


def test_staging_versions_are_kept_in_semver_order(world: World) -> None:
    world.create()
    for version in ["1.10.0", "1.9.0", "1.2.0"]:
        world.register(version)
        world.move(version, S)
    assert world.registry.get_model("churn").staging_versions == ["1.2.0", "1.9.0", "1.10.0"]
    world.move("1.9.0", P)
    world.move("1.2.0", A)
    assert world.registry.get_model("churn").staging_versions == ["1.10.0"]


def test_promote_to_production(three: World) -> None:
    promote(three, "1.0.0")
    model = three.registry.get_model("churn")
    assert model.production_version == "1.0.0"
    assert model.staging_versions == []
    assert three.stages()["1.0.0"] == P


def test_promoting_another_version_archives_the_old_one_in_the_same_change(three: World) -> None:
    promote(three, "1.0.0")
    three.move("2.0.0", S)
    three.move("3.0.0", S)
    revision = three.store.get_model("churn").revision
    events_before = len(stage_events(three))
    result = three.promotion.change_stage("churn", "2.0.0", StageChangeRequest(stage=P), ALICE)
    assert (result.stage, result.previous_stage) == (P, S)
    state = three.store.get_model("churn")
    assert state is not None
    assert state.revision == revision + 1
    assert state.production_history == ("1.0.0",)
    assert state.record.production_version == "2.0.0"
    assert state.record.staging_versions == ["3.0.0"]
    assert three.stages() == {"3.0.0": S, "2.0.0": P, "1.0.0": A}
    last_change = three.store.applied[-1]
    assert len(last_change.history) == 2
    displaced, promoted = last_change.history
    assert (displaced.version, displaced.from_stage, displaced.to_stage) == ("1.0.0", P, A)
    assert displaced.reason == "replaced by 2.0.0"
    assert (promoted.version, promoted.from_stage, promoted.to_stage) == ("2.0.0", S, P)
    assert displaced.at == promoted.at
    assert transitions(three)[-2:] == [
        ("stage_change", "1.0.0", P, A),
        ("stage_change", "2.0.0", S, P),
    ]
    new_events = stage_events(three)[events_before:]
    assert [(e["version"], e["to_stage"]) for e in new_events] == [
        ("1.0.0", "archived"),
        ("2.0.0", "production"),
    ]


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ([], P),
        ([], N),
        ([S], S),
        ([S], N),
        ([S, P], S),
        ([S, P], P),
        ([S, P], N),
        ([A], P),
        ([A], A),
        ([A], N),
    ],
)
def test_illegal_moves_are_refused_and_nothing_is_written(
    three: World, path: list[Stage], target: Stage
) -> None:
    for stage in path:
        three.move("1.0.0", stage)
    before, events = three.store.snapshot(), list(three.events.events)
    with pytest.raises(IllegalTransition) as caught:
        three.move("1.0.0", target)
    current = path[-1] if path else N
    assert caught.value.details["from_stage"] == current.value
    assert caught.value.details["to_stage"] == target.value
    assert three.store.snapshot() == before
    assert three.events.events == events


def test_an_archived_version_may_return_to_staging(three: World) -> None:
    three.move("1.0.0", A)
    three.move("1.0.0", S)
    assert three.stages()["1.0.0"] == S
    assert three.registry.get_model("churn").staging_versions == ["1.0.0"]


def test_archiving_production_directly_clears_the_pointer(three: World) -> None:
    promote(three, "1.0.0")
    three.move("1.0.0", A)
    state = three.store.get_model("churn")
    assert state is not None
    assert state.record.production_version is None
    assert state.production_history == ("1.0.0",)


def test_unknown_model_or_version(three: World) -> None:
    with pytest.raises(VersionNotFound):
        three.move("9.9.9", S)
    with pytest.raises(ModelNotFound):
        three.move("1.0.0", S, name="ghost")
    with pytest.raises(InvalidInput):
        three.move("1.0", S)


def test_a_version_with_a_trailing_newline_is_refused(three: World) -> None:
    # It would be stored under 1.0.0's key but recorded as "1.0.0\n" in the pointers and history.
    with pytest.raises(InvalidInput):
        three.move("1.0.0\n", S)


def gated(world: World, **policy: Any) -> World:
    world.create(policy=policy)
    world.register("1.0.0", metrics={"accuracy": 0.80, "log_loss": 0.40})
    world.register("2.0.0", metrics={"accuracy": 0.85, "log_loss": 0.50})
    world.register("3.0.0", metrics={"accuracy": 0.70})
    return world


def assert_refused(world: World, version: str, target: Stage, gate: str, **fields: Any) -> None:
    before, events = world.store.snapshot(), list(world.events.events)
    with pytest.raises(PolicyViolation) as caught:
        world.move(version, target, **fields)
    assert caught.value.details["gate"] == gate
    assert world.store.snapshot() == before
    assert world.events.events == events


def test_threshold_gate_refuses_staging(world: World) -> None:
    gated(world, thresholds=[{"metric": "accuracy", "min": 0.75}])
    assert_refused(world, "3.0.0", S, "threshold:accuracy")
    world.move("1.0.0", S)
    assert world.stages()["1.0.0"] == S


def test_must_beat_production_gate(world: World) -> None:
    gated(world, must_beat_production=[{"metric": "log_loss", "higher_is_better": False}])
    promote(world, "1.0.0")
    world.move("2.0.0", S)
    assert_refused(world, "2.0.0", P, "must_beat_production:log_loss")
    world.move("3.0.0", S)
    assert_refused(world, "3.0.0", P, "must_beat_production:log_loss")


def test_must_beat_production_passes_with_a_better_candidate(world: World) -> None:
    gated(world, must_beat_production=[{"metric": "accuracy", "min_delta": 0.01}])
    promote(world, "1.0.0", "2.0.0")
    assert world.registry.get_model("churn").production_version == "2.0.0"


def test_approval_gate(world: World) -> None:
    gated(world, require_approval_for_production=True)
    world.move("1.0.0", S)
    assert_refused(world, "1.0.0", P, "approval")
    assert_refused(world, "1.0.0", P, "approval", approved_by=ALICE)
    world.move("1.0.0", P, approved_by=BOB)
    last = world.promotion.history("churn").items[-1]
    assert (last.version, last.to_stage, last.approved_by) == ("1.0.0", P, BOB)


def test_archiving_is_not_gated(world: World) -> None:
    gated(
        world,
        thresholds=[{"metric": "accuracy", "min": 0.99}],
        require_approval_for_production=True,
    )
    world.move("3.0.0", A)
    assert world.stages()["3.0.0"] == A


def test_rollback_restores_the_previous_production(three: World) -> None:
    promote(three, "1.0.0", "2.0.0")
    events_before = len(stage_events(three))
    result = rollback(three, reason="bad latency")
    assert (result.production_version, result.rolled_back_from) == ("1.0.0", "2.0.0")
    assert three.stages() == {"3.0.0": N, "2.0.0": A, "1.0.0": P}
    assert three.registry.get_model("churn").production_version == "1.0.0"
    assert transitions(three)[-2:] == [("rollback", "2.0.0", P, A), ("rollback", "1.0.0", A, P)]
    last_two = three.promotion.history("churn").items[-2:]
    assert all(e.reason == "bad latency" and e.actor == ALICE for e in last_two)
    new_events = stage_events(three)[events_before:]
    assert [(e["action"], e["version"], e["to_stage"]) for e in new_events] == [
        ("rollback", "2.0.0", "archived"),
        ("rollback", "1.0.0", "production"),
    ]


def test_repeated_rollback_goes_further_back_then_stops(three: World) -> None:
    promote(three, "1.0.0", "2.0.0", "3.0.0")
    assert rollback(three).production_version == "2.0.0"
    assert rollback(three).production_version == "1.0.0"
    assert three.stages() == {"3.0.0": A, "2.0.0": A, "1.0.0": P}
    before = three.store.snapshot()
    with pytest.raises(NothingToRollBack) as caught:
        rollback(three)
    assert caught.value.status == 409
    assert three.store.snapshot() == before


def test_nothing_to_roll_back_without_an_earlier_production(three: World) -> None:
    with pytest.raises(NothingToRollBack):
        rollback(three)
    promote(three, "1.0.0")
    with pytest.raises(NothingToRollBack):
        rollback(three)
    with pytest.raises(ModelNotFound):
        three.promotion.rollback("ghost", RollbackRequest(), ALICE)


def test_rollback_after_production_was_archived_directly(three: World) -> None:
    promote(three, "1.0.0", "2.0.0")
    three.move("2.0.0", A)
    result = rollback(three)
    # Production was empty; the version that held it last comes back, and nothing is displaced.
    assert (result.production_version, result.rolled_back_from) == ("2.0.0", None)
    assert transitions(three)[-1] == ("rollback", "2.0.0", A, P)
    assert three.stages() == {"3.0.0": N, "2.0.0": P, "1.0.0": A}
    assert rollback(three).production_version == "1.0.0"


def test_rollback_to_a_version_that_went_back_to_staging(three: World) -> None:
    promote(three, "1.0.0", "2.0.0")
    three.move("1.0.0", S)
    assert three.registry.get_model("churn").staging_versions == ["1.0.0"]
    rollback(three)
    model = three.registry.get_model("churn")
    assert model.production_version == "1.0.0"
    assert model.staging_versions == []
    assert transitions(three)[-1] == ("rollback", "1.0.0", S, P)


def test_rollback_skips_the_current_version_in_the_production_history(three: World) -> None:
    promote(three, "1.0.0", "2.0.0")
    three.move("2.0.0", A)  # production history is now 1.0.0, 2.0.0
    promote(three, "2.0.0")  # 2.0.0 is production again without displacing anything
    assert rollback(three).production_version == "1.0.0"


def test_a_concurrent_change_refuses_the_stage_change_whole(trained: TrainedModel) -> None:
    inner = InMemoryRegistryStore()
    theirs = build_world(trained, inner)
    theirs.create()
    theirs.register("1.0.0")
    theirs.register("2.0.0")
    racing = RacingStore(inner, lambda: theirs.move("2.0.0", S), times=1)
    ours = build_world(trained, racing)
    with pytest.raises(ConcurrentModification):
        ours.move("1.0.0", S)
    assert ours.stages() == {"2.0.0": S, "1.0.0": N}
    assert ours.registry.get_model("churn").staging_versions == ["2.0.0"]
    assert ours.events.events == []


def test_history_is_oldest_first(three: World) -> None:
    promote(three, "1.0.0")
    items = three.promotion.history("churn").items
    assert [e.at for e in items] == sorted(e.at for e in items)
    assert [(e.action, e.version) for e in items][:3] == [
        ("register", "1.0.0"),
        ("register", "2.0.0"),
        ("register", "3.0.0"),
    ]
    with pytest.raises(ModelNotFound):
        three.promotion.history("ghost")


def replay(entries: list[HistoryEntry]) -> dict[str, Stage]:
    """Apply each entry's to_stage in order; no point of the replay may hold two productions."""
    stages: dict[str, Stage] = {}
    for entry in entries:
        if entry.action == "register":
            assert entry.version not in stages
        else:
            assert stages[entry.version] == entry.from_stage
        stages[entry.version] = entry.to_stage
        assert sum(stage == P for stage in stages.values()) <= 1
    return stages


def assert_consistent(world: World) -> None:
    stages = world.stages()
    model = world.registry.get_model("churn")
    production = [v for v, stage in stages.items() if stage == P]
    assert len(production) <= 1
    assert model.production_version == (production[0] if production else None)
    staging = sorted((v for v, stage in stages.items() if stage == S), key=parse_version)
    assert model.staging_versions == staging
    assert replay(world.promotion.history("churn").items) == stages
    assert model.latest_version == max(stages, key=parse_version)


def test_history_replay_of_a_busy_model(three: World) -> None:
    promote(three, "1.0.0", "2.0.0")
    three.move("3.0.0", S)
    three.move("1.0.0", S)
    three.move("1.0.0", P)
    rollback(three)
    three.move("2.0.0", A)
    rollback(three)
    assert_consistent(three)


VERSIONS = ["1.0.0", "1.1.0", "2.0.0", "2.0.1"]
NEXT_STAGE = {N: S, S: P, P: A, A: S}
operations = st.lists(
    st.one_of(
        # Mostly legal steps, so that productions, replacements and rollbacks happen often.
        st.tuples(st.just("advance"), st.sampled_from(VERSIONS), st.just(N)),
        st.tuples(st.just("advance"), st.sampled_from(VERSIONS), st.just(N)),
        st.tuples(st.just("move"), st.sampled_from(VERSIONS), st.sampled_from(list(Stage))),
        st.tuples(st.just("rollback"), st.just(""), st.just(N)),
    ),
    max_size=30,
)


@settings(max_examples=100, deadline=None)
@given(operations)
def test_any_sequence_of_changes_keeps_the_model_consistent(
    trained: TrainedModel, ops: list[tuple[str, str, Stage]]
) -> None:
    world = build_world(trained)
    world.create()
    for version in VERSIONS:
        world.register(version)
    for kind, version, target in ops:
        before, events = world.store.snapshot(), len(world.events.events)
        try:
            if kind == "advance":
                world.move(version, NEXT_STAGE[world.stages()[version]])
            elif kind == "move":
                world.move(version, target)
            else:
                result = rollback(world)
                assert world.stages()[result.production_version] == P
                if result.rolled_back_from is not None:
                    assert world.stages()[result.rolled_back_from] == A
        except (IllegalTransition, NothingToRollBack):
            assert world.store.snapshot() == before
            assert len(world.events.events) == events
        else:
            new_entries = world.store.applied[-1].history
            assert len(world.events.events) == events + len(new_entries)
        assert_consistent(world)
