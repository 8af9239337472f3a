"""The reference trainer (`training/`): its package in-process, and `train.py` as SageMaker runs it.

Shared here: data made in code (a churn-like table with numeric and category features, written as CSV
channels) and the SM_* environment of a job folder. Tests train on one torch thread (in-process and in
the jobs they start): their models are tiny and `pytest -n 2` already runs two workers on two cores, where
a second OpenMP thread per process only waits for a core.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from lambdaops_trainer.data import Dataset, TableSchema

ROOT = Path(__file__).resolve().parents[2]
TRAIN_PY = ROOT / "training" / "train.py"
HEADER = ("age", "spend", "plan", "region", "churned")
METRIC_REGEXES = (
    r"epoch=([0-9]+);",
    r"train:loss=([-+0-9.eE]+);",
    r"validation:loss=([-+0-9.eE]+);",
    r"validation:accuracy=([-+0-9.eE]+);",
)
"""The job's SageMaker metric definitions, as lambdaops.training.jobs declares them."""


def churn_rows(count: int, seed: int) -> list[list[object]]:
    """Rows of HEADER: churn is decided by age, spend and plan (region is noise), so it can be learnt."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, count)
    spend = np.round(rng.normal(50, 20, count), 3)
    plan = rng.choice(["bronze", "gold", "silver"], count)
    region = rng.choice(["eu", "us"], count)
    score = (
        (age - 50) / 15
        + (spend - 50) / 20
        + np.where(plan == "gold", 1.5, np.where(plan == "bronze", -1.5, 0))
    )
    churned = np.where(score > 0.3, "yes", "no")
    return [list(row) for row in zip(age.tolist(), spend.tolist(), plan, region, churned, strict=True)]


def write_csv(path: Path, rows: list[list[object]], header: tuple[str, ...] = HEADER) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def job_folder(root: Path, train: int = 1200, validation: int = 300, holdout: int | None = None) -> Path:
    """A job's channels under `root` (train/, validation/, holdout/), filled with churn rows."""
    write_csv(root / "train" / "train.csv", churn_rows(train, seed=1))
    write_csv(root / "validation" / "validation.csv", churn_rows(validation, seed=2))
    if holdout:
        write_csv(root / "holdout" / "holdout.csv", churn_rows(holdout, seed=3))
    return root


def sm_environment(root: Path, **extra: str) -> dict[str, str]:
    """The SM_* variables of a job in `root`, over a copy of this process's environment."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SM_", "MASTER_"))}
    env |= {
        "SM_CHANNEL_TRAIN": str(root / "train"),
        "SM_CHANNEL_VALIDATION": str(root / "validation"),
        "SM_MODEL_DIR": str(root / "model"),
        "SM_OUTPUT_DIR": str(root / "output"),
        "SM_OUTPUT_DATA_DIR": str(root / "output" / "data"),
        "SM_CHECKPOINT_DIR": str(root / "checkpoints"),
        "SM_NUM_GPUS": "0",
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",
    }
    if (root / "holdout").is_dir():
        env["SM_CHANNEL_HOLDOUT"] = str(root / "holdout")
    return env | extra


def run_train_py(
    args: list[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python train.py ...` from the source folder, as SageMaker starts it."""
    return subprocess.run(
        [sys.executable, str(TRAIN_PY), *args],
        cwd=TRAIN_PY.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def separable(rows: int, seed: int, width: int = 4, classes: int = 3) -> Dataset:
    """Numeric rows whose class is the nearest of `classes` well-apart centres."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(scale=4.0, size=(classes, width))
    y = rng.integers(0, classes, rows)
    x = (centres[y] + rng.normal(size=(rows, width))).astype(np.float32)
    return Dataset(x, y.astype(np.int64), TableSchema.numeric(width, classes))


@contextmanager
def one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
