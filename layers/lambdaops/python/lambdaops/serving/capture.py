"""Captured predictions: a sample of requests and their predictions, written to S3 as JSON Lines.

Objects land at `captures/<model>/dt=YYYY-MM-DD/hour=HH/<uuid>.jsonl` in the artifacts bucket, one
record per row: `{"at", "model", "version", "variant", "features": {name: raw value}, "prediction",
"shadow": {"version", "prediction"}}` (`shadow` only when a shadow ran).

Capturing never fails a prediction and adds nothing to its path but a queue put. `submit` hands the
request to a bounded queue (bounded in requests and in rows) and returns; a daemon thread drains it,
batching every request it finds waiting into one object per model and hour. When the queue is full the
request is dropped and counted as `CaptureDropped`; a failed put is logged and counted as
`CaptureFailures`. Nothing here raises into the request path. The writer's own work (about 8 µs of CPU
per captured row of 16 floats, mostly float formatting) shares the interpreter with requests, which is
what `capture_sample_rate` is for.

Why the handler does not `flush` at the end of every invocation: a flush waits for an S3 put (tens of
milliseconds) before the response can be returned, on every sampled request. In Lambda the writer
thread is paused while the container is frozen between invocations and resumes with the next one, so
queued records are written a little later, concurrently with that invocation's own work. What can be
lost is what is still queued when Lambda retires an idle container: at most the last few requests of a
sample that is best-effort by design. `flush(timeout)` exists for tests, benchmarks and shutdown.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lambdaops.core.clock import iso_z
from lambdaops.core.observability import Log
from lambdaops.serving.telemetry import CAPTURE_DROPPED, CAPTURE_FAILURES, PredictionMetrics

PutObject = Callable[[str, bytes], None]
"""Writes one object under the bucket: `(key, body)`."""


@dataclass(frozen=True)
class CapturedRequest:
    """One prediction as served; rows are turned into records on the writer thread, not the request's."""

    at: datetime
    model: str
    version: str
    variant: str
    feature_names: Sequence[str]
    instances: Sequence[Any]
    predictions: Sequence[Any]
    shadow_version: str | None = None
    shadow_predictions: Sequence[Any] | None = None

    def records(self) -> list[dict[str, Any]]:
        at = iso_z(self.at)
        shadow = self.shadow_predictions if self.shadow_version is not None else None
        rows = []
        for index, (instance, prediction) in enumerate(zip(self.instances, self.predictions, strict=True)):
            features = (
                instance
                if isinstance(instance, dict)
                else dict(zip(self.feature_names, instance, strict=False))
            )
            record: dict[str, Any] = {
                "at": at,
                "model": self.model,
                "version": self.version,
                "variant": self.variant,
                "features": features,
                "prediction": prediction,
            }
            if shadow is not None:
                record["shadow"] = {"version": self.shadow_version, "prediction": shadow[index]}
            rows.append(record)
        return rows

    @property
    def prefix(self) -> str:
        return f"captures/{self.model}/dt={self.at:%Y-%m-%d}/hour={self.at:%H}"


class CaptureWriter:
    def __init__(
        self,
        put: PutObject,
        metrics: PredictionMetrics,
        log: Log | None = None,
        max_queued: int = 1000,
        max_queued_rows: int = 100_000,
        max_batch: int = 500,
    ) -> None:
        self._put = put
        self._metrics = metrics
        self._log: Log = log or logging.getLogger(__name__)
        self._queue: queue.Queue[CapturedRequest] = queue.Queue(maxsize=max_queued)
        self._max_rows = max_queued_rows
        self._max_batch = max_batch
        self._idle = threading.Condition()
        self._unfinished = 0
        self._queued_rows = 0
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, captured: CapturedRequest) -> None:
        """Queue a request for writing; drop and count it when the queue is full. Never raises."""
        try:
            self._ensure_started()
            if not self._reserve(captured):
                self._metrics.count(CAPTURE_DROPPED, model=captured.model)
                return
            try:
                self._queue.put_nowait(captured)
            except queue.Full:
                self._done([captured])
                self._metrics.count(CAPTURE_DROPPED, model=captured.model)
        except Exception:  # capture is best-effort: nothing may reach the request path
            self._log.warning("capture failed to queue a request", extra={"model": captured.model})

    def _reserve(self, captured: CapturedRequest) -> bool:
        """Count the request as pending if its rows fit the queue's row budget."""
        rows = len(captured.instances)
        with self._idle:
            if self._queued_rows + rows > self._max_rows:
                return False
            self._unfinished += 1
            self._queued_rows += rows
            return True

    def flush(self, timeout: float) -> bool:
        """Wait until everything submitted so far is written (or dropped); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unfinished == 0, timeout=timeout)

    def _ensure_started(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._drain, name="prediction-capture", daemon=True)
                self._thread.start()

    def _done(self, requests: list[CapturedRequest]) -> None:
        with self._idle:
            self._unfinished -= len(requests)
            self._queued_rows -= sum(len(request.instances) for request in requests)
            if self._unfinished == 0:
                self._idle.notify_all()

    def _drain(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(batch)
            finally:
                self._done(batch)

    def _write(self, batch: list[CapturedRequest]) -> None:
        groups: dict[tuple[str, str], list[CapturedRequest]] = {}
        for captured in batch:
            groups.setdefault((captured.model, captured.prefix), []).append(captured)
        for (model, prefix), requests in groups.items():
            try:
                lines = [json.dumps(record) for captured in requests for record in captured.records()]
                self._put(f"{prefix}/{uuid.uuid4()}.jsonl", ("\n".join(lines) + "\n").encode())
            except Exception as error:
                self._metrics.count(CAPTURE_FAILURES, value=len(requests), model=model)
                self._log.warning(
                    "could not write captured predictions",
                    extra={"model": model, "requests": len(requests), "error": str(error)[:500]},
                )
