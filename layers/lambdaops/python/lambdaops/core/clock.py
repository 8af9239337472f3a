"""Time as the API shows it: UTC, ISO 8601 to the millisecond, with a `Z`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], str]
"""Now, as `iso_z` writes it; injected so tests control time."""


def iso_z(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> str:
    return iso_z(datetime.now(UTC))


def parse_iso(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))
