"""S3 adapter for artifacts and the objects beside them: size-checked reads pinned to a version, puts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from lambdaops.core.errors import ArtifactInvalid, ArtifactTooLarge
from lambdaops.registry.artifacts import Artifact

MISSING_CODES = frozenset({"404", "NoSuchKey", "NoSuchVersion", "NotFound"})
"""What S3 answers for an absent key or version (HEAD answers a bare 404)."""


def is_missing(error: ClientError) -> bool:
    return error.response["Error"]["Code"] in MISSING_CODES


class S3ArtifactStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

    def fetch(self, key: str, max_bytes: int, version_id: str | None = None) -> Artifact:
        pinned = {"VersionId": version_id} if version_id else {}
        try:
            head = self._s3.head_object(Bucket=self._bucket, Key=key, **pinned)
            if head["ContentLength"] > max_bytes:
                raise ArtifactTooLarge(
                    f"artifact is {head['ContentLength']} bytes; the limit is {max_bytes}",
                    size_bytes=head["ContentLength"],
                    max_bytes=max_bytes,
                )
            # Pin the read to the version we measured, so a concurrent overwrite cannot slip in.
            version = head.get("VersionId") or version_id
            reply = self._s3.get_object(
                Bucket=self._bucket, Key=key, **({"VersionId": version} if version else {})
            )
        except ClientError as error:
            if is_missing(error):
                raise ArtifactInvalid(
                    f"no artifact at s3://{self._bucket}/{key}", reason="missing", key=key
                ) from error
            raise
        return Artifact(key=key, data=reply["Body"].read(), version_id=reply.get("VersionId"))


def s3_put_object(
    client: Any, bucket: str, content_type: str = "application/x-ndjson"
) -> Callable[[str, bytes], None]:
    """`PutObject` onto the bucket: captured traffic as JSON Lines, or a trained model's ONNX file."""

    def put(key: str, body: bytes) -> None:
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)

    return put
