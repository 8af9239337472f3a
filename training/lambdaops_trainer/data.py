"""Channels into arrays: the schema is inferred from the train channel and applied to the others.

Every column but the label is a feature. A column is numeric when every non-empty train value parses as
a number (`int` when all are integral), else a category with the values seen in training, sorted. The
label's classes are its distinct train values, sorted (numerically when all are integers). Rows are
encoded as lambdaops serving encodes them, so that the exported graph takes what serving feeds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from lambdaops_trainer.channels import Table, is_number
from lambdaops_trainer.failure import InvalidData

FeatureType = Literal["float", "int", "category"]
UNSEEN_CATEGORY = -1
"""How a category not seen in training is encoded outside training: no one-hot slot is set."""
MAX_CATEGORIES = 1000
"""Per category feature: each is one-hot encoded, and the encoded train rows are held in memory."""


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    type: FeatureType
    categories: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The feature as lambdaops's `InputSchema` reads it (no other keys)."""
        spec: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.type == "category":
            spec["categories"] = list(self.categories)
        return spec


@dataclass(frozen=True)
class TableSchema:
    """The model's contract: features in input order, the label column and its classes."""

    label: str
    features: tuple[FeatureSpec, ...]
    classes: tuple[str, ...]

    @classmethod
    def numeric(cls, width: int, classes: int, label: str = "label") -> TableSchema:
        """Float features `f0..f{width-1}` and classes `"0".."{classes-1}"`, for data made in code."""
        return cls(
            label=label,
            features=tuple(FeatureSpec(f"f{i}", "float") for i in range(width)),
            classes=tuple(str(c) for c in range(classes)),
        )

    def input_schema(self) -> dict[str, Any]:
        return {"features": [feature.as_json() for feature in self.features]}

    def labels(self) -> dict[str, Any]:
        return {"label": self.label, "classes": list(self.classes)}


@dataclass(frozen=True)
class Dataset:
    """Rows encoded as serving encodes them: float32 `[rows, features]` in the schema's order (a category
    cell is its index in `categories`, `UNSEEN_CATEGORY` for one training never saw) and class indices."""

    x: npt.NDArray[np.float32]
    y: npt.NDArray[np.int64]
    schema: TableSchema

    def __post_init__(self) -> None:
        if self.x.ndim != 2 or self.x.shape[1] != len(self.schema.features):
            width = len(self.schema.features)
            raise ValueError(f"x has shape {self.x.shape}; the schema has {width} features")
        if self.y.shape != (self.x.shape[0],):
            raise ValueError(f"y has shape {self.y.shape}; x has {self.x.shape[0]} rows")

    @property
    def rows(self) -> int:
        return int(self.x.shape[0])


def infer_schema(train: Table, label: str) -> TableSchema:
    """Feature types and categories, and the label's classes, from the train channel."""
    if label not in train.columns:
        raise InvalidData(
            f"label column {label!r} is not in {train.file_name()}; columns: {', '.join(train.header)}"
        )
    features = []
    for name in train.header:
        if name == label:
            continue
        column = train.columns[name]
        if _all_numbers(column):
            values = _numbers(train, name)
            integral = bool(np.all(values == np.floor(values)))
            features.append(FeatureSpec(name, "int" if integral else "float"))
        else:
            categories = tuple(np.unique(column.astype(str)).tolist())
            if len(categories) > MAX_CATEGORIES:
                raise InvalidData(
                    f"column {name!r} has {len(categories):,} distinct values in the train channel;"
                    f" a category feature may have at most {MAX_CATEGORIES:,} (each is one-hot encoded):"
                    " drop the column or give it as numbers"
                )
            features.append(FeatureSpec(name, "category", categories))
    if not features:
        raise InvalidData(f"{train.file_name()} has only the label column; every other column is a feature")
    return TableSchema(label, tuple(features), _classes(train, label))


def encode(table: Table, schema: TableSchema, warn: Callable[[str], None] | None = None) -> Dataset:
    """The channel in the schema's feature order; `warn` hears of categories training never saw."""
    missing = [feature.name for feature in schema.features if feature.name not in table.columns]
    if missing:
        raise InvalidData(
            f"feature column {missing[0]!r} is missing from {table.file_name()}; "
            f"columns: {', '.join(table.header)}"
        )
    if schema.label not in table.columns:
        raise InvalidData(
            f"label column {schema.label!r} is not in {table.file_name()}; columns: {', '.join(table.header)}"
        )
    x = np.empty((table.rows, len(schema.features)), dtype=np.float32)
    for position, feature in enumerate(schema.features):
        if feature.type == "category":
            codes = _codes(table.columns[feature.name], feature.categories)
            unseen = int(np.count_nonzero(codes == UNSEEN_CATEGORY))
            if unseen and warn is not None:
                warn(
                    f"{table.channel}: {unseen} value(s) of {feature.name!r} are categories training never"
                    " saw; they set no one-hot slot"
                )
            x[:, position] = codes
        else:
            x[:, position] = _numbers(table, feature.name)
    labels = table.columns[schema.label]
    y = _codes(labels, schema.classes)
    unseen_rows = np.flatnonzero(y == UNSEEN_CATEGORY)
    if unseen_rows.size:
        row = int(unseen_rows[0])
        raise InvalidData(
            f"{table.where(row)}: label {labels[row]!r:.100} was not seen in training; "
            f"classes: {', '.join(schema.classes)}"
        )
    return Dataset(x, y, schema)


def _all_numbers(column: npt.NDArray[Any]) -> bool:
    """Whether every non-empty cell is a number: the rule that makes a column numeric."""
    if column.dtype != object:
        return True
    try:
        column[column != ""].astype(np.float64)
    except ValueError:
        return False
    return True


def _numbers(table: Table, name: str) -> npt.NDArray[np.float64]:
    """A numeric column's values, or the first cell that is missing or not a finite number."""
    column = table.columns[name]
    if column.dtype == object:
        empty = np.flatnonzero(column == "")
        if empty.size:
            raise InvalidData(
                f"{table.where(int(empty[0]))}, column {name!r}: the value is missing; "
                "a numeric column needs a number in every row"
            )
        try:
            values: npt.NDArray[np.float64] = column.astype(np.float64)
        except ValueError:
            row = next(i for i, cell in enumerate(column) if not is_number(cell))
            raise InvalidData(
                f"{table.where(row)}, column {name!r}: {column[row]!r:.100} is not a number, "
                "but the column is numeric in the training data"
            ) from None
    else:
        values = column
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        raise InvalidData(f"{table.where(row)}, column {name!r}: {values[row]} is not a finite number")
    return values


def _codes(column: npt.NDArray[Any], values: tuple[str, ...]) -> npt.NDArray[np.int64]:
    """Each cell's index in `values`, `UNSEEN_CATEGORY` where it is not one of them."""
    distinct, inverse = np.unique(column.astype(str), return_inverse=True)
    index = {value: position for position, value in enumerate(values)}
    lookup = np.array([index.get(value, UNSEEN_CATEGORY) for value in distinct.tolist()], dtype=np.int64)
    codes: npt.NDArray[np.int64] = lookup[inverse]
    return codes


def _classes(train: Table, label: str) -> tuple[str, ...]:
    column = train.columns[label]
    empty = np.flatnonzero(column.astype(str) == "")
    if empty.size:
        raise InvalidData(f"{train.where(int(empty[0]))}: the label {label!r} is missing")
    distinct: list[str] = np.unique(column.astype(str)).tolist()
    try:
        classes = sorted(distinct, key=lambda value: (int(value), value))
    except ValueError:
        classes = sorted(distinct)
    if len(classes) < 2:
        raise InvalidData(
            f"label column {label!r} has one class ({classes[0]!r}) in the train channel; "
            "a classifier needs at least two"
        )
    return tuple(classes)
