"""Model artifacts: where they may live in the bucket, and the port that fetches them pinned to a version."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from lambdaops.core.errors import ArtifactInvalid


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
