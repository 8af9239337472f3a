"""Where drift monitoring keeps things: S3 for whole documents, DynamoDB for the index.

In the artifacts bucket:
- a baseline at `models/<model>/baselines/<version>.json`, beside the model's artifacts;
- a report at `drift/<model>/<YYYY-MM-DD>/<report id>.json`;
- the data a check reads (a `data_uri` in this bucket) and the captured traffic under `captures/`.

In the registry table, under the model's partition:
| item          | PK            | SK                               |
|---------------|---------------|----------------------------------|
| report        | MODEL#<name>  | DRIFT#<created_at>#<report id>   |
| scan cursor   | MODEL#<name>  | DRIFT-SCAN                       |

The scan cursor is the newest `LastModified` read and the keys read with exactly that time.

History is a descending Query on `begins_with(SK, "DRIFT#")`; a report summary lives in `doc`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import ClientError

from lambdaops.artifacts import Artifact, S3ArtifactStore
from lambdaops.drift_schemas import Baseline, DriftReport, DriftReportSummary
from lambdaops.errors import ArtifactInvalid, ArtifactTooLarge, DataTooLarge, DataUnreadable


@dataclass(frozen=True)
class CapturedObject:
    key: str
    last_modified: datetime
    body: bytes


@dataclass(frozen=True)
class ScanCursor:
    """How far a model's scans have read: objects modified up to `at`, and which of those modified at
    exactly `at` (S3 keeps whole seconds, so one more may still land in that second)."""

    at: datetime
    keys: frozenset[str]

    def is_new(self, key: str, last_modified: datetime) -> bool:
        return last_modified > self.at or (last_modified == self.at and key not in self.keys)

    @staticmethod
    def after(objects: list[CapturedObject]) -> ScanCursor | None:
        if not objects:
            return None
        newest = max(item.last_modified for item in objects)
        return ScanCursor(newest, frozenset(item.key for item in objects if item.last_modified == newest))


class DriftObjects(Protocol):
    """Documents in S3: baselines, reports, checked data and captured traffic."""

    def baseline_uri(self, model: str, version: str) -> str: ...

    def put_baseline(self, baseline: Baseline) -> str: ...

    def get_baseline(self, model: str, version: str) -> Baseline | None: ...

    def report_uri(self, model: str, created_at: str, report_id: str) -> str: ...

    def put_report(self, report: DriftReport) -> None: ...

    def read(self, uri: str, max_bytes: int) -> Artifact:
        """The object at `uri` in the bucket, size-checked and pinned to the version measured."""
        ...

    def captures(self, model: str, after: ScanCursor | None, max_bytes: int) -> list[CapturedObject]:
        """Captured-traffic objects of `model` new since `after`, newest first, until the sum of their
        sizes would pass `max_bytes`."""
        ...


class DriftIndex(Protocol):
    """Report summaries and scan cursors in the registry table."""

    def add_report(self, summary: DriftReportSummary) -> None: ...

    def reports(self, model: str, limit: int) -> list[DriftReportSummary]: ...

    def last_scan(self, model: str) -> ScanCursor | None: ...

    def set_last_scan(self, model: str, cursor: ScanCursor) -> None: ...


def _not_found(error: ClientError) -> bool:
    return error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound")


class S3DriftObjects:
    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket
        self._objects = S3ArtifactStore(client, bucket)

    def _uri(self, key: str) -> str:
        return f"s3://{self._bucket}/{key}"

    def _key(self, uri: str) -> str:
        return uri.removeprefix(self._uri(""))

    def baseline_uri(self, model: str, version: str) -> str:
        return self._uri(f"models/{model}/baselines/{version}.json")

    def put_baseline(self, baseline: Baseline) -> str:
        uri = self.baseline_uri(baseline.model, baseline.version)
        self._put(uri, baseline.model_dump_json().encode())
        return uri

    def get_baseline(self, model: str, version: str) -> Baseline | None:
        key = self._key(self.baseline_uri(model, version))
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except ClientError as error:
            if _not_found(error):
                return None
            raise
        return Baseline.model_validate_json(body)

    def report_uri(self, model: str, created_at: str, report_id: str) -> str:
        return self._uri(f"drift/{model}/{created_at[:10]}/{report_id}.json")

    def put_report(self, report: DriftReport) -> None:
        self._put(report.report_uri, report.model_dump_json().encode())

    def _put(self, uri: str, body: bytes) -> None:
        self._s3.put_object(
            Bucket=self._bucket, Key=self._key(uri), Body=body, ContentType="application/json"
        )

    def read(self, uri: str, max_bytes: int) -> Artifact:
        if not uri.startswith(self._uri("")):
            raise DataUnreadable(
                f"data_uri must be in the artifacts bucket: s3://{self._bucket}/...",
                reason="outside_bucket",
                data_uri=uri,
            )
        try:
            return self._objects.fetch(self._key(uri), max_bytes)
        except ArtifactTooLarge as error:
            size = error.details["size_bytes"]
            message = f"the data object is {size} bytes; the limit is {max_bytes}"
            raise DataTooLarge(message, **error.details) from error
        except ArtifactInvalid as error:  # `fetch` refuses only a missing object
            raise DataUnreadable(f"no object at {uri}", reason="missing", data_uri=uri) from error

    def captures(self, model: str, after: ScanCursor | None, max_bytes: int) -> list[CapturedObject]:
        prefix = f"captures/{model}/"
        listing: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix}
        if after is not None:
            # Keys are partitioned by the hour a request was served, which an object's write can trail.
            listing["StartAfter"] = f"{prefix}dt={after.at - timedelta(hours=1):%Y-%m-%d/hour=%H}"
        found = [
            item
            for page in self._s3.get_paginator("list_objects_v2").paginate(**listing)
            for item in page.get("Contents", [])
            if after is None or after.is_new(item["Key"], item["LastModified"])
        ]
        found.sort(key=lambda item: item["LastModified"], reverse=True)
        objects, total = [], 0
        for item in found:
            total += item["Size"]
            if total > max_bytes:
                break
            body = self._s3.get_object(Bucket=self._bucket, Key=item["Key"])["Body"].read()
            objects.append(CapturedObject(item["Key"], item["LastModified"], body))
        return objects


class DynamoDriftIndex:
    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def add_report(self, summary: DriftReportSummary) -> None:
        self._db.put_item(
            TableName=self._table,
            Item={
                "PK": {"S": f"MODEL#{summary.model}"},
                "SK": {"S": f"DRIFT#{summary.created_at}#{summary.report_id}"},
                "doc": {"S": summary.model_dump_json()},
            },
        )

    def reports(self, model: str, limit: int) -> list[DriftReportSummary]:
        reply = self._db.query(
            TableName=self._table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :drift)",
            ExpressionAttributeValues={":pk": {"S": f"MODEL#{model}"}, ":drift": {"S": "DRIFT#"}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [DriftReportSummary.model_validate_json(item["doc"]["S"]) for item in reply["Items"]]

    def last_scan(self, model: str) -> ScanCursor | None:
        reply = self._db.get_item(
            TableName=self._table,
            Key={"PK": {"S": f"MODEL#{model}"}, "SK": {"S": "DRIFT-SCAN"}},
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
            Item={
                "PK": {"S": f"MODEL#{model}"},
                "SK": {"S": "DRIFT-SCAN"},
                "scanned_until": {"S": cursor.at.isoformat()},
                "keys": {"S": json.dumps(sorted(cursor.keys))},
            },
        )
