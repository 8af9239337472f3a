"""Traffic splits and canary starts through the promotion function, on moto."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from lambdaops_tools.demo.sample_models import TrainedModel
from lambdaops_tools.local.resources import create_functions_and_state_machines

from .conftest import Api, table_snapshot

NAME = "ab-model"
TRAFFIC = f"/models/{NAME}/traffic"


@pytest.fixture
def model(api: Api, trained: TrainedModel) -> Api:
    assert api.call("POST", "/models", {"name": NAME})[0] == 201
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        assert api.register(NAME, version, trained)[0] == 201
    for version, stage in (("1.0.0", "staging"), ("1.0.0", "production"), ("1.1.0", "staging")):
        assert api.call("POST", f"/models/{NAME}/versions/{version}/stage", {"stage": stage})[0] == 200
    return api


def split(*routes: tuple[str, int], shadow: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"routes": [{"version": v, "weight": w} for v, w in routes]}
    if shadow is not None:
        body["shadow"] = shadow
    return body


def test_default_split_is_production(model: Api) -> None:
    status, body = model.call("GET", TRAFFIC)
    assert status == 200
    assert body == {"routes": [{"version": "1.0.0", "weight": 100, "variant": "production"}], "shadow": None}


def test_set_and_read_a_split_with_a_shadow(model: Api) -> None:
    wanted = split(("1.0.0", 70), ("1.1.0", 30), shadow={"version": "1.2.0", "sample_rate": 0.5})
    status, body = model.call("PUT", TRAFFIC, wanted)
    assert status == 200
    assert model.call("GET", TRAFFIC)[1] == body
    assert model.call("GET", f"/models/{NAME}")[1]["traffic"] == body


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (split(("1.0.0", 70), ("1.1.0", 20)), "weights_sum"),
        (split(("1.0.0", 50), ("1.0.0", 50)), "duplicate_version"),
        (split(("1.0.0", 50), ("9.9.9", 50)), "unknown_version"),
        (split(("1.0.0", 100), shadow={"version": "9.9.9", "sample_rate": 0.1}), "unknown_version"),
    ],
)
def test_bad_splits_are_422_and_write_nothing(model: Api, body: dict[str, Any], reason: str) -> None:
    before = table_snapshot(model.resources)
    status, reply = model.call("PUT", TRAFFIC, body)
    assert (status, reply["error"]["code"], reply["error"]["details"]["reason"]) == (
        422,
        "InvalidTrafficSplit",
        reason,
    )
    assert table_snapshot(model.resources) == before


def test_archived_versions_cannot_take_traffic(model: Api) -> None:
    assert model.call("POST", f"/models/{NAME}/versions/1.2.0/stage", {"stage": "archived"})[0] == 200
    status, reply = model.call("PUT", TRAFFIC, split(("1.0.0", 50), ("1.2.0", 50)))
    assert (status, reply["error"]["details"]["reason"]) == (422, "archived_version")


def test_malformed_splits_are_400(model: Api) -> None:
    for body in ({"routes": []}, {"routes": [{"version": "1.0.0", "weight": 101}]}, {"routes": "all"}):
        assert model.call("PUT", TRAFFIC, body)[1]["error"]["code"] == "ValidationError"


def test_promotion_and_archival_clear_the_split(model: Api) -> None:
    model.call("PUT", TRAFFIC, split(("1.0.0", 50), ("1.1.0", 50)))
    assert model.call("POST", f"/models/{NAME}/versions/1.1.0/stage", {"stage": "archived"})[0] == 200
    assert model.call("GET", f"/models/{NAME}")[1]["traffic"] is None
    model.call("POST", f"/models/{NAME}/versions/1.1.0/stage", {"stage": "staging"})
    model.call("PUT", TRAFFIC, split(("1.0.0", 50), ("1.1.0", 50)))
    assert model.call("POST", f"/models/{NAME}/versions/1.1.0/stage", {"stage": "production"})[0] == 200
    assert model.call("GET", f"/models/{NAME}")[1]["traffic"] is None


def test_canary_conflicts_are_409(model: Api) -> None:
    canary = f"/models/{NAME}/canary"
    status, reply = model.call("POST", canary, {"version": "1.2.0"})  # not in staging
    assert (status, reply["error"]["code"]) == (409, "RolloutConflict")
    status, reply = model.call("GET", canary)
    assert (status, reply["error"]["code"]) == (404, "RolloutNotFound")
    status, reply = model.call("POST", canary, {"version": "1.1.0", "steps": [50, 20]})
    assert (status, reply["error"]["code"]) == (400, "ValidationError")


def test_canary_start_records_a_running_rollout(model: Api) -> None:
    create_functions_and_state_machines(model.resources)
    status, started = model.call("POST", f"/models/{NAME}/canary", {"version": "1.1.0", "steps": [50, 100]})
    assert status == 202
    execution = boto3.client("stepfunctions").describe_execution(executionArn=started["execution_arn"])
    assert execution["status"] in ("RUNNING", "SUCCEEDED", "FAILED")
    status, rollout = model.call("GET", f"/models/{NAME}/canary")
    assert (status, rollout["status"], rollout["incumbent"], rollout["version"]) == (
        200,
        "running",
        "1.0.0",
        "1.1.0",
    )
    assert rollout["execution_arn"] == started["execution_arn"]
    status, reply = model.call("POST", f"/models/{NAME}/canary", {"version": "1.1.0"})
    assert (status, reply["error"]["code"]) == (409, "RolloutConflict")
