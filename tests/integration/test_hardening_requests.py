"""Bad numbers, lax types and unsafe splits are refused at the API, and a broken rollout never blocks."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from lambdaops.aws.table_keys import ACTIVE_ROLLOUT, model_pk, rollout_sk
from lambdaops.core.clock import utc_now
from lambdaops_tools.demo.sample_models import TrainedModel
from lambdaops_tools.local.resources import create_functions_and_state_machines

from .conftest import Api, table_snapshot

NAME = "hard-model"
OTHER = "other-model"
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e999"]


@pytest.fixture
def model(api: Api, trained: TrainedModel) -> Api:
    """1.0.0 in production, 1.1.0 in staging, 1.2.0 registered (stage none)."""
    assert api.call("POST", "/models", {"name": NAME})[0] == 201
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        assert api.register(NAME, version, trained)[0] == 201
    for version, stage in (("1.0.0", "staging"), ("1.0.0", "production"), ("1.1.0", "staging")):
        assert api.call("POST", f"/models/{NAME}/versions/{version}/stage", {"stage": stage})[0] == 200
    return api


def with_number(body: Any, number: str) -> bytes:
    """`body` as JSON with each "N" written as `number` (json.dumps would not write `1e999`)."""
    return json.dumps(body).replace('"N"', number).encode()


def refused(api: Api, method: str, path: str, body: bytes, why: str) -> None:
    """A 400 `ValidationError` saying `why`, and nothing written."""
    before = table_snapshot(api.resources)
    status, reply = api.call(method, path, raw=body)
    assert (status, reply["error"]["code"]) == (400, "ValidationError"), reply
    assert why in reply["error"]["message"], reply
    assert table_snapshot(api.resources) == before


@pytest.mark.parametrize("number", NON_FINITE)
def test_a_canary_with_a_non_finite_limit_is_refused(model: Api, number: str) -> None:
    for field in ("max_p99_ms", "max_error_rate"):
        body = with_number({"version": "1.1.0", field: "N"}, number)
        refused(model, "POST", f"/models/{NAME}/canary", body, "finite")


@pytest.mark.parametrize("number", NON_FINITE)
def test_a_gate_that_cannot_fire_is_refused_at_creation(api: Api, number: str) -> None:
    for policy in (
        {"policy": {"thresholds": [{"metric": "accuracy", "min": "N"}]}},
        {"policy": {"thresholds": [{"metric": "loss", "max": "N"}]}},
        {"policy": {"must_beat_production": [{"metric": "auc", "min_delta": "N"}]}},
        {"drift": {"numeric": {"method": "psi", "threshold": "N"}}},
        {"drift": {"drift_share": "N"}},
    ):
        refused(api, "POST", "/models", with_number({"name": OTHER, **policy}, number), "finite")
    assert api.call("GET", f"/models/{OTHER}")[0] == 404


@pytest.mark.parametrize("number", NON_FINITE)
def test_non_finite_metrics_and_params_are_refused(model: Api, trained: TrainedModel, number: str) -> None:
    for field in ("metrics", "params"):
        body = {
            "artifact_uri": model.upload(NAME, "2.0.0", trained.onnx_bytes),
            "version": "2.0.0",
            "input_schema": trained.input_schema,
            field: {"accuracy": "N"},
        }
        refused(model, "POST", f"/models/{NAME}/versions", with_number(body, number), "finite")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (f"/models/{NAME}/versions", {"metrics": {"accuracy": True}}),
        (f"/models/{NAME}/versions", {"metrics": {"accuracy": "0.9"}}),
        (f"/models/{NAME}/traffic", {"routes": [{"version": "1.0.0", "weight": "100"}]}),
        (f"/models/{NAME}/traffic", {"routes": [{"version": "1.0.0", "weight": True}]}),
        (f"/models/{NAME}/traffic", {"routes": [{"version": "1.0.0", "weight": 100.0}]}),
        (f"/models/{NAME}/canary", {"version": "1.1.0", "max_p99_ms": True}),
        (f"/models/{NAME}/canary", {"version": "1.1.0", "interval_seconds": "60"}),
        (f"/models/{NAME}/canary", {"version": "1.1.0", "steps": [True, 100]}),
        (f"/models/{NAME}/versions/1.1.0/stage", {"stage": "production", "approved_by": 7}),
        ("/models", {"name": OTHER, "policy": {"require_approval_for_production": "yes"}}),
        ("/models", {"name": OTHER, "policy": {"thresholds": [{"metric": "accuracy", "min": False}]}}),
    ],
)
def test_booleans_and_strings_are_not_numbers(
    model: Api, trained: TrainedModel, path: str, body: dict[str, Any]
) -> None:
    if path.endswith("/versions"):
        body = {
            "artifact_uri": model.upload(NAME, "2.0.0", trained.onnx_bytes),
            "version": "2.0.0",
            "input_schema": trained.input_schema,
            **body,
        }
    method = "PUT" if path.endswith("/traffic") else "POST"
    refused(model, method, path, json.dumps(body).encode(), "Input should be a valid")


def test_strict_requests_still_take_what_json_writes(api: Api, trained: TrainedModel) -> None:
    """Enums from their string, integers where a float is asked, booleans where a boolean is."""
    policy = {"thresholds": [{"metric": "accuracy", "min": 0}], "require_approval_for_production": False}
    assert (
        api.call("POST", "/models", {"name": OTHER, "policy": policy, "drift": {"drift_share": 1}})[0] == 201
    )
    status, version = api.register(
        OTHER, "1.0.0", trained, params={"depth": 3, "lr": 0.1, "fit": True, "s": "x"}
    )
    assert status == 201
    assert version["params"] == {"depth": 3, "lr": 0.1, "fit": True, "s": "x"}
    assert api.call("POST", f"/models/{OTHER}/versions/1.0.0/stage", {"stage": "staging"})[0] == 200


def test_two_routes_with_the_same_variant_are_refused(model: Api) -> None:
    body = {
        "routes": [
            {"version": "1.0.0", "weight": 50, "variant": "arm"},
            {"version": "1.1.0", "weight": 50, "variant": "arm"},
        ]
    }
    status, reply = model.call("PUT", f"/models/{NAME}/traffic", body)
    assert (status, reply["error"]["code"], reply["error"]["details"]["reason"]) == (
        422,
        "InvalidTrafficSplit",
        "duplicate_variant",
    )


@pytest.mark.parametrize("weight", [100, 0])
def test_a_route_to_an_unstaged_version_is_refused(model: Api, weight: int) -> None:
    routes = [{"version": "1.2.0", "weight": weight}] + (
        [{"version": "1.0.0", "weight": 100}] if not weight else []
    )
    before = table_snapshot(model.resources)
    status, reply = model.call("PUT", f"/models/{NAME}/traffic", {"routes": routes})
    assert (status, reply["error"]["details"]["reason"]) == (422, "unstaged_version")
    assert reply["error"]["details"]["stage"] == "none"
    assert table_snapshot(model.resources) == before


def test_without_production_a_split_cannot_serve_an_ungated_version(api: Api, trained: TrainedModel) -> None:
    assert (
        api.call(
            "POST", "/models", {"name": OTHER, "policy": {"thresholds": [{"metric": "accuracy", "min": 2}]}}
        )[0]
        == 201
    )
    assert api.register(OTHER, "1.0.0", trained)[0] == 201
    status, reply = api.call(
        "PUT", f"/models/{OTHER}/traffic", {"routes": [{"version": "1.0.0", "weight": 100}]}
    )
    assert (status, reply["error"]["details"]["reason"]) == (422, "unstaged_version")


def test_a_shadow_may_be_an_unstaged_version(model: Api) -> None:
    body = {
        "routes": [{"version": "1.1.0", "weight": 100}],
        "shadow": {"version": "1.2.0", "sample_rate": 0.5},
    }
    assert model.call("PUT", f"/models/{NAME}/traffic", body)[0] == 200


def _store_rollout(api: Api, rollout_id: str, doc: dict[str, Any], claimed: bool) -> None:
    db = boto3.client("dynamodb")
    ref = f"{doc['started_at']}#{rollout_id}"
    item = {"PK": {"S": model_pk(NAME)}, "SK": {"S": rollout_sk(ref)}, "doc": {"S": json.dumps(doc)}}
    db.put_item(TableName=api.resources.table_name, Item=item)
    if claimed:
        claim = {"PK": {"S": model_pk(NAME)}, "SK": {"S": ACTIVE_ROLLOUT}, "rollout_id": {"S": rollout_id}}
        db.put_item(TableName=api.resources.table_name, Item=claim)


def _rollout_doc(rollout_id: str, status: str, **settings: Any) -> dict[str, Any]:
    return {
        "rollout_id": rollout_id,
        "model": NAME,
        "version": "1.1.0",
        "incumbent": "1.0.0",
        "status": status,
        "started_at": utc_now(),
        "started_by": "someone",
        "settings": {"version": "1.1.0", **settings},
    }


def test_a_rollout_record_that_cannot_be_read_back_does_not_block(model: Api) -> None:
    """What `max_p99_ms: Infinity` left behind before it was refused: a running rollout, stored with null."""
    _store_rollout(
        model, "deadbeef0001", _rollout_doc("deadbeef0001", "running", max_p99_ms=None), claimed=True
    )
    status, rollout = model.call("GET", f"/models/{NAME}/canary")
    assert (status, rollout["rollout_id"], rollout["status"], rollout["settings"]) == (
        200,
        "deadbeef0001",
        "failed",
        None,
    )
    assert "cannot be read back" in rollout["reason"]
    create_functions_and_state_machines(model.resources)
    status, started = model.call("POST", f"/models/{NAME}/canary", {"version": "1.1.0"})
    assert status == 202, started
    status, rollout = model.call("GET", f"/models/{NAME}/canary")
    assert (status, rollout["status"], rollout["execution_arn"]) == (200, "running", started["execution_arn"])


def test_a_finished_rollout_whose_claim_was_left_does_not_block(model: Api) -> None:
    _store_rollout(model, "deadbeef0002", _rollout_doc("deadbeef0002", "failed"), claimed=True)
    create_functions_and_state_machines(model.resources)
    status, started = model.call("POST", f"/models/{NAME}/canary", {"version": "1.1.0"})
    assert status == 202, started
