"""Training runs that must fail, through the real state machine on the local stack: each ends `failed` with
its step and cause in `GET /training/{run_id}`, sends an alert, and registers nothing."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from lambdaops_tools.demo.story import labelled_csv

from .conftest import RunningStack

pytestmark = pytest.mark.e2e

MODEL = "faulty"
MANIFEST = {"label": "churned", "hyperparameters": {"epochs": 2}, "spot": False}
GOOD = {"train.csv": labelled_csv(400, 1), "validation.csv": labelled_csv(100, 2)}

# name -> (dataset files, manifest bytes, the step it fails at, what its cause says)
CASES: dict[str, tuple[dict[str, bytes], bytes, str, str]] = {
    "missing label": (
        GOOD,
        json.dumps(MANIFEST | {"label": "left"}).encode(),
        "Validate",
        "label column 'left'",
    ),
    "missing feature": (
        GOOD | {"validation.csv": b"tenure_months,churned\n1,0\n"},
        json.dumps(MANIFEST).encode(),
        "Validate",
        "validation.csv lacks the columns",
    ),
    "empty file": (
        GOOD | {"train.csv": b""},
        json.dumps(MANIFEST).encode(),
        "Validate",
        "train.csv is empty",
    ),
    "manifest not JSON": (GOOD, b"{label: churned", "Validate", "manifest.json is not JSON"),
    "unknown instance type": (
        GOOD,
        json.dumps(MANIFEST | {"instance_type": "ml.q9.huge"}).encode(),
        "Validate",
        "no training instance type 'ml.q9.huge'",
    ),
    "min above max": (
        GOOD,
        json.dumps(
            MANIFEST
            | {
                "tuning": {
                    "strategy": "Random",
                    "objective": {"metric": "validation:accuracy", "type": "Maximize"},
                    "max_jobs": 2,
                    "max_parallel_jobs": 1,
                    "ranges": {"learning_rate": {"type": "continuous", "min": 0.5, "max": 0.1}},
                }
            }
        ).encode(),
        "Validate",
        "greater than 'max'",
    ),
    "grid over a continuous range": (
        GOOD,
        json.dumps(
            MANIFEST
            | {
                "tuning": {
                    "strategy": "Grid",
                    "objective": {"metric": "validation:accuracy", "type": "Maximize"},
                    "max_parallel_jobs": 1,
                    "ranges": {"learning_rate": {"type": "continuous", "min": 0.01, "max": 0.1}},
                }
            }
        ).encode(),
        "Validate",
        "only categorical ranges",
    ),
    "non-numeric value (the trainer exits non-zero)": (
        GOOD | {"validation.csv": labelled_csv(100, 2).replace(b"\n", b"\nabc,1,2,3,0\n", 1)},
        json.dumps(MANIFEST).encode(),
        "Train",
        "abc",
    ),
    "past max_runtime_seconds": (
        {"train.csv": labelled_csv(20000, 1), "validation.csv": labelled_csv(100, 2)},
        json.dumps(
            MANIFEST
            | {
                "max_runtime_seconds": 3,
                "hyperparameters": {"epochs": 100000, "patience": 100000, "batch_size": 8},
            }
        ).encode(),
        "Train",
        "MaxRuntimeExceeded",
    ),
}


def wait_until(done: Callable[[], Any], deadline_s: float = 240.0) -> Any:
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        value = done()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError("timed out")


def test_every_fault_ends_its_run_failed_with_its_step_and_cause_alerts_and_registers_nothing(
    stack: RunningStack,
) -> None:
    client, s3, bucket = stack.client, stack.s3, stack.info["bucket"]
    client.create_model(MODEL)
    sqs, sns = stack.aws("sqs"), stack.aws("sns")
    queue = sqs.create_queue(QueueName=f"faults-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=stack.info["alerts_topic_arn"], Protocol="sqs", Endpoint=queue_arn)

    datasets = {}
    for index, (name, (files, manifest, _, _)) in enumerate(CASES.items()):
        prefix = f"datasets/{MODEL}/case-{index}/"
        for file, body in files.items():
            s3.put_object(Bucket=bucket, Key=prefix + file, Body=body)
        s3.put_object(Bucket=bucket, Key=prefix + "manifest.json", Body=manifest)
        datasets[f"s3://{bucket}/{prefix}"] = name
    ghost = f"s3://{bucket}/datasets/ghost-model/d1/"  # a dataset of a model nobody created
    for file, body in GOOD.items():
        s3.put_object(Bucket=bucket, Key=f"datasets/ghost-model/d1/{file}", Body=body)
    s3.put_object(
        Bucket=bucket, Key="datasets/ghost-model/d1/manifest.json", Body=json.dumps(MANIFEST).encode()
    )

    def finished() -> list[dict[str, Any]] | None:
        runs = [
            run for run in client.list_runs(limit=100)["items"] if run["dataset_uri"] in [*datasets, ghost]
        ]
        return (
            runs if len(runs) == len(datasets) + 1 and all(r["status"] != "running" for r in runs) else None
        )

    runs = {run["dataset_uri"]: run for run in wait_until(finished)}

    for uri, name in datasets.items():
        _, _, step, cause = CASES[name]
        run = client.get_run(runs[uri]["run_id"])
        assert (run["status"], run["failure"]["step"]) == ("failed", step), (name, run["failure"])
        assert cause in run["failure"]["cause"], (name, run["failure"])
        assert run["ended_at"] and run.get("registered_version") is None
    ghost_run = runs[ghost]
    assert (ghost_run["failure"]["step"], ghost_run["failure"]["error"]) == ("Validate", "ModelNotFound")
    assert client.list_versions(MODEL)["items"] == []

    def alerts() -> list[str] | None:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        subjects.extend(json.loads(message["Body"])["Subject"] for message in messages)
        failed = [s for s in subjects if "failed at" in s]
        return failed if len(failed) >= len(runs) else None

    subjects: list[str] = []
    failed = wait_until(alerts, deadline_s=30)
    for run in runs.values():
        assert any(run["run_id"] in subject for subject in failed), run["run_id"]
