"""The reference trainer's source archive: what SageMaker's `sagemaker_submit_directory` points at.

One builder for both: CDK uploads it as an asset, the local stack puts it in its bucket. The archive is
deterministic (sorted names, fixed times and owners), so the asset hash changes only with the code.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

_SKIPPED = {"__pycache__", ".mypy_cache", ".pytest_cache"}


def trainer_files(source: Path) -> list[Path]:
    return sorted(
        path
        for path in source.rglob("*")
        if path.is_file()
        and not _SKIPPED.intersection(path.relative_to(source).parts)
        and path.suffix != ".pyc"
    )


def trainer_archive(source: Path) -> bytes:
    """`sourcedir.tar.gz`: the folder's files at the archive's root, as SageMaker extracts to /opt/ml/code."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w") as tar,
    ):
        for path in trainer_files(source):
            info = tarfile.TarInfo(path.relative_to(source).as_posix())
            data = path.read_bytes()
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
