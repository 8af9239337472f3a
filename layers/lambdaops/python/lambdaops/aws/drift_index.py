"""DynamoDB adapter for drift monitoring's index (keys in `table_keys`).

Access patterns: history is a descending Query on `begins_with(SK, "DRIFT#")` with the summary in
`doc`; the scan cursor is one GetItem / PutItem.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from lambdaops.aws.dynamodb import to_item
from lambdaops.aws.table_keys import DRIFT_PREFIX, DRIFT_SCAN, drift_report_sk, model_pk
from lambdaops.monitoring.drift.schemas import DriftReportSummary
from lambdaops.monitoring.drift.stores import ScanCursor


class DynamoDriftIndex:
    """`DriftIndex` over the registry table: report summaries, newest first, and scan cursors."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def add_report(self, summary: DriftReportSummary) -> None:
        self._db.put_item(
            TableName=self._table,
            Item=to_item(
                {
                    "PK": model_pk(summary.model),
                    "SK": drift_report_sk(summary.created_at, summary.report_id),
                    "doc": summary.model_dump_json(),
                }
            ),
        )

    def reports(self, model: str, limit: int) -> list[DriftReportSummary]:
        reply = self._db.query(
            TableName=self._table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :drift)",
            ExpressionAttributeValues=to_item({":pk": model_pk(model), ":drift": DRIFT_PREFIX}),
            ScanIndexForward=False,
            Limit=limit,
        )
        return [DriftReportSummary.model_validate_json(item["doc"]["S"]) for item in reply["Items"]]

    def last_scan(self, model: str) -> ScanCursor | None:
        reply = self._db.get_item(
            TableName=self._table,
            Key=to_item({"PK": model_pk(model), "SK": DRIFT_SCAN}),
            ConsistentRead=True,
        )
        item = reply.get("Item")
        if item is None:
            return None
        keys = json.loads(item["keys"]["S"])
        return ScanCursor(datetime.fromisoformat(item["scanned_until"]["S"]), frozenset(keys))

    def set_last_scan(self, model: str, cursor: ScanCursor) -> None:
        self._db.put_item(
            TableName=self._table,
            Item=to_item(
                {
                    "PK": model_pk(model),
                    "SK": DRIFT_SCAN,
                    "scanned_until": cursor.at.isoformat(),
                    "keys": json.dumps(sorted(cursor.keys)),
                }
            ),
        )
