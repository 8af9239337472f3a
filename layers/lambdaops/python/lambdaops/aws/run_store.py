"""DynamoDB adapter for training runs (keys in `table_keys`).

Items: a run at PK `RUN#<run_id>`, SK `META`, the record as JSON in `doc`, `model` and `status` as
attributes for filters, and `revision` for optimistic updates.
Access patterns: one run (GetItem); runs newest first (Query GSI1 where GSI1PK = RUNS, descending, with a
filter on model and status, paging until the page is full); update (a conditional Put on `revision`).
"""

from __future__ import annotations

from typing import Any

from lambdaops.aws.dynamodb import on_condition_failure, to_item
from lambdaops.aws.registry_store import PageListing
from lambdaops.aws.table_keys import META, RUNS, run_pk, runs_gsi_sk
from lambdaops.core.errors import ConcurrentModification, RunAlreadyExists, RunNotFound
from lambdaops.training.schemas import RunPage, RunRecord, RunStatus

_UPDATE_ATTEMPTS = 5


class DynamoRunStore:
    """`RunStore` over the registry table."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def _item(self, run: RunRecord, revision: int) -> dict[str, Any]:
        return to_item(
            {
                "PK": run_pk(run.run_id),
                "SK": META,
                "GSI1PK": RUNS,
                "GSI1SK": runs_gsi_sk(run.started_at, run.run_id),
                "model": run.model,
                "status": run.status,
                "revision": revision,
                "doc": run.model_dump_json(exclude={"progress"}),
            }
        )

    def create(self, run: RunRecord) -> None:
        with on_condition_failure(lambda: RunAlreadyExists(f"run '{run.run_id}' exists", run_id=run.run_id)):
            self._db.put_item(
                TableName=self._table,
                Item=self._item(run, 0),
                ConditionExpression="attribute_not_exists(PK)",
            )

    def _read(self, run_id: str) -> tuple[RunRecord, int] | None:
        reply = self._db.get_item(
            TableName=self._table, Key=to_item({"PK": run_pk(run_id), "SK": META}), ConsistentRead=True
        )
        item = reply.get("Item")
        if item is None:
            return None
        return RunRecord.model_validate_json(item["doc"]["S"]), int(item["revision"]["N"])

    def get(self, run_id: str) -> RunRecord | None:
        found = self._read(run_id)
        return found[0] if found else None

    def update(self, run_id: str, **fields: Any) -> RunRecord:
        """Read, change, put if nobody wrote in between (the API and the first step can overlap)."""
        for _ in range(_UPDATE_ATTEMPTS):
            found = self._read(run_id)
            if found is None:
                raise RunNotFound(f"no training run '{run_id}'", run_id=run_id)
            run, revision = found
            changed = RunRecord.model_validate(run.model_dump() | fields)
            try:
                with on_condition_failure(lambda: ConcurrentModification("run changed", run_id=run_id)):
                    self._db.put_item(
                        TableName=self._table,
                        Item=self._item(changed, revision + 1),
                        ConditionExpression="revision = :seen",
                        ExpressionAttributeValues=to_item({":seen": revision}),
                    )
            except ConcurrentModification:
                continue
            return changed
        raise ConcurrentModification(f"run '{run_id}' kept changing; try again", run_id=run_id)

    def list(self, model: str | None, status: RunStatus | None, limit: int, token: str | None) -> RunPage:
        filters, names, values = [], {}, {":runs": RUNS}
        for attribute, value in (("model", model), ("status", status)):
            if value is not None:
                filters.append(f"#{attribute} = :{attribute}")
                names[f"#{attribute}"] = attribute
                values[f":{attribute}"] = value
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "GSI1",
            "KeyConditionExpression": "GSI1PK = :runs",
            "ExpressionAttributeValues": to_item(values),
            "ScanIndexForward": False,
        }
        if filters:
            query |= {"FilterExpression": " AND ".join(filters), "ExpressionAttributeNames": names}
        listing = PageListing(
            "runs",
            {"model": model, "status": status},
            fixed={"GSI1PK": RUNS, "SK": META},
            prefixed={"PK": run_pk(""), "GSI1SK": ""},
        )
        if token:
            query["ExclusiveStartKey"] = listing.start_key(token)
        items: list[RunRecord] = []
        while True:  # a filter can leave a page short: read on until it is full or the index ends
            reply = self._db.query(**query, Limit=limit - len(items))
            items += [RunRecord.model_validate_json(item["doc"]["S"]) for item in reply["Items"]]
            last = reply.get("LastEvaluatedKey")
            if last is None or len(items) >= limit:
                return RunPage(items=items, next_token=listing.token(last) if last else None)
            query["ExclusiveStartKey"] = last
