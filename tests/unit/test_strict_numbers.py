"""Every request shape is strict and finite: no NaN or Infinity, no boolean or string for a number."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from lambdaops.monitoring.drift.schemas import DriftRequest
from lambdaops.promotion.schemas import (
    CanaryRequest,
    Rollout,
    RolloutState,
    StageChangeRequest,
    unreadable_rollout,
)
from lambdaops.registry.policies import DriftPolicy, PromotionPolicy
from lambdaops.registry.schemas import Feature, RegisterVersionRequest, TrafficSplit
from lambdaops.registry.stages import Stage
from lambdaops.serving.schemas import PredictRequest
from lambdaops.training.schemas import TrainingRequest

NON_FINITE = [float("nan"), float("inf"), float("-inf"), json.loads("1e999")]
URI = "s3://bucket/models/m/1.0.0/model.onnx"
TRAINING = {"model": "churn", "dataset_uri": "s3://b/datasets/churn/1/"}

# (shape, a valid body, the path of a number in it)
NUMBERS: list[tuple[type[BaseModel], dict[str, Any], tuple[str, ...]]] = [
    (CanaryRequest, {"version": "1.0.0", "max_p99_ms": 1}, ("max_p99_ms",)),
    (CanaryRequest, {"version": "1.0.0", "max_error_rate": 0}, ("max_error_rate",)),
    (PromotionPolicy, {"thresholds": [{"metric": "accuracy", "min": 0.8}]}, ("thresholds", 0, "min")),
    (
        PromotionPolicy,
        {"must_beat_production": [{"metric": "auc", "min_delta": 0}]},
        ("must_beat_production", 0, "min_delta"),
    ),
    (DriftPolicy, {"numeric": {"method": "psi", "threshold": 0.2}}, ("numeric", "threshold")),
    (DriftPolicy, {"out_of_range_share": 0.5}, ("out_of_range_share",)),
    (RegisterVersionRequest, {"artifact_uri": URI, "metrics": {"accuracy": 0.9}}, ("metrics", "accuracy")),
    (RegisterVersionRequest, {"artifact_uri": URI, "params": {"lr": 0.1}}, ("params", "lr")),
    (Feature, {"name": "age", "type": "float", "min": 0}, ("min",)),
    (
        TrafficSplit,
        {"routes": [{"version": "1.0.0", "weight": 100}], "shadow": {"version": "1.1.0", "sample_rate": 1}},
        ("shadow", "sample_rate"),
    ),
    (
        DriftRequest,
        {"rows": [[1]], "methods": {"numeric": {"method": "ks", "threshold": 0.05}}},
        ("methods", "numeric", "threshold"),
    ),
    (TrainingRequest, {**TRAINING, "hyperparameters": {"eta": 0.3}}, ("hyperparameters", "eta")),
    (
        TrainingRequest,
        {
            **TRAINING,
            "tuning": {
                "strategy": "Random",
                "objective": {"metric": "auc", "type": "Maximize"},
                "max_jobs": 2,
                "max_parallel_jobs": 1,
                "ranges": {"eta": {"type": "continuous", "min": 0.1, "max": 1}},
            },
        },
        ("tuning", "ranges", "eta", "max"),
    ),
]


def _with(body: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    copied: Any = json.loads(json.dumps(body))
    target = copied
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return dict(copied)


@pytest.mark.parametrize(("shape", "body", "path"), NUMBERS)
def test_every_number_is_finite(shape: type[BaseModel], body: dict[str, Any], path: tuple[str, ...]) -> None:
    shape.model_validate(body)
    for value in NON_FINITE:
        with pytest.raises(ValidationError, match="finite number"):
            shape.model_validate(_with(body, path, value))


@pytest.mark.parametrize(
    ("shape", "body", "path"), [n for n in NUMBERS if n[2][0] != "params" and n[2][0] != "hyperparameters"]
)
def test_no_number_is_a_boolean_or_a_string(
    shape: type[BaseModel], body: dict[str, Any], path: tuple[str, ...]
) -> None:
    for value in (True, False, "1", "0.5"):
        with pytest.raises(ValidationError):
            shape.model_validate(_with(body, path, value))


@pytest.mark.parametrize(
    ("shape", "body"),
    [
        (TrafficSplit, {"routes": [{"version": "1.0.0", "weight": "100"}]}),
        (TrafficSplit, {"routes": [{"version": "1.0.0", "weight": True}]}),
        (TrafficSplit, {"routes": [{"version": "1.0.0", "weight": 100.0}]}),
        (CanaryRequest, {"version": "1.0.0", "steps": [True, 100]}),
        (CanaryRequest, {"version": "1.0.0", "interval_seconds": "60"}),
        (PromotionPolicy, {"require_approval_for_production": 1}),
        (DriftPolicy, {"retrain_on_drift": "true"}),
        (PredictRequest, {"instances": [[1]], "routing_key": 7}),
        (StageChangeRequest, {"stage": "production", "approved_by": 7}),
        (TrainingRequest, {**TRAINING, "instance_count": "2"}),
        (TrainingRequest, {**TRAINING, "spot": "yes"}),
    ],
)
def test_integers_booleans_and_strings_are_not_coerced(shape: type[BaseModel], body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        shape.model_validate(body)


def test_what_json_gives_is_still_taken() -> None:
    """A parsed body: enums and literals from strings, nested dicts, integers for floats."""
    assert StageChangeRequest.model_validate({"stage": "staging"}).stage is Stage.STAGING
    assert CanaryRequest.model_validate({"version": "1.0.0", "max_p99_ms": 100}).max_p99_ms == 100.0
    params = RegisterVersionRequest.model_validate(
        {"artifact_uri": URI, "params": {"a": 3, "b": True, "c": "x"}}
    ).params
    assert params == {"a": 3, "b": True, "c": "x"}
    assert isinstance(params["a"], int)
    state = RolloutState.model_validate(
        {"model": "churn", "rollout": "r", "interval_seconds": 0, "error": {"Error": "e"}}
    )
    assert state.error is not None


def test_a_stored_rollout_that_no_longer_validates_reads_as_failed() -> None:
    doc = json.dumps(
        {"version": "1.1.0", "incumbent": "1.0.0", "status": "running", "settings": {"max_p99_ms": None}}
    )
    rollout = unreadable_rollout("churn", "2026-01-01T00:00:00Z#abc123", doc, "settings.max_p99_ms: bad")
    assert (rollout.rollout_id, rollout.started_at, rollout.status, rollout.version, rollout.settings) == (
        "abc123",
        "2026-01-01T00:00:00Z",
        "failed",
        "1.1.0",
        None,
    )
    assert "settings.max_p99_ms" in (rollout.reason or "")
    assert Rollout.model_validate_json(rollout.model_dump_json()) == rollout
    assert unreadable_rollout("churn", "t#id", "not json", "why").status == "failed"
