"""S3 adapter for datasets: an object's first bytes (a CSV header, a manifest) and the manifests present."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambdaops.aws.s3_artifacts import is_missing
from lambdaops.core.clock import iso_z


class S3DatasetFiles:
    """`DatasetFiles` over the artifacts bucket."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

    def head(self, key: str, max_bytes: int) -> tuple[bytes, int] | None:
        try:
            reply = self._s3.get_object(Bucket=self._bucket, Key=key, Range=f"bytes=0-{max_bytes - 1}")
        except ClientError as error:
            if error.response["Error"]["Code"] == "InvalidRange":  # S3's answer for an empty object
                return b"", 0
            if is_missing(error):
                return None
            raise
        content_range = reply.get("ContentRange", "")  # "bytes 0-99/1234"
        size = int(content_range.rsplit("/", 1)[1]) if "/" in content_range else int(reply["ContentLength"])
        return reply["Body"].read(), size

    def manifests(self, prefix: str) -> list[tuple[str, str]]:
        found = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
            found += [
                (item["Key"], iso_z(item["LastModified"]))
                for item in page.get("Contents", [])
                if item["Key"].endswith("/manifest.json")
            ]
        return found
