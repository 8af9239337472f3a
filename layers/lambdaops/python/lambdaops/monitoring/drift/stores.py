"""Where drift monitoring keeps things: the ports (`lambdaops.aws.drift_objects` and `drift_index` adapt
them), and the scan cursor.

In the artifacts bucket:
- a baseline at `models/<model>/baselines/<version>.json`, beside the model's artifacts;
- a report at `drift/<model>/<YYYY-MM-DD>/<report id>.json`;
- the data a check reads (a `data_uri` in this bucket) and the captured traffic under `captures/`.

In the registry table, under the model's partition (`lambdaops.aws.table_keys`): a summary per report,
listed newest first, and the model's scan cursor: the newest `LastModified` read and the keys read with
exactly that time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from lambdaops.monitoring.drift.schemas import Baseline, DriftReport, DriftReportSummary
from lambdaops.registry.artifacts import Artifact


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
