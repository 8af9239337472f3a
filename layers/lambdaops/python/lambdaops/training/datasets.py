"""Datasets: `s3://<bucket>/datasets/<model>/<dataset_id>/` with train, validation and optional holdout CSVs
and the manifest that marks the folder complete. What a run can check before any instance starts."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pydantic import ValidationError

from lambdaops.core.errors import DatasetInvalid, DatasetNotFound, InvalidInput
from lambdaops.training.schemas import Manifest

DATASETS_PREFIX = "datasets/"
MANIFEST = "manifest.json"
TRAIN, VALIDATION, HOLDOUT = "train.csv", "validation.csv", "holdout.csv"
HEADER_BYTES = 64 * 1024
"""A header row longer than this is refused (10,000 features of ~6 characters fit)."""
MAX_MANIFEST_BYTES = 256 * 1024


class DatasetFiles(Protocol):
    """The artifacts bucket as datasets need it (the S3 adapter satisfies it)."""

    def head(self, key: str, max_bytes: int) -> tuple[bytes, int] | None:
        """The object's first `max_bytes` bytes and its full size, or None when it does not exist."""
        ...

    def manifests(self, prefix: str) -> list[tuple[str, str]]:
        """(key, last modified ISO time) of every `manifest.json` under `prefix`."""
        ...


@dataclass(frozen=True)
class Dataset:
    bucket: str
    model: str
    dataset_id: str

    @property
    def prefix(self) -> str:
        return f"{DATASETS_PREFIX}{self.model}/{self.dataset_id}/"

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def key(self, name: str) -> str:
        return self.prefix + name

    def file_uri(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.key(name)}"


@dataclass(frozen=True)
class DatasetLayout:
    """What a run trains on: the files present and the train file's columns."""

    dataset: Dataset
    label: str
    features: tuple[str, ...]
    has_holdout: bool

    @property
    def evaluation_file(self) -> str:
        """Evaluation uses the holdout rows, else the validation rows."""
        return HOLDOUT if self.has_holdout else VALIDATION


def dataset_from_uri(uri: str, bucket: str, model: str) -> Dataset:
    """The dataset a `dataset_uri` names; it must be a folder of this model under the bucket's datasets/."""
    expected = f"s3://{bucket}/{DATASETS_PREFIX}{model}/"
    if not uri.startswith(expected):
        raise InvalidInput(
            f"dataset_uri must be a dataset of '{model}': {expected}<dataset_id>/",
            field="dataset_uri",
            dataset_uri=uri,
        )
    dataset_id = uri[len(expected) :].strip("/")
    if not dataset_id or any(part in ("", ".", "..") for part in dataset_id.split("/")):
        raise InvalidInput(f"dataset_uri names no dataset folder under {expected}", field="dataset_uri")
    return Dataset(bucket, model, dataset_id)


def dataset_from_manifest_key(bucket: str, key: str) -> Dataset | None:
    """The dataset whose manifest `key` is (`datasets/<model>/<dataset_id>/manifest.json`), else None."""
    if not key.startswith(DATASETS_PREFIX) or not key.endswith("/" + MANIFEST):
        return None
    parts = key[len(DATASETS_PREFIX) : -len(MANIFEST) - 1].split("/", 1)
    if len(parts) != 2 or not all(parts):
        return None
    return Dataset(bucket, parts[0], parts[1])


def parse_manifest(data: bytes) -> Manifest:
    try:
        document = json.loads(data)
    except ValueError as error:
        raise DatasetInvalid(f"manifest.json is not JSON: {error}", reason="manifest_not_json") from None
    try:
        return Manifest.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "manifest"
        raise DatasetInvalid(
            f"manifest.json is invalid: {where}: {first['msg']}", reason="manifest_invalid"
        ) from None


def _header(name: str, head: tuple[bytes, int] | None, dataset: Dataset) -> list[str]:
    if head is None:
        raise DatasetNotFound(f"the dataset has no {name}: {dataset.file_uri(name)}", file=name)
    data, size = head
    text = data.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise DatasetInvalid(f"{name} is empty", reason="empty_file", file=name)
    if len(lines) == 1 and size <= len(data):
        raise DatasetInvalid(f"{name} has a header row and no data rows", reason="no_rows", file=name)
    if len(lines) == 1:
        raise DatasetInvalid(f"{name}'s header row is longer than {HEADER_BYTES} bytes", reason="header")
    header = next(csv.reader(io.StringIO(lines[0])))
    names = [column.strip() for column in header]
    if len(set(names)) != len(names) or not all(names):
        raise DatasetInvalid(f"{name}'s header has empty or repeated column names", reason="header")
    return names


def _missing(columns: Sequence[str], present: Sequence[str]) -> list[str]:
    return [column for column in columns if column not in present]


class Datasets:
    """Reads manifests and checks a dataset's files and columns before a job is planned."""

    def __init__(self, files: DatasetFiles, bucket: str) -> None:
        self._files = files
        self.bucket = bucket

    def manifest(self, dataset: Dataset) -> Manifest:
        found = self.manifest_if_any(dataset)
        if found is None:
            raise DatasetNotFound(f"the dataset has no manifest.json: {dataset.file_uri(MANIFEST)}")
        return found

    def manifest_if_any(self, dataset: Dataset) -> Manifest | None:
        """The dataset's manifest, read once; None when it has none."""
        head = self._files.head(dataset.key(MANIFEST), MAX_MANIFEST_BYTES)
        if head is None:
            return None
        if head[1] > MAX_MANIFEST_BYTES:
            raise DatasetInvalid(f"manifest.json is larger than {MAX_MANIFEST_BYTES} bytes", reason="size")
        return parse_manifest(head[0])

    def check(self, dataset: Dataset, label: str) -> DatasetLayout:
        """Every file present with rows; the label in train.csv; every train column in the others."""
        columns = _header(TRAIN, self._files.head(dataset.key(TRAIN), HEADER_BYTES), dataset)
        if label not in columns:
            raise DatasetInvalid(
                f"label column '{label}' is not in {TRAIN}; its columns: {', '.join(columns)}",
                reason="missing_label",
                label=label,
            )
        if len(columns) < 2:
            raise DatasetInvalid(f"{TRAIN} has no feature columns besides the label", reason="no_features")
        holdout = self._files.head(dataset.key(HOLDOUT), HEADER_BYTES)
        others = [(VALIDATION, self._files.head(dataset.key(VALIDATION), HEADER_BYTES))]
        if holdout is not None:
            others.append((HOLDOUT, holdout))
        for name, head in others:
            missing = _missing(columns, _header(name, head, dataset))
            if missing:
                raise DatasetInvalid(
                    f"{name} lacks the columns {', '.join(missing)} that {TRAIN} has",
                    reason="missing_columns",
                    file=name,
                    columns=missing,
                )
        features = tuple(column for column in columns if column != label)
        return DatasetLayout(dataset, label, features, has_holdout=holdout is not None)

    def newest_complete(self, model: str) -> Dataset | None:
        """The model's dataset whose manifest was written last (a folder without one is incomplete)."""
        found = [
            (modified, key)
            for key, modified in self._files.manifests(f"{DATASETS_PREFIX}{model}/")
            if dataset_from_manifest_key(self.bucket, key) is not None
        ]
        if not found:
            return None
        _, key = max(found)
        return dataset_from_manifest_key(self.bucket, key)
