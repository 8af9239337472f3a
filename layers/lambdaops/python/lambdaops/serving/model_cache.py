"""The predict function's models: onnxruntime sessions in a per-process LRU within a byte budget.

Artifacts come from S3 through a file cache under /tmp (one file per sha256), so a model evicted from
memory, or needed again by a new session of the same warm container, is not downloaded twice. The bytes
are checked against the version's recorded sha256 before every load, whether they came from S3 or from
the file cache: a mismatch is refused with `ArtifactIntegrityError`, counted as
`ArtifactIntegrityFailures`, logged as an error, the bad file is deleted, and nothing is served from it.

The budget's measure is the artifact's size (an onnxruntime session holds about that much in weights).
A model larger than the whole budget is still served but not kept. Loads are single-flight: concurrent
requests for the same key wait for one load instead of each loading the model.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lambdaops.core.errors import ArtifactIntegrityError
from lambdaops.core.observability import Log
from lambdaops.registry.artifacts import ArtifactStore, artifact_key
from lambdaops.registry.schemas import VersionRecord
from lambdaops.serving.instances import Matrix, element_dtype
from lambdaops.serving.telemetry import ARTIFACT_INTEGRITY_FAILURES, PredictionMetrics


@dataclass(frozen=True)
class ModelKey:
    model: str
    version: str
    sha256: str


@dataclass(frozen=True)
class LoadedModel:
    """A ready session and what feeding it needs."""

    key: ModelKey
    session: Any
    input_name: str
    output_name: str
    dtype: np.dtype[Any]
    width: int
    size_bytes: int

    def run(self, matrix: Matrix) -> Any:
        """The first graph output for `matrix` (onnxruntime's own errors propagate)."""
        return self.session.run([self.output_name], {self.input_name: matrix})[0]


def create_session(data: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4  # run-time failures are raised and logged by the caller
    return ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])


SessionFactory = Callable[[bytes], Any]


class ModelCache:
    def __init__(
        self,
        artifacts: ArtifactStore,
        bucket: str,
        cache_dir: Path,
        budget_bytes: int,
        max_artifact_bytes: int,
        metrics: PredictionMetrics,
        log: Log | None = None,
        create: SessionFactory = create_session,
    ) -> None:
        self._artifacts = artifacts
        self._bucket = bucket
        self._dir = cache_dir
        self._budget = budget_bytes
        self._max_artifact_bytes = max_artifact_bytes
        self._metrics = metrics
        self._log: Log = log or logging.getLogger(__name__)
        self._create = create
        self._lock = threading.Lock()
        self._kept: OrderedDict[ModelKey, LoadedModel] = OrderedDict()
        self._kept_bytes = 0
        self._loading: dict[ModelKey, Future[LoadedModel]] = {}

    @property
    def kept(self) -> list[ModelKey]:
        """Keys in memory, least recently used first."""
        with self._lock:
            return list(self._kept)

    @property
    def kept_bytes(self) -> int:
        return self._kept_bytes

    def get(self, record: VersionRecord) -> LoadedModel:
        """The version's session: from memory, else loaded once however many requests ask at a time."""
        key = ModelKey(record.model, record.version, record.sha256)
        with self._lock:
            loaded = self._kept.get(key)
            if loaded is not None:
                self._kept.move_to_end(key)
                return loaded
            pending = self._loading.get(key)
            owner = pending is None
            if pending is None:
                pending = self._loading[key] = Future()
        if not owner:
            return pending.result()
        try:
            loaded = self._load(key, record)
        except BaseException as error:
            with self._lock:
                del self._loading[key]
            pending.set_exception(error)
            raise
        with self._lock:
            del self._loading[key]
            self._keep(loaded)
        pending.set_result(loaded)
        return loaded

    def _keep(self, loaded: LoadedModel) -> None:
        if loaded.size_bytes > self._budget:
            self._log.warning(
                "model is larger than the cache budget: served, not kept",
                extra={"model": loaded.key.model, "version": loaded.key.version, "bytes": loaded.size_bytes},
            )
            return
        while self._kept and self._kept_bytes + loaded.size_bytes > self._budget:
            _, evicted = self._kept.popitem(last=False)
            self._kept_bytes -= evicted.size_bytes
        self._kept[loaded.key] = loaded
        self._kept_bytes += loaded.size_bytes

    def _load(self, key: ModelKey, record: VersionRecord) -> LoadedModel:
        data = self._verified_bytes(key, record)
        session = self._create(data)
        graph_input, graph_output = session.get_inputs()[0], session.get_outputs()[0]
        return LoadedModel(
            key=key,
            session=session,
            input_name=graph_input.name,
            output_name=graph_output.name,
            dtype=element_dtype(graph_input.type),
            width=len(record.input_schema.features),
            size_bytes=len(data),
        )

    def _verified_bytes(self, key: ModelKey, record: VersionRecord) -> bytes:
        path = self._dir / f"{key.sha256}.onnx"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            pass
        except OSError as error:  # an unreadable /tmp is a cache miss, not a failed request
            self._log.warning("could not read the artifact file cache", extra={"error": str(error)})
        else:
            self._check(key, data, source="file_cache", path=path)
            return data
        object_key = artifact_key(record.artifact_uri, self._bucket, record.model)
        artifact = self._artifacts.fetch(object_key, self._max_artifact_bytes, record.artifact_version_id)
        self._check(key, artifact.data, source="s3")
        self._store(path, artifact.data)
        return artifact.data

    def _check(self, key: ModelKey, data: bytes, source: str, path: Path | None = None) -> None:
        actual = hashlib.sha256(data).hexdigest()
        if actual == key.sha256:
            return
        if path is not None:
            with contextlib.suppress(OSError):  # if it cannot go, it is checked (and refused) again
                path.unlink(missing_ok=True)
        where = {"model": key.model, "version": key.version}
        # Service-level only, so one alarm covers every model (the log names model and version).
        self._metrics.count(ARTIFACT_INTEGRITY_FAILURES)
        self._log.error(
            "artifact does not match its recorded sha256; refused",
            extra={**where, "source": source, "expected": key.sha256, "actual": actual},
        )
        raise ArtifactIntegrityError(
            f"the artifact of {key.model} {key.version} does not match its recorded sha256",
            model=key.model,
            version=key.version,
            source=source,
            expected=key.sha256,
            actual=actual,
        )

    def _store(self, path: Path, data: bytes) -> None:
        """Write the file cache atomically; a full or read-only /tmp costs a future download, nothing more."""
        partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(data)
            os.replace(partial, path)
        except OSError as error:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
            self._log.warning("could not write the artifact file cache", extra={"error": str(error)})
