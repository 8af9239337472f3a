"""The stage machine of a model version."""

from __future__ import annotations

from enum import StrEnum

from lambdaops.core.errors import IllegalTransition


class Stage(StrEnum):
    NONE = "none"
    STAGING = "staging"
    PRODUCTION = "production"
    ARCHIVED = "archived"


# Archiving is how a version is retired from any stage, since nothing is ever deleted.
ALLOWED_MOVES: dict[Stage, frozenset[Stage]] = {
    Stage.NONE: frozenset({Stage.STAGING, Stage.ARCHIVED}),
    Stage.STAGING: frozenset({Stage.PRODUCTION, Stage.ARCHIVED}),
    Stage.PRODUCTION: frozenset({Stage.ARCHIVED}),
    Stage.ARCHIVED: frozenset({Stage.STAGING}),
}


def check_move(version: str, current: Stage, target: Stage) -> None:
    if target not in ALLOWED_MOVES[current]:
        allowed = sorted(ALLOWED_MOVES[current])
        raise IllegalTransition(
            f"version {version} cannot move from {current} to {target}",
            version=version,
            from_stage=current.value,
            to_stage=target.value,
            allowed=allowed,
        )
