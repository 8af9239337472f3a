"""DynamoDB adapter for the registry: one table, items keyed by model.

Single-table layout (all keys strings):

| item      | PK            | SK                                | GSI1PK / GSI1SK |
|-----------|---------------|-----------------------------------|-----------------|
| model     | MODEL#<name>  | META                              | MODELS / <name> |
| version   | MODEL#<name>  | VERSION#<zero-padded semver>      |                 |
| history   | MODEL#<name>  | HISTORY#<revision:012>#<n:02>     |                 |

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
import json
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from lambdaops.errors import (
    ConcurrentModification,
    InvalidInput,
    ModelAlreadyExists,
    VersionAlreadyExists,
    VersionNotFound,
)
from lambdaops.model_changes import ModelChange, ModelState, VersionFilter
from lambdaops.schemas import HistoryEntry, ModelRecord, Page, TrafficSplit, VersionRecord
from lambdaops.semver import parse_version

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

_MAX_TOKEN_LENGTH = 2048
_MODEL_DOC_FIELDS = {"name", "description", "tags", "policy", "drift", "created_at", "created_by"}
_VERSION_MUTABLE = {"stage", "stage_changed_at", "tags", "description"}


def _pk(name: str) -> str:
    return f"MODEL#{name}"


def _version_sk(version: str) -> str:
    return f"VERSION#{parse_version(version).sort_key}"


def _av(value: Any) -> dict[str, Any]:
    return _serializer.serialize(value)  # type: ignore[no-any-return]


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def encode_token(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    """The DynamoDB key a page token encodes; anything this API did not issue is `InvalidInput`."""
    invalid = InvalidInput("next_token is not a token this API issued", field="next_token")
    if len(token) > _MAX_TOKEN_LENGTH:
        raise invalid
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, RecursionError) as error:
        raise invalid from error
    if not (
        isinstance(key, dict)
        and key
        and all(isinstance(k, str) and isinstance(v, dict) and list(v) == ["S"] for k, v in key.items())
        and all(isinstance(v["S"], str) for v in key.values())
    ):
        raise invalid
    return key


class DynamoRegistryStore:
    """`RegistryStore` over a DynamoDB table."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def create_model(self, record: ModelRecord) -> None:
        item = {
            "PK": _pk(record.name),
            "SK": "META",
            "GSI1PK": "MODELS",
            "GSI1SK": record.name,
            "doc": json.dumps(record.model_dump(mode="json", include=_MODEL_DOC_FIELDS)),
            "revision": 0,
            "staging_versions": [],
            "production_history": [],
        }
        try:
            self._db.put_item(
                TableName=self._table,
                Item={key: _av(value) for key, value in item.items()},
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ModelAlreadyExists(
                    f"model '{record.name}' already exists", model=record.name
                ) from error
            raise

    def get_model(self, name: str) -> ModelState | None:
        reply = self._db.get_item(
            TableName=self._table, Key={"PK": _av(_pk(name)), "SK": _av("META")}, ConsistentRead=True
        )
        return _model_state(_plain(reply["Item"])) if "Item" in reply else None

    def list_models(self, limit: int, token: str | None) -> Page[ModelRecord]:
        items, next_token = self._query(
            {
                "IndexName": "GSI1",
                "KeyConditionExpression": "GSI1PK = :models",
                "ExpressionAttributeValues": {":models": _av("MODELS")},
            },
            limit,
            token,
            key_names=("PK", "SK", "GSI1PK", "GSI1SK"),
        )
        return Page[ModelRecord](items=[_model_state(i).record for i in items], next_token=next_token)

    def get_version(self, name: str, version: str) -> VersionRecord | None:
        reply = self._db.get_item(
            TableName=self._table,
            Key={"PK": _av(_pk(name)), "SK": _av(_version_sk(version))},
            ConsistentRead=True,
        )
        return _version_record(_plain(reply["Item"])) if "Item" in reply else None

    def list_versions(
        self, name: str, where: VersionFilter, limit: int, token: str | None
    ) -> Page[VersionRecord]:
        names: dict[str, str] = {}
        values: dict[str, Any] = {":pk": _av(_pk(name)), ":prefix": _av("VERSION#")}
        filters: list[str] = []
        if where.stage is not None:
            names["#stage"] = "stage"
            values[":stage"] = _av(where.stage.value)
            filters.append("#stage = :stage")
        if where.tag_key is not None:
            names["#tags"], names["#tag"] = "tags", where.tag_key
            if where.tag_value is None:
                filters.append("attribute_exists(#tags.#tag)")
            else:
                values[":tag"] = _av(where.tag_value)
                filters.append("#tags.#tag = :tag")
        query: dict[str, Any] = {
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        if filters:
            query["FilterExpression"] = " AND ".join(filters)
            query["ExpressionAttributeNames"] = names
        items, next_token = self._query(query, limit, token, key_names=("PK", "SK"))
        return Page[VersionRecord](items=[_version_record(i) for i in items], next_token=next_token)

    def update_version(
        self, name: str, version: str, tags: dict[str, str] | None, description: str | None
    ) -> VersionRecord:
        sets, values = [], {}
        if tags is not None:
            sets.append("tags = :tags")
            values[":tags"] = _av(tags)
        if description is not None:
            sets.append("description = :description")
            values[":description"] = _av(description)
        try:
            reply = self._db.update_item(
                TableName=self._table,
                Key={"PK": _av(_pk(name)), "SK": _av(_version_sk(version))},
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise VersionNotFound(f"model '{name}' has no version {version}", version=version) from error
            raise
        return _version_record(_plain(reply["Attributes"]))

    def commit(self, change: ModelChange) -> None:
        pk = _av(_pk(change.model))
        new_revision = change.expected_revision + 1
        writes: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {"PK": pk, "SK": _av("META")},
                    "ConditionExpression": "revision = :expected",
                    "UpdateExpression": "SET revision = :revision, production_version = :production, "
                    "staging_versions = :staging, latest_version = :latest, "
                    "production_history = :production_history, traffic = :traffic",
                    "ExpressionAttributeValues": {
                        ":expected": _av(change.expected_revision),
                        ":revision": _av(new_revision),
                        ":production": _av(change.production_version),
                        ":staging": _av(list(change.staging_versions)),
                        ":latest": _av(change.latest_version),
                        ":production_history": _av(list(change.production_history)),
                        ":traffic": _av(change.traffic.model_dump_json() if change.traffic else None),
                    },
                }
            }
        ]
        if change.new_version is not None:
            writes.append({"Put": self._new_version_put(change.new_version)})
        for move in change.moves:
            writes.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"PK": pk, "SK": _av(_version_sk(move.version))},
                        "ConditionExpression": "#stage = :from",
                        "UpdateExpression": "SET #stage = :to, stage_changed_at = :at",
                        "ExpressionAttributeNames": {"#stage": "stage"},
                        "ExpressionAttributeValues": {
                            ":from": _av(move.from_stage.value),
                            ":to": _av(move.to_stage.value),
                            ":at": _av(change.at),
                        },
                    }
                }
            )
        for index, entry in enumerate(change.history):
            writes.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            "PK": pk,
                            "SK": _av(f"HISTORY#{new_revision:012d}#{index:02d}"),
                            "doc": _av(entry.model_dump_json()),
                        },
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
            )
        try:
            self._db.transact_write_items(TransactItems=writes)
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            # The revision check comes first: a stale writer must re-read, even if its version clashes too.
            stale = not reasons or reasons[0] == "ConditionalCheckFailed"
            if not stale and change.new_version is not None and reasons[1:2] == ["ConditionalCheckFailed"]:
                version = change.new_version.version
                raise VersionAlreadyExists(
                    f"model '{change.model}' already has version {version}", version=version
                ) from error
            raise ConcurrentModification(
                f"model '{change.model}' was changed by another request; read it again and retry",
                model=change.model,
            ) from error

    def history(self, name: str) -> list[HistoryEntry]:
        entries: list[HistoryEntry] = []
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {":pk": _av(_pk(name)), ":prefix": _av("HISTORY#")},
            "ConsistentRead": True,
        }
        while True:
            reply = self._db.query(**query)
            entries += [HistoryEntry.model_validate_json(_plain(i)["doc"]) for i in reply["Items"]]
            if "LastEvaluatedKey" not in reply:
                return entries
            query["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    def _new_version_put(self, record: VersionRecord) -> dict[str, Any]:
        item = {
            "PK": _pk(record.model),
            "SK": _version_sk(record.version),
            "doc": json.dumps(record.model_dump(mode="json", exclude=_VERSION_MUTABLE)),
            "stage": record.stage.value,
            "stage_changed_at": record.stage_changed_at,
            "tags": record.tags,
            "description": record.description,
        }
        return {
            "TableName": self._table,
            "Item": {key: _av(value) for key, value in item.items()},
            "ConditionExpression": "attribute_not_exists(PK)",
        }

    def _query(
        self, query: dict[str, Any], limit: int, token: str | None, key_names: tuple[str, ...]
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Fill a page of `limit` items across filtered DynamoDB pages; the token resumes after the last."""
        request = {"TableName": self._table, **query}
        if token is not None:
            request["ExclusiveStartKey"] = decode_token(token)
        raw: list[dict[str, Any]] = []
        while len(raw) < limit:
            request["Limit"] = limit - len(raw) if "FilterExpression" not in request else max(limit, 25)
            reply = self._db.query(**request)
            raw += reply["Items"]
            if "LastEvaluatedKey" not in reply:
                if len(raw) <= limit:
                    return [_plain(i) for i in raw], None
                break
            request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
        page = raw[:limit]
        last = page[-1]
        return [_plain(i) for i in page], encode_token({k: last[k] for k in key_names if k in last})


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


def _version_record(item: dict[str, Any]) -> VersionRecord:
    return VersionRecord(
        **json.loads(item["doc"]),
        stage=item["stage"],
        stage_changed_at=item["stage_changed_at"],
        tags=item.get("tags", {}),
        description=item.get("description", ""),
    )
