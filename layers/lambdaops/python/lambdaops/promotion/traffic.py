"""Traffic splits: what a split may route to (`lambdaops.serving.routing` picks an arm per request)."""

from __future__ import annotations

from collections.abc import Mapping

from lambdaops.core.errors import TrafficSplitInvalid
from lambdaops.registry.schemas import TrafficSplit, VersionRecord
from lambdaops.registry.stages import Stage

TOTAL_WEIGHT = 100
ROUTABLE_STAGES = frozenset({Stage.STAGING, Stage.PRODUCTION})
"""A route (any weight) serves its version's answers, so it must have passed the gates into staging."""


def validate_split(split: TrafficSplit, versions: Mapping[str, VersionRecord | None]) -> None:
    """Weights sum to 100; a version and a variant name appear once; every named version exists.

    A route may send traffic only to a version in staging or production: a version in `none` has passed
    no gate, and a split must not serve it where promotion would refuse it. A shadow's answers are never
    returned, so it may be any version that is not archived.
    """
    total = sum(route.weight for route in split.routes)
    if total != TOTAL_WEIGHT:
        raise TrafficSplitInvalid(f"route weights sum to {total}, not 100", reason="weights_sum", total=total)
    named = [route.version for route in split.routes]
    if len(set(named)) != len(named):
        raise TrafficSplitInvalid("a version may appear in only one route", reason="duplicate_version")
    # Metrics and canaries tell arms apart by variant, which defaults to the version string.
    variants = [route.variant or route.version for route in split.routes]
    repeated = sorted({variant for variant in variants if variants.count(variant) > 1})
    if repeated:
        raise TrafficSplitInvalid(
            f"a variant name may appear in only one route: {', '.join(repeated)}",
            reason="duplicate_variant",
            variants=repeated,
        )
    shadow = [split.shadow.version] if split.shadow else []
    for version, routed in [(v, True) for v in named] + [(v, False) for v in shadow]:
        record = versions.get(version)
        if record is None:
            raise TrafficSplitInvalid(
                f"version {version} does not exist", reason="unknown_version", version=version
            )
        if record.stage == Stage.ARCHIVED:
            raise TrafficSplitInvalid(
                f"version {version} is archived", reason="archived_version", version=version
            )
        if routed and record.stage not in ROUTABLE_STAGES:
            raise TrafficSplitInvalid(
                f"version {version} is in stage {record.stage}; a route needs staging or production",
                reason="unstaged_version",
                version=version,
                stage=str(record.stage),
            )
