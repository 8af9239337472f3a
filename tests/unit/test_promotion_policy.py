from __future__ import annotations

from typing import Any

import pytest

from lambdaops.core.errors import PolicyViolation
from lambdaops.promotion.gates import GateFailure, enforce_policy, failed_gates
from lambdaops.registry.policies import PromotionPolicy
from lambdaops.registry.schemas import InputSchema, Lineage, VersionRecord
from lambdaops.registry.stages import Stage

REGISTRAR = "arn:aws:iam::1:user/registrar"


def version(number: str = "2.0.0", created_by: str = REGISTRAR, **metrics: float) -> VersionRecord:
    return VersionRecord(
        model="churn",
        version=number,
        stage=Stage.STAGING,
        artifact_uri=f"s3://b/models/churn/{number}/model.onnx",
        artifact_version_id=None,
        sha256="0" * 64,
        size_bytes=1,
        metrics=metrics,
        params={},
        input_schema=InputSchema.model_validate({"features": [{"name": "x", "type": "float"}]}),
        lineage=Lineage(),
        tags={},
        description="",
        created_at="2025-01-01T00:00:00.000Z",
        created_by=created_by,
        stage_changed_at="2025-01-01T00:00:00.000Z",
    )


def policy(**fields: Any) -> PromotionPolicy:
    return PromotionPolicy.model_validate(fields)


def gates(
    rules: PromotionPolicy,
    candidate: VersionRecord,
    target: Stage = Stage.PRODUCTION,
    production: VersionRecord | None = None,
    approved_by: str | None = None,
) -> list[str]:
    return [f.gate for f in failed_gates(rules, candidate, target, production, approved_by)]


def test_an_empty_policy_lets_everything_through() -> None:
    for target in Stage:
        assert gates(policy(), version(), target, version("1.0.0", accuracy=1.0)) == []


@pytest.mark.parametrize("target", [Stage.STAGING, Stage.PRODUCTION])
@pytest.mark.parametrize(
    ("threshold", "value", "passes"),
    [
        ({"min": 0.9}, 0.95, True),
        ({"min": 0.9}, 0.9, True),
        ({"min": 0.9}, 0.89, False),
        ({"max": 0.3}, 0.2, True),
        ({"max": 0.3}, 0.3, True),
        ({"max": 0.3}, 0.31, False),
        ({"min": 0.1, "max": 0.3}, 0.05, False),
        ({"min": 0.1, "max": 0.3}, 0.35, False),
        ({"min": 0.1, "max": 0.3}, 0.2, True),
    ],
)
def test_thresholds_guard_staging_and_production(
    target: Stage, threshold: dict[str, float], value: float, passes: bool
) -> None:
    rules = policy(thresholds=[{"metric": "score", **threshold}])
    assert gates(rules, version(score=value), target) == ([] if passes else ["threshold:score"])


@pytest.mark.parametrize("target", [Stage.STAGING, Stage.PRODUCTION])
def test_a_missing_metric_fails_its_threshold(target: Stage) -> None:
    rules = policy(thresholds=[{"metric": "accuracy", "min": 0.5}])
    failures = failed_gates(rules, version(loss=0.1), target, None, None)
    assert failures == [GateFailure("threshold:accuracy", "metric 'accuracy' is not recorded")]


def test_threshold_messages_say_which_bound() -> None:
    rules = policy(thresholds=[{"metric": "a", "min": 0.5}, {"metric": "b", "max": 0.1}])
    failures = failed_gates(rules, version(a=0.4, b=0.2), Stage.STAGING, None, None)
    assert [f.message for f in failures] == ["a 0.4 is below 0.5", "b 0.2 is above 0.1"]


@pytest.mark.parametrize("target", [Stage.ARCHIVED, Stage.NONE])
def test_archival_is_never_gated(target: Stage) -> None:
    rules = policy(
        thresholds=[{"metric": "accuracy", "min": 0.99}],
        must_beat_production=[{"metric": "accuracy", "min_delta": 0.5}],
        require_approval_for_production=True,
    )
    candidate = version(accuracy=0.1)
    assert failed_gates(rules, candidate, target, version("1.0.0", accuracy=0.9), None) == []
    enforce_policy(rules, candidate, target, version("1.0.0", accuracy=0.9), None)


def test_must_beat_production_is_not_checked_for_staging() -> None:
    rules = policy(must_beat_production=[{"metric": "accuracy"}], require_approval_for_production=True)
    assert gates(rules, version(accuracy=0.1), Stage.STAGING, version("1.0.0", accuracy=0.9)) == []


@pytest.mark.parametrize(
    ("rule", "ours", "theirs", "passes"),
    [
        ({"metric": "m"}, 0.91, 0.90, True),
        ({"metric": "m"}, 0.90, 0.90, True),
        ({"metric": "m"}, 0.89, 0.90, False),
        ({"metric": "m", "min_delta": 0.02}, 0.91, 0.90, False),
        ({"metric": "m", "min_delta": 0.02}, 0.93, 0.90, True),
        ({"metric": "m", "higher_is_better": False}, 0.19, 0.20, True),
        ({"metric": "m", "higher_is_better": False}, 0.21, 0.20, False),
        ({"metric": "m", "higher_is_better": False, "min_delta": 0.05}, 0.18, 0.20, False),
        ({"metric": "m", "higher_is_better": False, "min_delta": 0.05}, 0.10, 0.20, True),
    ],
)
def test_must_beat_production(rule: dict[str, Any], ours: float, theirs: float, passes: bool) -> None:
    rules = policy(must_beat_production=[rule])
    production = version("1.0.0", m=theirs)
    result = gates(rules, version(m=ours), Stage.PRODUCTION, production)
    assert result == ([] if passes else ["must_beat_production:m"])


@pytest.mark.parametrize(
    ("ours", "theirs", "min_delta", "higher_is_better"),
    [(0.85, 0.80, 0.05, True), (0.3, 0.2, 0.1, True), (0.15, 0.2, 0.05, False)],
)
def test_beating_production_by_exactly_min_delta_passes(
    ours: float, theirs: float, min_delta: float, higher_is_better: bool
) -> None:
    # "By at least d": a gain equal to d must pass, even when float subtraction lands a hair below d.
    rules = policy(
        must_beat_production=[{"metric": "m", "min_delta": min_delta, "higher_is_better": higher_is_better}]
    )
    assert gates(rules, version(m=ours), Stage.PRODUCTION, version("1.0.0", m=theirs)) == []


def test_must_beat_production_message_names_the_production_version() -> None:
    rules = policy(must_beat_production=[{"metric": "m", "min_delta": 0.1}])
    [failure] = failed_gates(rules, version(m=0.5), Stage.PRODUCTION, version("1.4.0", m=0.45), None)
    assert "1.4.0" in failure.message
    assert "0.1" in failure.message


def test_with_no_production_there_is_nothing_to_beat() -> None:
    rules = policy(must_beat_production=[{"metric": "m", "min_delta": 0.5}])
    assert gates(rules, version(m=0.0), Stage.PRODUCTION, None) == []


def test_production_lacking_the_metric_is_nothing_to_beat() -> None:
    rules = policy(must_beat_production=[{"metric": "m", "min_delta": 0.5}])
    assert gates(rules, version(m=0.0), Stage.PRODUCTION, version("1.0.0", other=1.0)) == []


def test_candidate_lacking_the_metric_fails_even_with_production_lacking_it() -> None:
    rules = policy(must_beat_production=[{"metric": "m"}])
    failures = failed_gates(rules, version(x=1.0), Stage.PRODUCTION, version("1.0.0", x=0.0), None)
    assert failures == [GateFailure("must_beat_production:m", "metric 'm' is not recorded")]


def test_candidate_is_not_compared_with_itself() -> None:
    rules = policy(must_beat_production=[{"metric": "m", "min_delta": 0.5}])
    assert gates(rules, version("2.0.0", m=0.5), Stage.PRODUCTION, version("2.0.0", m=0.5)) == []


@pytest.mark.parametrize(
    ("approved_by", "passes"),
    [(None, False), ("", False), (REGISTRAR, False), ("arn:aws:iam::1:user/reviewer", True)],
)
def test_approval_for_production(approved_by: str | None, passes: bool) -> None:
    rules = policy(require_approval_for_production=True)
    result = gates(rules, version(), Stage.PRODUCTION, approved_by=approved_by)
    assert result == ([] if passes else ["approval"])


def test_approval_messages() -> None:
    rules = policy(require_approval_for_production=True)
    [missing] = failed_gates(rules, version(), Stage.PRODUCTION, None, None)
    [same] = failed_gates(rules, version(), Stage.PRODUCTION, None, REGISTRAR)
    assert "approved_by" in missing.message
    assert "differ" in same.message


def test_approval_is_not_needed_for_staging_or_when_not_required() -> None:
    assert gates(policy(require_approval_for_production=True), version(), Stage.STAGING) == []
    assert gates(policy(), version(), Stage.PRODUCTION, approved_by=None) == []


def test_failures_come_in_gate_order_thresholds_then_beat_then_approval() -> None:
    rules = policy(
        thresholds=[{"metric": "accuracy", "min": 0.9}, {"metric": "latency", "max": 10}],
        must_beat_production=[{"metric": "accuracy"}],
        require_approval_for_production=True,
    )
    result = gates(rules, version(accuracy=0.5, latency=20), Stage.PRODUCTION, version("1.0.0", accuracy=0.8))
    assert result == ["threshold:accuracy", "threshold:latency", "must_beat_production:accuracy", "approval"]


def test_enforce_policy_names_the_first_gate_and_lists_all_failures() -> None:
    rules = policy(
        thresholds=[{"metric": "accuracy", "min": 0.9}],
        must_beat_production=[{"metric": "accuracy"}],
        require_approval_for_production=True,
    )
    candidate, production = version(accuracy=0.5), version("1.0.0", accuracy=0.8)
    with pytest.raises(PolicyViolation) as caught:
        enforce_policy(rules, candidate, Stage.PRODUCTION, production, None)
    error = caught.value
    assert error.status == 422
    assert error.code == "PolicyViolation"
    assert error.details["gate"] == "threshold:accuracy"
    assert "threshold:accuracy" in error.message
    assert [f["gate"] for f in error.details["failures"]] == [
        "threshold:accuracy",
        "must_beat_production:accuracy",
        "approval",
    ]
    assert all(f["message"] for f in error.details["failures"])


def test_enforce_policy_passes_quietly_when_all_gates_pass() -> None:
    rules = policy(
        thresholds=[{"metric": "accuracy", "min": 0.9}],
        must_beat_production=[{"metric": "accuracy", "min_delta": 0.01}],
        require_approval_for_production=True,
    )
    enforce_policy(
        rules, version(accuracy=0.95), Stage.PRODUCTION, version("1.0.0", accuracy=0.92), "reviewer"
    )


def test_policy_shape_is_validated() -> None:
    with pytest.raises(ValueError, match="needs 'min' or 'max'"):
        policy(thresholds=[{"metric": "accuracy"}])
    with pytest.raises(ValueError, match="greater than or equal"):
        policy(must_beat_production=[{"metric": "accuracy", "min_delta": -0.1}])
