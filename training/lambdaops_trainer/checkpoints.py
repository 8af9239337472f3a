"""A checkpoint after every epoch, so that an interrupted (spot) job resumes after its last whole epoch.

Each is written to a temporary file and moved into place with `os.replace`, so the folder never holds
half a checkpoint; the newest two are kept. SageMaker syncs the folder with S3 (CheckpointConfig) and
brings it back when the job restarts.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

_NAME = re.compile(r"^epoch-(\d+)\.pt$")


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class CheckpointStore:
    def __init__(self, directory: Path, keep: int = 2, warn: Callable[[str], None] = _stderr) -> None:
        self.directory = directory
        self.keep = keep
        self._warn = warn

    def latest(self) -> dict[str, Any] | None:
        """The newest readable checkpoint, or None; an unreadable one is skipped with a warning."""
        for _, path in sorted(self._saved(), reverse=True):
            try:
                state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as error:  # torch.load raises several types for a damaged file
                self._warn(f"skipping unreadable checkpoint {path.name}: {type(error).__name__}: {error}")
                continue
            return state
        return None

    def save(self, epoch: int, state: dict[str, Any]) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"epoch-{epoch:06d}.pt"
        temporary = self.directory / f".{path.name}.tmp"
        with temporary.open("wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        for _, old in sorted(self._saved(), reverse=True)[self.keep :]:
            old.unlink(missing_ok=True)
        return path

    def _saved(self) -> list[tuple[int, Path]]:
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.iterdir():
            match = _NAME.match(path.name)
            if match:
                found.append((int(match.group(1)), path))
        return found
