"""Model artifacts in S3: where they may live, and fetching them pinned to an object version."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError

from lambdaops.errors import ArtifactInvalid, ArtifactTooLarge


@dataclass(frozen=True)
class Artifact:
    key: str
    data: bytes
    version_id: str | None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def artifact_key(uri: str, bucket: str, model: str) -> str:
    """The object key of `uri`, which must lie under `models/<model>/` in the artifacts bucket."""
    prefix = f"s3://{bucket}/"
    if not uri.startswith(prefix):
        raise ArtifactInvalid(
            f"artifact_uri must be in the artifacts bucket: s3://{bucket}/models/{model}/...",
            reason="outside_bucket",
            artifact_uri=uri,
        )
    key = uri[len(prefix) :]
    segments = key.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise ArtifactInvalid(
            "artifact_uri may not contain empty, '.' or '..' path segments",
            reason="invalid_path",
            artifact_uri=uri,
        )
    if segments[:2] != ["models", model] or len(segments) < 3:
        raise ArtifactInvalid(
            f"artifact_uri must be under s3://{bucket}/models/{model}/",
            reason="outside_model_prefix",
            artifact_uri=uri,
        )
    return key


class ArtifactStore(Protocol):
    def fetch(self, key: str, max_bytes: int, version_id: str | None = None) -> Artifact: ...


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
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NoSuchVersion", "NotFound"):
                raise ArtifactInvalid(
                    f"no artifact at s3://{self._bucket}/{key}", reason="missing", key=key
                ) from error
            raise
        return Artifact(key=key, data=reply["Body"].read(), version_id=reply.get("VersionId"))
