"""The model cache: LRU within a byte budget, sha256 checks on both sources, one load per key."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lambdaops.core.errors import ArtifactIntegrityError
from lambdaops.registry.schemas import InputSchema, VersionRecord
from lambdaops.registry.stages import Stage
from lambdaops.serving import model_cache
from lambdaops.serving.model_cache import ModelCache, ModelKey, create_session
from lambdaops_tools.demo.sample_models import export_mlp

from .memory_store import FakeArtifacts

BUCKET = "artifacts-bucket"
WIDTH = 4


class RecordingMetrics:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.counts: list[tuple[str, int, dict[str, str]]] = []

    def request(
        self, model: str, version: str, variant: str, *, error: bool, latency_ms: float | None
    ) -> None:
        self.requests.append(
            {"model": model, "version": version, "variant": variant, "error": error, "latency_ms": latency_ms}
        )

    def count(self, name: str, value: int = 1, **dimensions: str) -> None:
        self.counts.append((name, value, dimensions))

    def counted(self, name: str) -> list[dict[str, str]]:
        return [dimensions for counted, _, dimensions in self.counts if counted == name]


def version_record(
    artifacts: FakeArtifacts, version: str, data: bytes, model: str = "churn"
) -> VersionRecord:
    uri = artifacts.put(f"models/{model}/{version}/model.onnx", data)
    return VersionRecord(
        model=model,
        version=version,
        stage=Stage.PRODUCTION,
        artifact_uri=uri,
        artifact_version_id=artifacts.objects[uri.removeprefix(f"s3://{BUCKET}/")][1],
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        metrics={},
        params={},
        input_schema=InputSchema.model_validate(
            {"features": [{"name": f"f{i}", "type": "float"} for i in range(WIDTH)]}
        ),
        lineage={},
        tags={},
        description="",
        created_at="2026-11-01T00:00:00.000Z",
        created_by="alice",
        stage_changed_at="2026-11-01T00:00:00.000Z",
    )


class CacheWorld:
    def __init__(self, cache_dir: Path, budget: int, create: Callable[[bytes], Any] = create_session) -> None:
        self.artifacts = FakeArtifacts(BUCKET)
        self.metrics = RecordingMetrics()
        self.dir = cache_dir
        self.budget = budget
        self.create = create
        self.cache = self.new_process()

    def new_process(self) -> ModelCache:
        """A cache as a fresh process of the same container builds it: same /tmp, empty memory."""
        return ModelCache(
            self.artifacts, BUCKET, self.dir, self.budget, 10_000_000, self.metrics, create=self.create
        )


MODEL_BYTES = [export_mlp(WIDTH, 16, seed=seed) for seed in range(4)]
SIZE = len(MODEL_BYTES[0])


def test_sessions_are_kept_and_evicted_least_recently_used_within_the_budget(tmp_path: Path) -> None:
    assert {len(data) for data in MODEL_BYTES} == {SIZE}
    world = CacheWorld(tmp_path, budget=2 * SIZE + SIZE // 2)
    a, b, c = (version_record(world.artifacts, f"1.0.{i}", MODEL_BYTES[i]) for i in range(3))
    first = world.cache.get(a)
    world.cache.get(b)
    assert world.cache.get(a) is first  # served from memory, and now the most recently used
    world.cache.get(c)
    assert [key.version for key in world.cache.kept] == ["1.0.0", "1.0.2"]
    assert world.cache.kept_bytes == 2 * SIZE
    assert world.artifacts.fetched.count(a.artifact_uri.removeprefix(f"s3://{BUCKET}/")) == 1


def test_a_model_larger_than_the_budget_is_served_but_not_kept(tmp_path: Path) -> None:
    world = CacheWorld(tmp_path, budget=SIZE - 1)
    record = version_record(world.artifacts, "1.0.0", MODEL_BYTES[0])
    loaded = world.cache.get(record)
    probabilities = loaded.run(np.ones((3, WIDTH), dtype=np.float32))
    assert probabilities.shape == (3, 2)
    assert world.cache.kept == []
    assert world.cache.get(record) is not loaded  # loaded again (from the file cache)
    assert len(world.artifacts.fetched) == 1


def test_artifacts_go_through_the_file_cache_named_by_sha256(tmp_path: Path) -> None:
    world = CacheWorld(tmp_path, budget=10 * SIZE)
    record = version_record(world.artifacts, "1.0.0", MODEL_BYTES[0])
    world.cache.get(record)
    assert (tmp_path / f"{record.sha256}.onnx").read_bytes() == MODEL_BYTES[0]
    world.new_process().get(record)
    assert len(world.artifacts.fetched) == 1  # the second process read /tmp, not S3


def test_a_tampered_download_is_refused_counted_logged_and_never_cached(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = CacheWorld(tmp_path, budget=10 * SIZE)
    record = version_record(world.artifacts, "1.0.0", MODEL_BYTES[0])
    key = record.artifact_uri.removeprefix(f"s3://{BUCKET}/")
    world.artifacts.objects[key] = (MODEL_BYTES[1], world.artifacts.objects[key][1])  # same pin, other bytes
    with caplog.at_level(logging.ERROR), pytest.raises(ArtifactIntegrityError) as raised:
        world.cache.get(record)
    assert raised.value.status == 422
    assert raised.value.details["source"] == "s3"
    assert raised.value.details["actual"] == hashlib.sha256(MODEL_BYTES[1]).hexdigest()
    assert world.metrics.counted("ArtifactIntegrityFailures") == [{}]
    assert any("sha256" in message for message in caplog.messages)
    assert list(tmp_path.iterdir()) == []
    assert world.cache.kept == []
    with pytest.raises(ArtifactIntegrityError):  # refused again, not served from anywhere
        world.cache.get(record)


def test_a_tampered_file_cache_is_refused_deleted_and_then_downloaded_again(tmp_path: Path) -> None:
    world = CacheWorld(tmp_path, budget=10 * SIZE)
    record = version_record(world.artifacts, "1.0.0", MODEL_BYTES[0])
    world.cache.get(record)
    cached = tmp_path / f"{record.sha256}.onnx"
    cached.write_bytes(MODEL_BYTES[2])
    fresh = world.new_process()
    with pytest.raises(ArtifactIntegrityError) as raised:
        fresh.get(record)
    assert raised.value.details["source"] == "file_cache"
    assert not cached.exists()
    assert world.metrics.counted("ArtifactIntegrityFailures") == [{}]
    assert fresh.get(record).key == ModelKey("churn", "1.0.0", record.sha256)  # from S3, checked again
    assert cached.read_bytes() == MODEL_BYTES[0]
    assert len(world.artifacts.fetched) == 2


def test_a_full_tmp_does_not_fail_the_load(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the cache directory should be")
    world = CacheWorld(blocked, budget=10 * SIZE)
    record = version_record(world.artifacts, "1.0.0", MODEL_BYTES[0])
    assert world.cache.get(record).size_bytes == SIZE


class CountingFuture(Future[Any]):
    """Counts the threads that wait on a load in progress, so the test can release it when all are in."""

    waiting = 0
    changed = threading.Condition()

    def result(self, timeout: float | None = None) -> Any:
        with CountingFuture.changed:
            CountingFuture.waiting += 1
            CountingFuture.changed.notify_all()
        return super().result(timeout)


def test_concurrent_requests_for_one_model_load_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model_cache, "Future", CountingFuture)
    CountingFuture.waiting = 0
    threads_count = 8
    loads: list[bytes] = []
    release = threading.Event()

    def slow_create(data: bytes) -> Any:
        loads.append(data)
        assert release.wait(timeout=30), "the test never released the load"
        return create_session(data)

    world = CacheWorld(tmp_path, budget=10 * SIZE, create=slow_create)
    record = version_record(world.artifacts, "1.0.0", MODEL_BYTES[0])
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(world.cache.get(record))) for _ in range(threads_count)
    ]
    for thread in threads:
        thread.start()
    with CountingFuture.changed:
        # Every thread but the loader is now waiting on the one load in progress.
        all_waiting = CountingFuture.changed.wait_for(lambda: CountingFuture.waiting == threads_count - 1, 30)
    release.set()
    for thread in threads:
        thread.join()
    assert all_waiting
    assert len(loads) == 1
    assert len(results) == threads_count
    assert all(result is results[0] for result in results)
    assert len(world.artifacts.fetched) == 1


def test_a_failed_load_is_seen_by_every_waiter_and_retried_by_the_next_request(tmp_path: Path) -> None:
    attempts: list[int] = []

    def flaky_create(data: bytes) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("out of memory")
        return create_session(data)

    world = CacheWorld(tmp_path, budget=10 * SIZE, create=flaky_create)
    record = version_record(world.artifacts, "1.0.0", MODEL_BYTES[0])
    with pytest.raises(RuntimeError):
        world.cache.get(record)
    assert world.cache.get(record).key.version == "1.0.0"
    assert len(attempts) == 2
