"""S3 adapter for drift monitoring's documents: baselines, reports, checked data and captured traffic."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from lambdaops.aws.s3_artifacts import S3ArtifactStore, is_missing
from lambdaops.core.errors import ArtifactInvalid, ArtifactTooLarge, DataTooLarge, DataUnreadable
from lambdaops.monitoring.drift.schemas import Baseline, DriftReport
from lambdaops.monitoring.drift.stores import CapturedObject, ScanCursor
from lambdaops.registry.artifacts import Artifact


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
            if is_missing(error):
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
