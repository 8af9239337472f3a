"""The local training loop: `.venv/bin/python benchmarks/training_loop.py [--smoke] [--rows N] [--runs N]`.

Starts the local stack, creates a model, and for each run writes a dataset of N rows (train 80%,
validation and holdout 10% each; 20 numeric features, 3 classes) and then its manifest.json. Timed from
before the manifest's PUT until the run reads `succeeded` (polled every 0.1 s), split into:
- training: the SageMaker job's own run, its TrainingStartTime to TrainingEndTime (the trainer subprocess:
  Python and torch start-up, data loading, epochs, ONNX export), and
- orchestration: everything else: the upload rule, the run record, the execution, validation, the job's
  set-up (channels downloaded, archive uploaded), evaluation against production, registration, the drift
  baseline, promotion and the alert.
The issue's target: orchestration under 10 s for 100,000 rows. Figures are reported, never asserted.

`--smoke`: 2,000 rows, one run, 2 epochs; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dependency_size import table

MODEL = "bench-loop"
FEATURES = 20
CLASSES = 3


def dataset(rows: int, seed: int) -> dict[str, bytes]:
    """Three classes separated by a random linear map of 20 features, with noise."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(FEATURES, CLASSES))
    x = rng.normal(size=(rows, FEATURES))
    y = np.argmax(x @ weights + rng.normal(scale=0.5, size=(rows, CLASSES)), axis=1)
    header = ",".join([*(f"f{i}" for i in range(FEATURES)), "label"])
    body = [header] + [
        ",".join([*(f"{v:.4f}" for v in row), str(int(t))]) for row, t in zip(x, y, strict=True)
    ]
    train_end, validation_end = int(rows * 0.8) + 1, int(rows * 0.9) + 1
    parts = {
        "train.csv": [header, *body[1:train_end]],
        "validation.csv": [header, *body[train_end:validation_end]],
        "holdout.csv": [header, *body[validation_end:]],
    }
    return {name: ("\n".join(lines) + "\n").encode() for name, lines in parts.items()}


def one_run(
    client: Any, s3: Any, sagemaker: Any, bucket: str, rows: int, epochs: int, index: int
) -> dict[str, float]:
    prefix = f"datasets/{MODEL}/run-{index}/"
    for name, body in dataset(rows, seed=index).items():
        s3.put_object(Bucket=bucket, Key=prefix + name, Body=body)
    manifest = {
        "label": "label",
        "hyperparameters": {"epochs": epochs, "hidden_units": 64, "patience": epochs},
    }
    started = time.perf_counter()
    s3.put_object(Bucket=bucket, Key=prefix + "manifest.json", Body=json.dumps(manifest).encode())
    run: dict[str, Any] = {}
    deadline = started + 600
    while time.perf_counter() < deadline:
        runs = client.request("GET", "/training", query={"model": MODEL, "limit": 1})["items"]
        run = runs[0] if runs and runs[0]["dataset_uri"].endswith(prefix) else {}
        if run.get("status") in ("succeeded", "failed"):
            break
        time.sleep(0.1)
    total = time.perf_counter() - started
    if run.get("status") != "succeeded":
        raise RuntimeError(f"run did not succeed: {json.dumps(run, indent=2)}")
    job = sagemaker.describe_training_job(TrainingJobName=run["training_job"])
    training = (job["TrainingEndTime"] - job["TrainingStartTime"]).total_seconds()
    return {
        "total_s": total,
        "training_s": training,
        "orchestration_s": total - training,
        "accuracy": run["metrics"]["accuracy"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    rows, runs, epochs = (2_000, 1, 2) if args.smoke else (args.rows, args.runs, args.epochs)

    import boto3

    from lambdaops_tools.client import LambdaopsClient
    from lambdaops_tools.local.stack import LocalStack

    stack = LocalStack()
    info = stack.start()
    try:
        client = LambdaopsClient(info.api_url)
        s3 = boto3.client("s3", endpoint_url=info.aws_endpoint_url)
        sagemaker = boto3.client("sagemaker", endpoint_url=info.aws_endpoint_url)
        client.create_model(MODEL, "training loop benchmark")
        measured = [one_run(client, s3, sagemaker, info.bucket, rows, epochs, i) for i in range(runs)]
    finally:
        stack.stop()

    def cell(key: str) -> str:
        values = [m[key] for m in measured]
        return f"{statistics.median(values):.2f} (min {min(values):.2f})"

    table(
        f"Local loop: manifest of {rows:,} rows to a registered staging version, {epochs} epochs, "
        f"median of {runs} (seconds)",
        ("total", "training job", "orchestration", "holdout accuracy"),
        [(cell("total_s"), cell("training_s"), cell("orchestration_s"), f"{measured[-1]['accuracy']:.4f}")],
    )


if __name__ == "__main__":
    main()
