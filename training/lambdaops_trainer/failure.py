"""Why a job could not train, as SageMaker shows it: one readable line in `$SM_OUTPUT_DIR/failure`.

SageMaker copies that file into the job's `FailureReason` (at most 1024 characters), so the reason is
written for the person who launched the job; the traceback goes to stderr, which reaches CloudWatch.
"""

from __future__ import annotations

import os
from pathlib import Path

FAILURE_FILE = "failure"
MAX_REASON_CHARS = 1024


class TrainingFailure(Exception):
    """A reason the job cannot train that its launcher can fix (data, hyperparameters, environment)."""


class InvalidHyperparameter(TrainingFailure):
    """A hyperparameter is missing, unreadable or out of range."""


class InvalidEnvironment(TrainingFailure):
    """An SM_* variable is missing or malformed."""


class InvalidData(TrainingFailure):
    """A channel's CSV files cannot be trained on: the message names the file, row, column and value."""


class IncompatibleCheckpoint(TrainingFailure):
    """The checkpoint folder holds a model of another shape than this job builds."""


def failure_reason(error: BaseException) -> str:
    """One line: the failure's own message, or the unexpected error's type and message."""
    text = str(error) if isinstance(error, TrainingFailure) else f"{type(error).__name__}: {error}"
    line = " ".join(text.split())
    return line if len(line) <= MAX_REASON_CHARS else line[: MAX_REASON_CHARS - 3] + "..."


def write_failure(output_dir: Path, reason: str) -> None:
    """Write the failure file; a trainer that cannot write it still exits non-zero."""
    output_dir.mkdir(parents=True, exist_ok=True)
    temporary = output_dir / f".{FAILURE_FILE}.tmp"
    temporary.write_text(reason + "\n", encoding="utf-8")
    os.replace(temporary, output_dir / FAILURE_FILE)
