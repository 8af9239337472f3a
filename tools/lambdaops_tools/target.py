"""Where the CLI's requests and uploads go: the local stack its info file names, or a deployed API.

The API is `--api-url`, else `$LAMBDAOPS_API_URL`, else the info file's `api_url`. It is the local stack
only when it is the info file's `api_url`; then uploads go to that stack's emulated S3. Any other URL is a
deployment: uploads go to its bucket (`--bucket`, else `$LAMBDAOPS_BUCKET`) through boto3's default
chain, never to a local endpoint left in an info file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdaops_tools.exits import CommandError, usage


@dataclass(frozen=True)
class Target:
    api_url: str
    info_file: Path
    local: Mapping[str, Any] | None
    """The info file's addresses, when the API is that local stack."""
    bucket: str | None

    def require_bucket(self, option: str) -> str:
        if self.bucket is None:
            raise usage(
                f"{option} uploads to the deployment's artifacts bucket:"
                " pass --bucket or set LAMBDAOPS_BUCKET"
            )
        return self.bucket

    def s3(self) -> Any:
        """An S3 client: the local stack's emulated one, or the caller's own AWS."""
        import boto3

        if self.local is None:
            return boto3.client("s3")
        return boto3.client(
            "s3",
            endpoint_url=self.local["aws_endpoint_url"],
            region_name=self.local.get("region"),
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # nosec B106 # moto's fixed fake credentials, local only
        )

    def unreachable_fix(self) -> str:
        """What to do when nothing answers at the API's URL."""
        if self.local is not None:
            return f"is `lambdaops local` running? ({self.info_file} may be left from a stack that stopped)"
        return "check --api-url or LAMBDAOPS_API_URL"


def resolve(
    api_url: str | None,
    info_file: Path,
    bucket: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Target:
    info = _read_info(info_file)
    url = api_url or environ.get("LAMBDAOPS_API_URL") or info.get("api_url")
    if not url:
        raise CommandError(
            f"no API: start one with `lambdaops local` (it writes {info_file}),"
            " or pass --api-url or set LAMBDAOPS_API_URL"
        )
    local = info if info and _same(url, str(info.get("api_url", ""))) else None
    bucket = bucket or environ.get("LAMBDAOPS_BUCKET") or (local or {}).get("bucket")
    return Target(url, info_file, local, bucket)


def _read_info(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    try:
        info = json.loads(text)
    except ValueError:
        info = None
    if not isinstance(info, dict):
        raise CommandError(f"{path} is not a local stack's info file: delete it or restart `lambdaops local`")
    return info


def _same(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")
