"""Promotion gates: the checks a model's policy puts on moving a version up."""

from __future__ import annotations

import math
from dataclasses import dataclass

from lambdaops.core.errors import PolicyViolation
from lambdaops.registry.policies import PromotionPolicy
from lambdaops.registry.schemas import VersionRecord
from lambdaops.registry.stages import Stage


@dataclass(frozen=True)
class GateFailure:
    gate: str
    message: str


def _threshold_failures(policy: PromotionPolicy, candidate: VersionRecord) -> list[GateFailure]:
    failures = []
    for threshold in policy.thresholds:
        gate, value = f"threshold:{threshold.metric}", candidate.metrics.get(threshold.metric)
        if value is None:
            failures.append(GateFailure(gate, f"metric '{threshold.metric}' is not recorded"))
        elif threshold.min is not None and value < threshold.min:
            failures.append(GateFailure(gate, f"{threshold.metric} {value} is below {threshold.min}"))
        elif threshold.max is not None and value > threshold.max:
            failures.append(GateFailure(gate, f"{threshold.metric} {value} is above {threshold.max}"))
    return failures


def _beat_production_failures(
    policy: PromotionPolicy, candidate: VersionRecord, production: VersionRecord | None
) -> list[GateFailure]:
    if production is None or production.version == candidate.version:
        return []
    failures = []
    for rule in policy.must_beat_production:
        gate = f"must_beat_production:{rule.metric}"
        ours, theirs = candidate.metrics.get(rule.metric), production.metrics.get(rule.metric)
        if ours is None:
            failures.append(GateFailure(gate, f"metric '{rule.metric}' is not recorded"))
            continue
        if theirs is None:
            continue  # nothing to beat
        gain = ours - theirs if rule.higher_is_better else theirs - ours
        # Metrics are decimals stored as floats: beating by exactly min_delta must count.
        if gain < rule.min_delta and not math.isclose(gain, rule.min_delta, rel_tol=1e-9, abs_tol=1e-12):
            failures.append(
                GateFailure(
                    gate,
                    f"{rule.metric} {ours} does not beat production {production.version}'s "
                    f"{theirs} by at least {rule.min_delta}",
                )
            )
    return failures


def _approval_failures(
    policy: PromotionPolicy, candidate: VersionRecord, approved_by: str | None
) -> list[GateFailure]:
    if not policy.require_approval_for_production:
        return []
    if not approved_by:
        return [GateFailure("approval", "promotion to production needs 'approved_by'")]
    if approved_by == candidate.created_by:
        return [GateFailure("approval", "the approver must differ from the actor who registered the version")]
    return []


def failed_gates(
    policy: PromotionPolicy,
    candidate: VersionRecord,
    target: Stage,
    production: VersionRecord | None,
    approved_by: str | None,
) -> list[GateFailure]:
    """Every gate the move fails; thresholds guard staging and production, the rest production only."""
    if target not in (Stage.STAGING, Stage.PRODUCTION):
        return []
    failures = _threshold_failures(policy, candidate)
    if target == Stage.PRODUCTION:
        failures += _beat_production_failures(policy, candidate, production)
        failures += _approval_failures(policy, candidate, approved_by)
    return failures


def enforce_policy(
    policy: PromotionPolicy,
    candidate: VersionRecord,
    target: Stage,
    production: VersionRecord | None,
    approved_by: str | None,
) -> None:
    failures = failed_gates(policy, candidate, target, production, approved_by)
    if failures:
        raise PolicyViolation(
            f"gate {failures[0].gate} refused: {failures[0].message}",
            gate=failures[0].gate,
            failures=[{"gate": f.gate, "message": f.message} for f in failures],
        )
