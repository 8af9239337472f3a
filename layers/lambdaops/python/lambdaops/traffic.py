"""Traffic splits: validating them, and choosing the arm (and shadow) for one request."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass

from lambdaops.errors import TrafficSplitInvalid
from lambdaops.schemas import TrafficRoute, TrafficSplit, VersionRecord
from lambdaops.stages import Stage

BUCKETS = 100


def validate_split(split: TrafficSplit, versions: Mapping[str, VersionRecord | None]) -> None:
    """Every named version exists and is not archived; weights sum to 100; a version appears once."""
    total = sum(route.weight for route in split.routes)
    if total != BUCKETS:
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


def bucket_of(model: str, routing_key: str) -> int:
    """A stable bucket in [0, 100) for a routing key, so one caller always lands on the same arm."""
    digest = hashlib.sha256(f"{model}\x00{routing_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


@dataclass(frozen=True)
class Choice:
    version: str
    variant: str


def choose_route(split: TrafficSplit, model: str, routing_key: str | None, rng: random.Random) -> Choice:
    """The arm for this request: sticky by `routing_key` when given, else drawn at random."""
    point = bucket_of(model, routing_key) if routing_key is not None else rng.randrange(BUCKETS)
    upper = 0
    chosen: TrafficRoute = split.routes[-1]
    for route in split.routes:
        upper += route.weight
        if point < upper:
            chosen = route
            break
    return Choice(version=chosen.version, variant=chosen.variant or chosen.version)


def choose_shadow(split: TrafficSplit, rng: random.Random) -> str | None:
    """The shadow version, for the sampled share of requests."""
    if split.shadow is not None and rng.random() < split.shadow.sample_rate:
        return split.shadow.version
    return None
