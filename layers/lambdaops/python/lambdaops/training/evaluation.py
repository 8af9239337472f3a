"""Evaluation: a trained artifact and the production version scored on the same holdout rows.

Columns are encoded as serving encodes them (numbers as floats, a category as its index in the version's
input schema), and the ONNX graphs run with onnxruntime. Metrics carry the plain names promotion gates use.
"""

from __future__ import annotations

import csv
import io
import json
import math
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lambdaops.core.errors import DatasetInvalid, TrainingFailed
from lambdaops.registry.schemas import InputSchema

UNSEEN_CATEGORY = -1
MODEL_FILES = ("model.onnx", "input_schema.json", "labels.json", "metrics.json", "hyperparameters.json")
_EPSILON = 1e-15


@dataclass(frozen=True)
class TrainedModel:
    """What the trainer wrote into the model directory, read from `model.tar.gz`."""

    onnx: bytes
    input_schema: InputSchema
    label: str
    classes: tuple[str, ...]
    metrics: dict[str, float]
    hyperparameters: dict[str, Any]


def read_model_archive(data: bytes) -> TrainedModel:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            files = {
                member.name.removeprefix("./"): archive.extractfile(member)
                for member in archive.getmembers()
                if member.isfile()
            }
            contents = {name: file.read() for name, file in files.items() if file is not None}
    except (tarfile.TarError, OSError, EOFError) as error:
        raise TrainingFailed(
            f"model.tar.gz is not a gzip tar archive: {error}", reason="bad_archive"
        ) from None
    missing = [name for name in MODEL_FILES if name not in contents]
    if missing:
        raise TrainingFailed(
            f"model.tar.gz lacks {', '.join(missing)}", reason="incomplete_model", files=missing
        )
    labels = json.loads(contents["labels.json"])
    metrics = json.loads(contents["metrics.json"])
    return TrainedModel(
        onnx=contents["model.onnx"],
        input_schema=InputSchema.model_validate_json(contents["input_schema.json"]),
        label=str(labels["label"]),
        classes=tuple(str(c) for c in labels["classes"]),
        metrics={k: float(v) for k, v in metrics.items() if isinstance(v, int | float)},
        hyperparameters=json.loads(contents["hyperparameters.json"]),
    )


class HoldoutRows:
    """The evaluation file's columns, as text, read once and encoded per model."""

    def __init__(self, data: bytes, name: str) -> None:
        reader = csv.reader(io.StringIO(data.decode("utf-8-sig")))
        header = [column.strip() for column in next(reader, [])]
        rows = [row for row in reader if row]
        if not rows:
            raise DatasetInvalid(f"{name} has no data rows", reason="no_rows", file=name)
        if any(len(row) != len(header) for row in rows):
            bad = next(i for i, row in enumerate(rows) if len(row) != len(header))
            raise DatasetInvalid(f"{name} row {bad + 2} has a different number of cells than the header")
        self.name = name
        self.columns = dict(zip(header, (list(column) for column in zip(*rows, strict=True)), strict=True))
        self.rows = len(rows)

    def matrix(self, schema: InputSchema) -> npt.NDArray[np.float32]:
        """`[rows, features]` in the schema's order; `DatasetInvalid` names the first bad number."""
        matrix = np.empty((self.rows, len(schema.features)), dtype=np.float32)
        for position, feature in enumerate(schema.features):
            cells = self.columns.get(feature.name)
            if cells is None:
                raise DatasetInvalid(f"{self.name} has no column '{feature.name}'", reason="missing_columns")
            if feature.type == "category":
                # As the reference trainer encodes a category training never saw: no one-hot slot set.
                index = {category: i for i, category in enumerate(feature.categories or [])}
                matrix[:, position] = [index.get(c, UNSEEN_CATEGORY) for c in cells]
                continue
            try:
                matrix[:, position] = np.asarray(cells, dtype=np.float64)
            except ValueError:
                row, value = next((i, c) for i, c in enumerate(cells) if not _is_number(c))
                raise DatasetInvalid(
                    f"{self.name} column '{feature.name}' row {row + 2}: {value!r:.60} is not a number",
                    reason="not_numeric",
                ) from None
        return matrix

    def labels(self, label: str, classes: Sequence[str]) -> npt.NDArray[np.int64]:
        cells = self.columns.get(label)
        if cells is None:
            raise DatasetInvalid(f"{self.name} has no label column '{label}'", reason="missing_label")
        index = {_canonical(c): i for i, c in enumerate(classes)}
        unknown = next((c for c in cells if _canonical(c) not in index), None)
        if unknown is not None:
            raise DatasetInvalid(f"{self.name} has label {unknown!r:.60} that training never saw")
        return np.asarray([index[_canonical(c)] for c in cells], dtype=np.int64)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _canonical(value: str) -> str:
    """`1`, `1.0` and ` 1` are one class; text labels stay as they are."""
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else repr(number)


def classification_metrics(
    truth: npt.NDArray[np.int64],
    probabilities: npt.NDArray[np.float32] | None,
    predicted: npt.NDArray[np.int64],
) -> dict[str, float]:
    """accuracy, f1_macro (over the classes in truth or prediction) and, with probabilities, log_loss."""
    metrics = {"accuracy": float(np.mean(predicted == truth))}
    scores = []
    for cls in np.union1d(truth, predicted):
        tp = float(np.sum((predicted == cls) & (truth == cls)))
        fp = float(np.sum((predicted == cls) & (truth != cls)))
        fn = float(np.sum((predicted != cls) & (truth == cls)))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    metrics["f1_macro"] = float(np.mean(scores))
    if probabilities is not None and probabilities.ndim == 2 and probabilities.shape[1] > int(truth.max()):
        chosen = np.clip(probabilities[np.arange(len(truth)), truth], _EPSILON, 1.0)
        metrics["log_loss"] = float(-np.mean(np.log(chosen)))
    return {name: round(value, 6) for name, value in metrics.items() if math.isfinite(value)}


def score(onnx: bytes, matrix: npt.NDArray[np.float32], truth: npt.NDArray[np.int64]) -> dict[str, float]:
    """Runs the graph on the rows: its first output is the predicted class, a second its probabilities."""
    import onnxruntime as ort  # the pipeline function's onnx layer; drift's functions never reach here

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(onnx, sess_options=options, providers=["CPUExecutionProvider"])
    graph_input = session.get_inputs()[0]
    dtype = np.float64 if graph_input.type == "tensor(double)" else np.float32
    outputs = session.run(None, {graph_input.name: matrix.astype(dtype)})
    predicted = np.asarray(outputs[0]).reshape(len(truth), -1)
    probabilities: npt.NDArray[np.float32] | None
    if predicted.shape[1] > 1:  # a graph that outputs scores first: the class is their argmax
        probabilities = predicted.astype(np.float32)
        labels = predicted.argmax(axis=1)
    else:
        labels = predicted[:, 0]
        probabilities = np.asarray(outputs[1], dtype=np.float32) if len(outputs) > 1 else None
    return classification_metrics(truth, probabilities, labels.astype(np.int64))
