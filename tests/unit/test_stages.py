from __future__ import annotations

import itertools

import pytest

from lambdaops.core.errors import IllegalTransition
from lambdaops.registry.stages import ALLOWED_MOVES, Stage, check_move

ALLOWED = {
    (Stage.NONE, Stage.STAGING),
    (Stage.NONE, Stage.ARCHIVED),
    (Stage.STAGING, Stage.PRODUCTION),
    (Stage.STAGING, Stage.ARCHIVED),
    (Stage.PRODUCTION, Stage.ARCHIVED),
    (Stage.ARCHIVED, Stage.STAGING),
}
REFUSED = sorted(set(itertools.product(Stage, Stage)) - ALLOWED)


def test_the_table_is_the_contract() -> None:
    assert {(a, b) for a, targets in ALLOWED_MOVES.items() for b in targets} == ALLOWED
    assert set(ALLOWED_MOVES) == set(Stage)


def test_stage_values_are_the_api_names() -> None:
    assert [stage.value for stage in Stage] == ["none", "staging", "production", "archived"]


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_allowed_moves_pass(current: Stage, target: Stage) -> None:
    check_move("1.0.0", current, target)


@pytest.mark.parametrize(("current", "target"), REFUSED)
def test_refused_moves_raise_illegal_transition(current: Stage, target: Stage) -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_move("1.2.3", current, target)
    error = caught.value
    assert error.code == "IllegalTransition"
    assert error.status == 409
    expected_allowed = sorted(b.value for a, b in ALLOWED if a == current)
    assert error.details == {
        "version": "1.2.3",
        "from_stage": current.value,
        "to_stage": target.value,
        "allowed": expected_allowed,
    }
    assert f"from {current.value} to {target.value}" in error.message
    assert error.to_body()["error"]["code"] == "IllegalTransition"


def test_refused_moves_are_the_expected_sixteen_minus_six() -> None:
    assert len(REFUSED) == 10
    assert (Stage.ARCHIVED, Stage.PRODUCTION) in REFUSED
    assert (Stage.NONE, Stage.PRODUCTION) in REFUSED
    assert all((stage, stage) in REFUSED for stage in Stage)
