"""The local stack as a user runs it: `lambdaops local` in its own process, reached over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest

from lambdaops_tools.client import LambdaopsClient
from lambdaops_tools.local.stack import free_port


class RunningStack:
    def __init__(self, info: dict[str, Any], info_file: Path) -> None:
        self.info = info
        self.info_file = info_file
        self.client = LambdaopsClient(info["api_url"])
        self.s3 = self.aws("s3")

    def upload(self, key: str, data: bytes) -> str:
        """Put `data` at `key` in the stack's bucket; its `s3://` URI."""
        self.s3.put_object(Bucket=self.info["bucket"], Key=key, Body=data)
        return f"s3://{self.info['bucket']}/{key}"

    def aws(self, service: str) -> Any:
        """A boto3 client of the stack's emulated AWS."""
        return boto3.client(
            service,
            endpoint_url=self.info["aws_endpoint_url"],
            region_name=self.info["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


def _read_ready_line(process: subprocess.Popen[str], lines: list[str], ready: threading.Event) -> None:
    """Drain the server's output (so it never blocks on a full pipe); flag when the info JSON is out."""
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if line.startswith("}"):
            ready.set()
    ready.set()


@contextmanager
def running_stack(folder: Path) -> Iterator[RunningStack]:
    """`lambdaops local` on a free port, writing its info file into `folder`, until the block ends."""
    info_file = folder / "local.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lambdaops_tools.cli",
            "--info-file",
            str(info_file),
            "local",
            "--port",
            str(free_port()),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    ready = threading.Event()
    threading.Thread(target=_read_ready_line, args=(process, lines, ready), daemon=True).start()
    if not ready.wait(timeout=120) or process.poll() is not None:
        process.kill()
        pytest.fail("the local stack did not start:\n" + "".join(lines))
    printed = json.loads("".join(lines[lines.index("{\n") :]))
    assert json.loads(info_file.read_text()).items() <= printed.items()
    try:
        yield RunningStack(json.loads(info_file.read_text()), info_file)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running
