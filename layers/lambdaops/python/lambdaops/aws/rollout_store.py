"""DynamoDB adapter for canary rollout records, beside the model they change (keys in `table_keys`).

Items: a rollout at SK `ROLLOUT#<started_at>#<rollout_id>`, the record as JSON in `doc`; and SK
`ACTIVE-ROLLOUT`, a claim put only if absent, so two concurrent starts cannot both run.
Access patterns: the latest rollout of a model (Query PK, begins_with ROLLOUT#, descending, limit 1);
one rollout by its ref (GetItem); claim and release (conditional PutItem, DeleteItem).
A record that no longer validates is read as a failed rollout (`unreadable_rollout`), never an error.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from lambdaops.aws.dynamodb import on_condition_failure, to_item
from lambdaops.aws.table_keys import ACTIVE_ROLLOUT, ROLLOUT_PREFIX, model_pk, rollout_sk
from lambdaops.core.errors import RolloutConflict
from lambdaops.promotion.rollouts import rollout_ref
from lambdaops.promotion.schemas import Rollout, unreadable_rollout


def _decode(model: str, item: dict[str, Any]) -> Rollout:
    """The stored rollout; one that no longer validates comes back failed, so it cannot block the model."""
    doc = item["doc"]["S"]
    try:
        return Rollout.model_validate_json(doc)
    except ValidationError as error:
        first = error.errors()[0]
        why = f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"
        return unreadable_rollout(model, item["SK"]["S"].removeprefix(ROLLOUT_PREFIX), doc, why)


class DynamoRolloutStore:
    """`RolloutStore` over the registry table."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def save(self, rollout: Rollout) -> None:
        self._db.put_item(
            TableName=self._table,
            Item=to_item(
                {
                    "PK": model_pk(rollout.model),
                    "SK": rollout_sk(rollout_ref(rollout)),
                    "doc": rollout.model_dump_json(),
                }
            ),
        )

    def get(self, model: str, ref: str) -> Rollout | None:
        reply = self._db.get_item(
            TableName=self._table,
            Key=to_item({"PK": model_pk(model), "SK": rollout_sk(ref)}),
            ConsistentRead=True,
        )
        return _decode(model, reply["Item"]) if "Item" in reply else None

    def latest(self, model: str) -> Rollout | None:
        reply = self._db.query(
            TableName=self._table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues=to_item({":pk": model_pk(model), ":prefix": ROLLOUT_PREFIX}),
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = reply["Items"]
        return _decode(model, items[0]) if items else None

    def claim(self, model: str, rollout_id: str) -> None:
        running = RolloutConflict(f"model '{model}' already has a rollout running", model=model)
        with on_condition_failure(lambda: running):
            self._db.put_item(
                TableName=self._table,
                Item=to_item({"PK": model_pk(model), "SK": ACTIVE_ROLLOUT, "rollout_id": rollout_id}),
                ConditionExpression="attribute_not_exists(PK)",
            )

    def release(self, model: str, rollout_id: str) -> None:
        # Someone else's claim (or none) fails the condition: nothing of ours to release.
        with on_condition_failure(None):
            self._db.delete_item(
                TableName=self._table,
                Key=to_item({"PK": model_pk(model), "SK": ACTIVE_ROLLOUT}),
                ConditionExpression="rollout_id = :id",
                ExpressionAttributeValues=to_item({":id": rollout_id}),
            )
