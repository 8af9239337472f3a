"""Canary rollout records in the registry table, beside the model they change.

Items: PK `MODEL#<name>`, SK `ROLLOUT#<started_at>#<rollout_id>`, the record as JSON in `doc`; and
SK `ACTIVE-ROLLOUT`, a claim put only if absent, so two concurrent starts cannot both run.
Access patterns: the latest rollout of a model (Query PK, begins_with ROLLOUT#, descending, limit 1);
one rollout by its key (GetItem); claim and release (conditional PutItem, DeleteItem).
"""

from __future__ import annotations

from typing import Any, Protocol

from botocore.exceptions import ClientError

from lambdaops.errors import RolloutConflict
from lambdaops.schemas import Rollout

_ACTIVE = "ACTIVE-ROLLOUT"


def rollout_key(rollout: Rollout) -> str:
    return f"ROLLOUT#{rollout.started_at}#{rollout.rollout_id}"


class RolloutStore(Protocol):
    def save(self, rollout: Rollout) -> None: ...

    def get(self, model: str, key: str) -> Rollout | None: ...

    def latest(self, model: str) -> Rollout | None: ...

    def claim(self, model: str, rollout_id: str) -> None:
        """Mark a rollout as the model's running one; `RolloutConflict` if another holds the claim."""
        ...

    def release(self, model: str, rollout_id: str) -> None: ...


class DynamoRolloutStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def save(self, rollout: Rollout) -> None:
        self._db.put_item(
            TableName=self._table,
            Item={
                "PK": {"S": f"MODEL#{rollout.model}"},
                "SK": {"S": rollout_key(rollout)},
                "doc": {"S": rollout.model_dump_json()},
            },
        )

    def get(self, model: str, key: str) -> Rollout | None:
        reply = self._db.get_item(
            TableName=self._table, Key={"PK": {"S": f"MODEL#{model}"}, "SK": {"S": key}}, ConsistentRead=True
        )
        return Rollout.model_validate_json(reply["Item"]["doc"]["S"]) if "Item" in reply else None

    def latest(self, model: str) -> Rollout | None:
        reply = self._db.query(
            TableName=self._table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={":pk": {"S": f"MODEL#{model}"}, ":prefix": {"S": "ROLLOUT#"}},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = reply["Items"]
        return Rollout.model_validate_json(items[0]["doc"]["S"]) if items else None

    def claim(self, model: str, rollout_id: str) -> None:
        try:
            self._db.put_item(
                TableName=self._table,
                Item={"PK": {"S": f"MODEL#{model}"}, "SK": {"S": _ACTIVE}, "rollout_id": {"S": rollout_id}},
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise RolloutConflict(
                    f"model '{model}' already has a rollout running", model=model
                ) from error
            raise

    def release(self, model: str, rollout_id: str) -> None:
        try:
            self._db.delete_item(
                TableName=self._table,
                Key={"PK": {"S": f"MODEL#{model}"}, "SK": {"S": _ACTIVE}},
                ConditionExpression="rollout_id = :id",
                ExpressionAttributeValues={":id": {"S": rollout_id}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise  # someone else's claim (or none): nothing of ours to release
