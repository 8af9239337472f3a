"""Promotion use cases: stage changes under the model's policy, rollback, and the audit history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lambdaops.core.clock import Clock, utc_now
from lambdaops.core.errors import NoProductionVersion, NothingToRollBack
from lambdaops.core.semver import parse_version
from lambdaops.promotion.gates import enforce_policy
from lambdaops.promotion.schemas import (
    History,
    RollbackRequest,
    RollbackResult,
    StageChangeRequest,
    StageChangeResult,
)
from lambdaops.promotion.traffic import validate_split
from lambdaops.registry.events import STAGE_CHANGED, EventPublisher, stage_changed_event
from lambdaops.registry.lookups import require_model, require_version_of
from lambdaops.registry.schemas import HistoryEntry, TrafficRoute, TrafficSplit, VersionRecord
from lambdaops.registry.stages import Stage, check_move
from lambdaops.registry.store import ModelState, RegistryStore, StageMove

_PRODUCTION_HISTORY_KEPT = 50


def _split_surviving(
    state: ModelState, production_version: str | None, moves: list[StageMove]
) -> TrafficSplit | None:
    """A split outlives a change unless production changes or a version it names is archived.

    Either way requests fall back to the production version, which is what the split was built around.
    """
    split = state.record.traffic
    if split is None or production_version != state.record.production_version:
        return None
    named = {route.version for route in split.routes} | ({split.shadow.version} if split.shadow else set())
    if any(move.to_stage == Stage.ARCHIVED and move.version in named for move in moves):
        return None
    return split


@dataclass(frozen=True)
class Logged:
    """A stage move and why, written to the history in the same transaction."""

    move: StageMove
    action: Literal["stage_change", "rollback"]
    reason: str
    approved_by: str | None = None

    def entry(self, at: str, actor: str) -> HistoryEntry:
        return HistoryEntry(
            at=at,
            actor=actor,
            action=self.action,
            version=self.move.version,
            from_stage=self.move.from_stage,
            to_stage=self.move.to_stage,
            reason=self.reason,
            approved_by=self.approved_by,
        )


class Promotion:
    def __init__(self, store: RegistryStore, events: EventPublisher, clock: Clock = utc_now) -> None:
        self._store = store
        self._events = events
        self._clock = clock

    def change_stage(
        self, name: str, version: str, request: StageChangeRequest, actor: str
    ) -> StageChangeResult:
        parse_version(version)
        state = require_model(self._store, name)
        candidate = require_version_of(self._store, state, version)
        check_move(version, candidate.stage, request.stage)
        self._enforce_gates(state, candidate, request)
        now = self._clock()
        production = state.record.production_version
        history = list(state.production_history)
        moves: list[Logged] = []
        if candidate.stage == Stage.PRODUCTION:  # retiring production leaves the model without one
            history.append(version)
            production = None
        if request.stage == Stage.PRODUCTION:
            if production is not None:
                # The displaced version is archived in the same atomic write.
                displaced = StageMove(production, Stage.PRODUCTION, Stage.ARCHIVED)
                moves.append(Logged(displaced, "stage_change", f"replaced by {version}"))
                history.append(production)
            production = version
        moved = StageMove(version, candidate.stage, request.stage)
        moves.append(Logged(moved, "stage_change", request.reason, request.approved_by))
        staging = [v for v in state.record.staging_versions if v != version]
        if request.stage == Stage.STAGING:
            staging.append(version)
        traffic = _split_surviving(state, production, [logged.move for logged in moves])
        self._commit(state, now, actor, production, staging, history, moves, traffic)
        return StageChangeResult(version=version, stage=request.stage, previous_stage=candidate.stage)

    def rollback(self, name: str, request: RollbackRequest, actor: str) -> RollbackResult:
        """Return production to the version that held it before; the current one is archived."""
        state = require_model(self._store, name)
        current = state.record.production_version
        history = [v for v in state.production_history if v != current]
        if not history:
            raise NothingToRollBack(
                f"model '{name}' has no earlier production version to roll back to", model=name
            )
        target = history.pop()
        restored = require_version_of(self._store, state, target)
        moves: list[Logged] = []
        if current is not None:
            moves.append(
                Logged(StageMove(current, Stage.PRODUCTION, Stage.ARCHIVED), "rollback", request.reason)
            )
        moves.append(Logged(StageMove(target, restored.stage, Stage.PRODUCTION), "rollback", request.reason))
        staging = [v for v in state.record.staging_versions if v != target]
        self._commit(state, self._clock(), actor, target, staging, history, moves, traffic=None)
        return RollbackResult(production_version=target, rolled_back_from=current)

    def _enforce_gates(
        self, state: ModelState, candidate: VersionRecord, request: StageChangeRequest
    ) -> None:
        production_version = state.record.production_version
        production = (
            self._store.get_version(state.record.name, production_version)
            if production_version and request.stage == Stage.PRODUCTION
            else None
        )
        enforce_policy(state.record.policy, candidate, request.stage, production, request.approved_by)

    def get_traffic(self, name: str) -> TrafficSplit:
        """The split in force; without one, production takes everything."""
        record = require_model(self._store, name).record
        if record.traffic is not None:
            return record.traffic
        if record.production_version is None:
            raise NoProductionVersion(
                f"model '{name}' has no traffic split and no production version", model=name
            )
        return TrafficSplit(
            routes=[TrafficRoute(version=record.production_version, weight=100, variant="production")]
        )

    def set_traffic(self, name: str, split: TrafficSplit) -> TrafficSplit:
        """Validate the split against the versions as read, and write it only if nothing changed since."""
        state = require_model(self._store, name)
        named = {route.version for route in split.routes} | (
            {split.shadow.version} if split.shadow else set()
        )
        validate_split(split, {version: self._store.get_version(name, version) for version in named})
        self._write_traffic(state, split)
        return split

    def replace_traffic(self, name: str, split: TrafficSplit | None) -> None:
        """Write the split (None: production takes everything), atomically with the model's revision."""
        self._write_traffic(require_model(self._store, name), split)

    def _write_traffic(self, state: ModelState, split: TrafficSplit | None) -> None:
        # Conditioned on the revision read before validating: a version archived meanwhile is a 409.
        self._store.commit(state.change(self._clock(), traffic=split))

    def history(self, name: str) -> History:
        require_model(self._store, name)
        return History(items=self._store.history(name))

    def _commit(
        self,
        state: ModelState,
        now: str,
        actor: str,
        production_version: str | None,
        staging: list[str],
        production_history: list[str],
        moves: list[Logged],
        traffic: TrafficSplit | None,
    ) -> None:
        entries = tuple(logged.entry(now, actor) for logged in moves)
        self._store.commit(
            state.change(
                now,
                production_version=production_version,
                staging_versions=tuple(sorted(staging, key=parse_version)),
                production_history=tuple(production_history[-_PRODUCTION_HISTORY_KEPT:]),
                traffic=traffic,
                moves=tuple(logged.move for logged in moves),
                history=entries,
            )
        )
        for entry in entries:
            self._events.publish(STAGE_CHANGED, stage_changed_event(state.record.name, entry))
