"""Choosing the arm (and shadow) of a traffic split for one request."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from lambdaops.registry.schemas import TrafficRoute, TrafficSplit

BUCKETS = 100
"""One bucket per percent of weight."""


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
