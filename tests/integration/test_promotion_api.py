"""The promotion function on moto: stage machine, gates, rollback, history, atomicity."""

from __future__ import annotations

import pytest

from lambdaops_tools.demo.sample_models import TrainedModel, train_logistic_regression

from .conftest import ACTOR, Api, sample_event, table_snapshot

NAME = "churn-classifier"
REVIEWER = "arn:aws:iam::123456789012:user/reviewer"


@pytest.fixture
def registered(api: Api, trained: TrainedModel) -> Api:
    """The sample model (accuracy >= 0.8, must beat production, approval) with 1.0.0 and 1.1.0."""
    assert api.invoke(sample_event("registry/create_model.json"))[0] == 201
    weaker = train_logistic_regression(300, dropped_features=("monthly_spend",))
    assert api.register(NAME, "1.0.0", weaker)[0] == 201
    assert api.register(NAME, "1.1.0", trained)[0] == 201
    return api


def stage(api: Api, version: str, to: str, **extra: object) -> tuple[int, dict]:
    return api.call("POST", f"/models/{NAME}/versions/{version}/stage", {"stage": to, **extra})


def test_sample_event_promotes_to_staging(registered: Api) -> None:
    status, body = registered.invoke(sample_event("promotion/promote_to_staging.json"))
    assert status == 200
    assert body == {"version": "1.0.0", "stage": "staging", "previous_stage": "none"}
    assert registered.call("GET", f"/models/{NAME}")[1]["staging_versions"] == ["1.0.0"]


def test_full_lifecycle_with_rollback_and_history(registered: Api) -> None:
    api = registered
    assert stage(api, "1.0.0", "staging")[0] == 200
    assert stage(api, "1.0.0", "production", approved_by=REVIEWER)[0] == 200
    assert stage(api, "1.1.0", "staging")[0] == 200
    status, body = stage(api, "1.1.0", "production", approved_by=REVIEWER, reason="better")
    assert status == 200
    model = api.call("GET", f"/models/{NAME}")[1]
    assert (model["production_version"], model["staging_versions"]) == ("1.1.0", [])
    assert api.call("GET", f"/models/{NAME}/versions/1.0.0")[1]["stage"] == "archived"

    status, body = api.invoke(sample_event("promotion/rollback.json"))
    assert (status, body) == (200, {"production_version": "1.0.0", "rolled_back_from": "1.1.0"})
    assert api.call("GET", f"/models/{NAME}/versions/1.1.0")[1]["stage"] == "archived"
    assert api.call("GET", f"/models/{NAME}/versions/1.0.0")[1]["stage"] == "production"

    status, history = api.invoke(sample_event("promotion/history.json"))
    assert status == 200
    steps = [(h["action"], h["version"], h["from_stage"], h["to_stage"]) for h in history["items"]]
    assert steps == [
        ("register", "1.0.0", None, "none"),
        ("register", "1.1.0", None, "none"),
        ("stage_change", "1.0.0", "none", "staging"),
        ("stage_change", "1.0.0", "staging", "production"),
        ("stage_change", "1.1.0", "none", "staging"),
        ("stage_change", "1.0.0", "production", "archived"),
        ("stage_change", "1.1.0", "staging", "production"),
        ("rollback", "1.1.0", "production", "archived"),
        ("rollback", "1.0.0", "archived", "production"),
    ]
    assert {h["actor"] for h in history["items"]} == {ACTOR, "arn:aws:iam::123456789012:user/alice"}
    assert history["items"][6]["approved_by"] == REVIEWER
    assert history["items"][-1]["reason"] == "error rate up after release"


@pytest.mark.parametrize(
    ("setup", "move", "extra", "status", "code", "gate"),
    [
        ([], ("1.0.0", "production"), {}, 409, "IllegalTransition", None),
        ([], ("1.0.0", "none"), {}, 409, "IllegalTransition", None),
        ([], ("1.0.0", "prod"), {}, 400, "ValidationError", None),
        ([("1.0.0", "staging")], ("1.0.0", "staging"), {}, 409, "IllegalTransition", None),
        ([("1.0.0", "staging")], ("1.0.0", "production"), {}, 422, "PolicyViolation", "approval"),
        (
            [("1.0.0", "staging")],
            ("1.0.0", "production"),
            {"approved_by": "arn:aws:iam::123456789012:user/alice"},
            422,
            "PolicyViolation",
            "approval",
        ),
        (
            [("1.1.0", "staging"), ("1.1.0", "production"), ("1.0.0", "staging")],
            ("1.0.0", "production"),
            {"approved_by": REVIEWER},
            422,
            "PolicyViolation",
            "must_beat_production:accuracy",
        ),
        ([], ("9.9.9", "staging"), {}, 404, "VersionNotFound", None),
    ],
)
def test_refused_moves_write_nothing(
    registered: Api, setup: list, move: tuple[str, str], extra: dict, status: int, code: str, gate: str | None
) -> None:
    for version, to in setup:
        assert stage(registered, version, to, approved_by=REVIEWER)[0] == 200
    before = table_snapshot(registered.resources)
    got_status, reply = stage(registered, *move, **extra)
    assert (got_status, reply["error"]["code"]) == (status, code)
    if gate:
        assert reply["error"]["details"]["gate"] == gate
    assert table_snapshot(registered.resources) == before


def test_threshold_gate_refuses_staging(api: Api) -> None:
    assert api.invoke(sample_event("registry/create_model.json"))[0] == 201
    weak = train_logistic_regression(300, dropped_features=("support_tickets",))  # accuracy ~0.73 < 0.8
    api.register(NAME, "1.0.0", weak)
    status, reply = stage(api, "1.0.0", "staging")
    assert (status, reply["error"]["details"]["gate"]) == (422, "threshold:accuracy")


def test_rollback_with_nothing_to_roll_back(registered: Api) -> None:
    before = table_snapshot(registered.resources)
    status, reply = registered.call("POST", f"/models/{NAME}/rollback", {})
    assert (status, reply["error"]["code"]) == (409, "NothingToRollBack")
    assert table_snapshot(registered.resources) == before
    status, reply = registered.call("POST", "/models/unknown-model/rollback", {})
    assert (status, reply["error"]["code"]) == (404, "ModelNotFound")
