"""The capture writer: batched JSON Lines puts off the request path, bounded, never raising."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

from lambdaops.serving.capture import CapturedRequest, CaptureWriter

from .test_model_cache import RecordingMetrics

NINE = datetime(2026, 11, 24, 9, 15, tzinfo=UTC)


def captured(model: str = "churn", at: datetime = NINE, rows: int = 1) -> CapturedRequest:
    return CapturedRequest(
        at=at,
        model=model,
        version="1.0.0",
        variant="production",
        feature_names=("a", "b"),
        instances=[[float(i), i] for i in range(rows)],
        predictions=[[0.25, 0.75]] * rows,
    )


class BlockingPut:
    """Holds the writer thread inside its first put until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.objects: dict[str, bytes] = {}

    def __call__(self, key: str, body: bytes) -> None:
        self.entered.set()
        assert self.release.wait(timeout=30)
        self.objects[key] = body


def test_requests_waiting_together_are_batched_per_model_and_hour() -> None:
    put, metrics = BlockingPut(), RecordingMetrics()
    writer = CaptureWriter(put, metrics)
    writer.submit(captured())
    assert put.entered.wait(timeout=30)  # the writer is busy with the first request
    for request in (
        captured(rows=2),
        captured(rows=3),
        captured("fraud"),
        captured(at=NINE.replace(hour=10)),
    ):
        writer.submit(request)
    put.release.set()
    assert writer.flush(timeout=30)
    assert sorted(key.rsplit("/", 1)[0] for key in put.objects) == [
        "captures/churn/dt=2026-11-24/hour=09",
        "captures/churn/dt=2026-11-24/hour=09",
        "captures/churn/dt=2026-11-24/hour=10",
        "captures/fraud/dt=2026-11-24/hour=09",
    ]
    lines = {key: body.decode().splitlines() for key, body in put.objects.items()}
    assert sorted(len(rows) for rows in lines.values()) == [1, 1, 1, 5]
    first = json.loads(next(rows for rows in lines.values() if len(rows) == 5)[4])
    assert first["features"] == {"a": 2.0, "b": 2}
    assert metrics.counts == []


def test_a_full_queue_drops_and_counts_instead_of_waiting() -> None:
    put, metrics = BlockingPut(), RecordingMetrics()
    writer = CaptureWriter(put, metrics, max_queued=2)
    writer.submit(captured())
    assert put.entered.wait(timeout=30)
    for _ in range(5):
        writer.submit(captured())  # returns at once although the writer is stuck
    assert metrics.counted("CaptureDropped") == [{"model": "churn"}] * 3
    assert not writer.flush(timeout=0)
    put.release.set()
    assert writer.flush(timeout=30)


def test_a_failing_put_is_counted_and_logged_never_raised() -> None:
    metrics = RecordingMetrics()

    def failing(key: str, body: bytes) -> None:
        raise ConnectionError("S3 unreachable")

    writer = CaptureWriter(failing, metrics)
    writer.submit(captured(rows=2))
    assert writer.flush(timeout=30)
    assert metrics.counts == [("CaptureFailures", 1, {"model": "churn"})]
    writer.submit(captured())  # the writer thread survived
    assert writer.flush(timeout=30)
    assert len(metrics.counted("CaptureFailures")) == 2


def test_shadow_predictions_ride_along_per_row() -> None:
    request = CapturedRequest(
        at=NINE,
        model="churn",
        version="1.0.0",
        variant="control",
        feature_names=("a",),
        instances=[[1.0], {"a": 2.0}],
        predictions=[0, 1],
        shadow_version="1.1.0",
        shadow_predictions=[1, 1],
    )
    records: list[dict[str, Any]] = request.records()
    assert [record["shadow"] for record in records] == [
        {"version": "1.1.0", "prediction": 1},
        {"version": "1.1.0", "prediction": 1},
    ]
    assert [record["features"] for record in records] == [{"a": 1.0}, {"a": 2.0}]
    assert records[0]["at"] == "2026-11-24T09:15:00.000Z"


def test_the_queue_is_bounded_in_rows_too() -> None:
    put, metrics = BlockingPut(), RecordingMetrics()
    writer = CaptureWriter(put, metrics, max_queued=100, max_queued_rows=10)
    writer.submit(captured(rows=4))
    assert put.entered.wait(timeout=30)  # 4 rows held by the writer, still counted until written
    writer.submit(captured(rows=6))
    writer.submit(captured(rows=1))
    assert metrics.counted("CaptureDropped") == [{"model": "churn"}]
    put.release.set()
    assert writer.flush(timeout=30)
    writer.submit(captured(rows=10))  # the budget is back once written
    assert writer.flush(timeout=30)
    assert len(metrics.counted("CaptureDropped")) == 1
