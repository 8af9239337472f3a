"""DynamoDB adapter for the registry (keys in `table_keys`).

Access patterns:
- get a model with its stage pointers: GetItem(MODEL#name, META)
- list models by name: Query GSI1 where GSI1PK = MODELS
- get a version: GetItem(MODEL#name, VERSION#padded)
- list a model's versions, newest first, optionally by stage or tag: Query PK, SK begins_with VERSION#
  (descending), with a filter
- a model's history, oldest first: Query PK, SK begins_with HISTORY#
- register / change stage / roll back: one TransactWriteItems that updates META only if its `revision`
  is unchanged, puts or updates the versions and appends history under the next revision.

Immutable fields of a record live in one JSON attribute `doc`; the mutable ones (stage, tags,
description, pointers) are top-level attributes so updates and filters can address them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from lambdaops.aws.dynamodb import av, cancellation_reasons, on_condition_failure, plain, to_item
from lambdaops.aws.faults import is_transient
from lambdaops.aws.table_keys import (
    HISTORY_PREFIX,
    META,
    MODELS,
    VERSION_PREFIX,
    history_sk,
    model_pk,
    version_sk,
)
from lambdaops.core.errors import (
    ConcurrentModification,
    InvalidInput,
    ModelAlreadyExists,
    VersionAlreadyExists,
    VersionNotFound,
)
from lambdaops.registry.schemas import HistoryEntry, ModelRecord, Page, TrafficSplit, VersionRecord
from lambdaops.registry.store import ModelChange, ModelState, StageMove, TagFilter, VersionFilter

_MAX_TOKEN_LENGTH = 2048
_TOKEN_VERSION = 1
_MODEL_DOC_FIELDS = {"name", "description", "tags", "policy", "drift", "created_at", "created_by"}
_VERSION_MUTABLE = {"stage", "stage_changed_at", "tags", "description"}


@dataclass(frozen=True)
class PageListing:
    """One listing that page tokens resume: what it is and the shape of its query's LastEvaluatedKey.

    A token is base64url JSON `{"v": 1, "listing": name, "scope": digest, "key": {...}}`. `scope` is a
    digest of the listing's parameters (model, filters), so a token is refused by any other listing, or by
    the same listing with other filters, rather than resuming it at a key it never returned; `key` must
    have exactly this listing's key attributes, each a string, with its partition's fixed values, so
    DynamoDB is never handed a start key it rejects. Not signed: a client who forges a token can only start
    its own listing at a key of its choosing, which it can do by paging anyway.
    """

    name: str
    parameters: Mapping[str, str | None]
    fixed: Mapping[str, str]
    """Key attributes whose value the query fixes (its partition, `META`)."""
    prefixed: Mapping[str, str]
    """The other key attributes, each with the prefix its values start with ("" for any string)."""

    @property
    def key_names(self) -> tuple[str, ...]:
        return (*self.fixed, *self.prefixed)

    def _scope(self) -> str:
        canonical = json.dumps({"listing": self.name, **self.parameters}, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def token(self, last_key: Mapping[str, Any]) -> str:
        """The token that resumes this listing after `last_key` (a DynamoDB key, attribute values typed)."""
        document = {"v": _TOKEN_VERSION, "listing": self.name, "scope": self._scope(), "key": dict(last_key)}
        return base64.urlsafe_b64encode(json.dumps(document, sort_keys=True).encode()).decode().rstrip("=")

    def start_key(self, token: str) -> dict[str, Any]:
        """The DynamoDB key a token of this listing resumes after; any other token is `InvalidInput`."""
        invalid = InvalidInput("next_token is not a token of this listing", field="next_token")
        if len(token) > _MAX_TOKEN_LENGTH:
            raise invalid
        try:
            document = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (binascii.Error, ValueError, RecursionError) as error:
            raise invalid from error
        if not (
            isinstance(document, dict)
            and document.keys() == {"v", "listing", "scope", "key"}
            and document["v"] == _TOKEN_VERSION
            and document["listing"] == self.name
            and document["scope"] == self._scope()
            and self._is_key(document["key"])
        ):
            raise invalid
        key: dict[str, Any] = document["key"]
        return key

    def _is_key(self, key: Any) -> bool:
        if not (isinstance(key, dict) and set(key) == set(self.key_names)):
            return False
        values = {}
        for name, value in key.items():
            if not (isinstance(value, dict) and list(value) == ["S"] and isinstance(value["S"], str)):
                return False
            values[name] = value["S"]
        return all(values[name] == fixed for name, fixed in self.fixed.items()) and all(
            values[name].startswith(prefix) for name, prefix in self.prefixed.items()
        )


class DynamoRegistryStore:
    """`RegistryStore` over a DynamoDB table."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def create_model(self, record: ModelRecord) -> None:
        values = {
            "PK": model_pk(record.name),
            "SK": META,
            "GSI1PK": MODELS,
            "GSI1SK": record.name,
            "doc": json.dumps(record.model_dump(mode="json", include=_MODEL_DOC_FIELDS)),
            "revision": 0,
            "staging_versions": [],
            "production_history": [],
        }
        exists = ModelAlreadyExists(f"model '{record.name}' already exists", model=record.name)
        with on_condition_failure(lambda: exists):
            self._db.put_item(
                TableName=self._table, Item=to_item(values), ConditionExpression="attribute_not_exists(PK)"
            )

    def get_model(self, name: str) -> ModelState | None:
        reply = self._db.get_item(
            TableName=self._table, Key=to_item({"PK": model_pk(name), "SK": META}), ConsistentRead=True
        )
        return _model_state(plain(reply["Item"])) if "Item" in reply else None

    def list_models(self, where: TagFilter, limit: int, token: str | None) -> Page[ModelRecord]:
        # A model's tags live in its JSON document, out of a filter expression's reach: kept here.
        listing = PageListing(
            "models",
            {"tag_key": where.tag_key, "tag_value": where.tag_value},
            fixed={"GSI1PK": MODELS, "SK": META},
            prefixed={"PK": model_pk(""), "GSI1SK": ""},
        )
        items, next_token = self._query(
            {
                "IndexName": "GSI1",
                "KeyConditionExpression": "GSI1PK = :models",
                "ExpressionAttributeValues": {":models": av(MODELS)},
            },
            limit,
            token,
            listing,
            keep=None if where.tag_key is None else lambda item: where.keeps(_model_tags(item)),
        )
        return Page[ModelRecord](items=[_model_state(i).record for i in items], next_token=next_token)

    def get_version(self, name: str, version: str) -> VersionRecord | None:
        reply = self._db.get_item(
            TableName=self._table,
            Key=to_item({"PK": model_pk(name), "SK": version_sk(version)}),
            ConsistentRead=True,
        )
        return _version_record(plain(reply["Item"])) if "Item" in reply else None

    def list_versions(
        self, name: str, where: VersionFilter, limit: int, token: str | None
    ) -> Page[VersionRecord]:
        names: dict[str, str] = {}
        values: dict[str, Any] = {":pk": av(model_pk(name)), ":prefix": av(VERSION_PREFIX)}
        filters: list[str] = []
        if where.stage is not None:
            names["#stage"] = "stage"
            values[":stage"] = av(where.stage.value)
            filters.append("#stage = :stage")
        if where.tag_key is not None:
            names["#tags"], names["#tag"] = "tags", where.tag_key
            if where.tag_value is None:
                filters.append("attribute_exists(#tags.#tag)")
            else:
                values[":tag"] = av(where.tag_value)
                filters.append("#tags.#tag = :tag")
        query: dict[str, Any] = {
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        if filters:
            query["FilterExpression"] = " AND ".join(filters)
            query["ExpressionAttributeNames"] = names
        listing = PageListing(
            "versions",
            {"model": name, "stage": where.stage and where.stage.value}
            | {"tag_key": where.tag_key, "tag_value": where.tag_value},
            fixed={"PK": model_pk(name)},
            prefixed={"SK": VERSION_PREFIX},
        )
        items, next_token = self._query(query, limit, token, listing)
        return Page[VersionRecord](items=[_version_record(i) for i in items], next_token=next_token)

    def update_version(
        self, name: str, version: str, tags: dict[str, str] | None, description: str | None
    ) -> VersionRecord:
        sets, values = [], {}
        if tags is not None:
            sets.append("tags = :tags")
            values[":tags"] = av(tags)
        if description is not None:
            sets.append("description = :description")
            values[":description"] = av(description)
        missing = VersionNotFound(f"model '{name}' has no version {version}", version=version)
        with on_condition_failure(lambda: missing):
            reply = self._db.update_item(
                TableName=self._table,
                Key=to_item({"PK": model_pk(name), "SK": version_sk(version)}),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        return _version_record(plain(reply["Attributes"]))

    def commit(self, change: ModelChange) -> None:
        """One transaction: the model's pointers (if its revision is unchanged), a new version, stage
        moves (if each version is still in its expected stage) and history under the next revision."""
        revision = change.expected_revision + 1
        writes: list[dict[str, Any]] = [{"Update": self._pointers_update(change, revision)}]
        if change.new_version is not None:
            writes.append({"Put": self._new_version_put(change.new_version)})
        writes += [{"Update": self._move_update(change, move)} for move in change.moves]
        writes += [
            {"Put": self._history_put(change.model, revision, index, entry)}
            for index, entry in enumerate(change.history)
        ]
        try:
            self._db.transact_write_items(TransactItems=writes)
        except ClientError as error:
            reasons = cancellation_reasons(error)
            if reasons is None or is_transient(error):  # a throttled transaction is a 503, not a conflict
                raise
            raise _refusal(change, reasons) from error

    def history(self, name: str) -> list[HistoryEntry]:
        entries: list[HistoryEntry] = []
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {":pk": av(model_pk(name)), ":prefix": av(HISTORY_PREFIX)},
            "ConsistentRead": True,
        }
        while True:
            reply = self._db.query(**query)
            entries += [HistoryEntry.model_validate_json(plain(i)["doc"]) for i in reply["Items"]]
            if "LastEvaluatedKey" not in reply:
                return entries
            query["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    def _pointers_update(self, change: ModelChange, revision: int) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Key": to_item({"PK": model_pk(change.model), "SK": META}),
            "ConditionExpression": "revision = :expected",
            "UpdateExpression": "SET revision = :revision, production_version = :production, "
            "staging_versions = :staging, latest_version = :latest, "
            "production_history = :production_history, traffic = :traffic",
            "ExpressionAttributeValues": to_item(
                {
                    ":expected": change.expected_revision,
                    ":revision": revision,
                    ":production": change.production_version,
                    ":staging": list(change.staging_versions),
                    ":latest": change.latest_version,
                    ":production_history": list(change.production_history),
                    ":traffic": change.traffic.model_dump_json() if change.traffic else None,
                }
            ),
        }

    def _new_version_put(self, record: VersionRecord) -> dict[str, Any]:
        values = {
            "PK": model_pk(record.model),
            "SK": version_sk(record.version),
            "doc": json.dumps(record.model_dump(mode="json", exclude=_VERSION_MUTABLE)),
            "stage": record.stage.value,
            "stage_changed_at": record.stage_changed_at,
            "tags": record.tags,
            "description": record.description,
        }
        return {
            "TableName": self._table,
            "Item": to_item(values),
            "ConditionExpression": "attribute_not_exists(PK)",
        }

    def _move_update(self, change: ModelChange, move: StageMove) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Key": to_item({"PK": model_pk(change.model), "SK": version_sk(move.version)}),
            "ConditionExpression": "#stage = :from",
            "UpdateExpression": "SET #stage = :to, stage_changed_at = :at",
            "ExpressionAttributeNames": {"#stage": "stage"},
            "ExpressionAttributeValues": to_item(
                {":from": move.from_stage.value, ":to": move.to_stage.value, ":at": change.at}
            ),
        }

    def _history_put(self, model: str, revision: int, index: int, entry: HistoryEntry) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Item": to_item(
                {"PK": model_pk(model), "SK": history_sk(revision, index), "doc": entry.model_dump_json()}
            ),
            "ConditionExpression": "attribute_not_exists(PK)",
        }

    def _query(
        self,
        query: dict[str, Any],
        limit: int,
        token: str | None,
        listing: PageListing,
        keep: Callable[[dict[str, Any]], bool] | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Fill a page of `limit` items across filtered DynamoDB pages (by the query's filter expression,
        then `keep` on plain items); the token resumes after the last."""
        request = {"TableName": self._table, **query}
        if token is not None:
            request["ExclusiveStartKey"] = listing.start_key(token)
        filtered = "FilterExpression" in request or keep is not None
        found: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (as stored, plain)
        while len(found) < limit:
            request["Limit"] = max(limit, 25) if filtered else limit - len(found)
            reply = self._db.query(**request)
            items = ((item, plain(item)) for item in reply["Items"])
            found += [pair for pair in items if keep is None or keep(pair[1])]
            if "LastEvaluatedKey" not in reply:
                if len(found) <= limit:
                    return [item for _, item in found], None
                break
            request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
        page = found[:limit]
        last = page[-1][0]
        return [item for _, item in page], listing.token({k: last[k] for k in listing.key_names})


def _refusal(change: ModelChange, reasons: list[str | None]) -> Exception:
    """Why a commit was cancelled: a version that already exists, else someone changed the model first."""
    # The revision check comes first: a stale writer must re-read, even if its version clashes too.
    stale = not reasons or reasons[0] == "ConditionalCheckFailed"
    if not stale and change.new_version is not None and reasons[1:2] == ["ConditionalCheckFailed"]:
        version = change.new_version.version
        return VersionAlreadyExists(f"model '{change.model}' already has version {version}", version=version)
    return ConcurrentModification(
        f"model '{change.model}' was changed by another request; read it again and retry", model=change.model
    )


def _model_state(item: dict[str, Any]) -> ModelState:
    doc = json.loads(item["doc"])
    record = ModelRecord(
        **doc,
        production_version=item.get("production_version"),
        staging_versions=list(item.get("staging_versions", [])),
        latest_version=item.get("latest_version"),
        traffic=TrafficSplit.model_validate_json(item["traffic"]) if item.get("traffic") else None,
    )
    return ModelState(
        record=record,
        revision=int(item["revision"]),
        production_history=tuple(item.get("production_history", [])),
    )


def _model_tags(item: dict[str, Any]) -> dict[str, str]:
    tags: dict[str, str] = json.loads(item["doc"]).get("tags", {})
    return tags


def _version_record(item: dict[str, Any]) -> VersionRecord:
    return VersionRecord(
        **json.loads(item["doc"]),
        stage=item["stage"],
        stage_changed_at=item["stage_changed_at"],
        tags=item.get("tags", {}),
        description=item.get("description", ""),
    )
