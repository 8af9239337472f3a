"""Traffic splits: what a split may route to (`lambdaops.serving.routing` picks an arm per request)."""

from __future__ import annotations

from collections.abc import Mapping

from lambdaops.core.errors import TrafficSplitInvalid
from lambdaops.registry.schemas import TrafficSplit, VersionRecord
from lambdaops.registry.stages import Stage

TOTAL_WEIGHT = 100


def validate_split(split: TrafficSplit, versions: Mapping[str, VersionRecord | None]) -> None:
    """Every named version exists and is not archived; weights sum to 100; a version appears once."""
    total = sum(route.weight for route in split.routes)
    if total != TOTAL_WEIGHT:
        raise TrafficSplitInvalid(f"route weights sum to {total}, not 100", reason="weights_sum", total=total)
    named = [route.version for route in split.routes]
    if len(set(named)) != len(named):
        raise TrafficSplitInvalid("a version may appear in only one route", reason="duplicate_version")
    for version in named + ([split.shadow.version] if split.shadow else []):
        record = versions.get(version)
        if record is None:
            raise TrafficSplitInvalid(
                f"version {version} does not exist", reason="unknown_version", version=version
            )
        if record.stage == Stage.ARCHIVED:
            raise TrafficSplitInvalid(
                f"version {version} is archived", reason="archived_version", version=version
            )
