"""Datasets and trained-model archives for the training tests, made here (no downloads)."""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import boto3

from lambdaops_tools.demo.sample_models import FEATURES, TrainedModel, synthetic_dataset
from lambdaops_tools.local.resources import LocalResources


def csv_text(rows: int, seed: int, label: str = "churned", columns: tuple[str, ...] = FEATURES) -> bytes:
    x, y = synthetic_dataset(rows, seed)
    lines = [",".join((*columns, label))]
    lines += [
        ",".join([*(f"{v:.5f}" for v in row[: len(columns)]), str(int(t))])
        for row, t in zip(x, y, strict=True)
    ]
    return ("\n".join(lines) + "\n").encode()


def put(resources: LocalResources, key: str, body: bytes) -> None:
    boto3.client("s3").put_object(Bucket=resources.bucket_name, Key=key, Body=body)


def write_dataset(
    resources: LocalResources,
    model: str,
    dataset_id: str = "2026-12-01",
    manifest: dict[str, Any] | bytes | None = None,
    holdout: bool = True,
    files: dict[str, bytes] | None = None,
) -> str:
    """train/validation(/holdout) CSVs, then the manifest (unless `manifest` is None); the dataset's URI."""
    prefix = f"datasets/{model}/{dataset_id}/"
    contents = {"train.csv": csv_text(400, 1), "validation.csv": csv_text(200, 2)}
    if holdout:
        contents["holdout.csv"] = csv_text(300, 3)
    for name, body in (contents | (files or {})).items():
        put(resources, prefix + name, body)
    if manifest is not None:
        put(
            resources,
            prefix + "manifest.json",
            manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode(),
        )
    return f"s3://{resources.bucket_name}/{prefix}"


def model_archive(model: TrainedModel, classes: tuple[str, ...] = ("0", "1")) -> bytes:
    """model.tar.gz as the reference trainer writes its model directory."""
    files = {
        "model.onnx": model.onnx_bytes,
        "input_schema.json": json.dumps(model.input_schema).encode(),
        "labels.json": json.dumps({"label": "churned", "classes": list(classes)}).encode(),
        "metrics.json": json.dumps(
            {"validation:accuracy": model.metrics["accuracy"], "best_epoch": 3}
        ).encode(),
        "hyperparameters.json": json.dumps({"epochs": 5, "learning_rate": 0.01, "label": "churned"}).encode(),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def upload_event(resources: LocalResources, key: str, version: str) -> dict[str, Any]:
    """An S3 "Object Created" event as EventBridge delivers it."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-12-01T10:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{resources.bucket_name}"],
        "detail": {
            "version": "0",
            "bucket": {"name": resources.bucket_name},
            "object": {
                "key": key,
                "size": 60,
                "etag": "abc",
                "version-id": version,
                "sequencer": "00617F08299329D189",
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject",
        },
    }
