"""Prediction instances: checked against a version's input schema and encoded as one matrix.

Rows come as arrays in feature order or as records keyed by feature name. Float and int features take
JSON numbers (a boolean is not a number; an int feature's value must be integral), a category feature
takes one of its `categories` and is encoded as that category's index. Only finite numbers are accepted.
Every refusal is an `InvalidInput` whose details name the row and the feature.

The all-numeric array shape is the hot path: it is checked with a few passes in C (cell types, row
lengths) and one `np.asarray`, never per cell in Python. Everything else (records, categories, and the
precise error for a bad array) goes through the per-cell path. A feature's `min` and `max` describe the
training data (drift reports use them); they are not enforced here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from lambdaops.core.errors import InvalidInput, TooManyInstances
from lambdaops.core.values import json_kind
from lambdaops.registry.schemas import Feature, InputSchema

_ELEMENT_DTYPES: dict[str, type[np.generic]] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int8)": np.int8,
    "tensor(int16)": np.int16,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(uint8)": np.uint8,
    "tensor(uint16)": np.uint16,
    "tensor(uint32)": np.uint32,
}
_NUMBER_TYPES = frozenset({float, int})

Matrix = npt.NDArray[Any]


def element_dtype(onnx_type: str) -> np.dtype[Any]:
    """The numpy dtype fed to a graph input of this ONNX type (float32 for types numpy lacks)."""
    return np.dtype(_ELEMENT_DTYPES.get(onnx_type, np.float32))


def _refuse(message: str, reason: str, row: int, feature: str | None = None, **details: Any) -> InvalidInput:
    where = f"instances[{row}]" + (f", feature '{feature}'" if feature is not None else "")
    return InvalidInput(f"{where}: {message}", reason=reason, row=row, feature=feature, **details)


def _number(value: object, row: int, feature: str) -> float | int:
    # Exact type checks: bool is an int subclass, and a boolean is not a number here.
    if type(value) not in _NUMBER_TYPES:
        raise _refuse(f"expected a number, got {json_kind(value)}", "not_a_number", row, feature)
    number = cast(float | int, value)
    try:
        finite = math.isfinite(number)
    except OverflowError:
        finite = False
    if not finite:
        raise _refuse("expected a finite number", "not_finite", row, feature)
    return number


def _cell_encoder(feature: Feature) -> Callable[[object, int], float | int]:
    name = feature.name
    if feature.type == "float":
        return lambda value, row: _number(value, row, name)
    if feature.type == "int":

        def integral(value: object, row: int) -> int:
            number = _number(value, row, name)
            if isinstance(number, float) and not number.is_integer():
                raise _refuse(f"expected an integer, got {number}", "not_integral", row, name)
            return int(number)

        return integral
    index = {category: position for position, category in enumerate(feature.categories or [])}

    def category(value: object, row: int) -> int:
        if type(value) is not str or value not in index:
            raise _refuse(f"{value!r:.60} is not one of its categories", "unknown_category", row, name)
        return index[value]

    return category


class InstanceEncoder:
    """Encodes request rows for one version: its input schema and its graph input's element type."""

    def __init__(self, schema: InputSchema, dtype: np.dtype[Any], max_instances: int) -> None:
        self.names = tuple(feature.name for feature in schema.features)
        self.dtype = dtype
        self.max_instances = max_instances
        self._width = len(self.names)
        self._name_set = frozenset(self.names)
        self._cells = [_cell_encoder(feature) for feature in schema.features]
        self._numeric = all(feature.type != "category" for feature in schema.features)
        self._int_columns = [i for i, feature in enumerate(schema.features) if feature.type == "int"]
        if dtype.kind in "iu":
            self._int_columns = list(range(self._width))
            self._limits: tuple[float, float] = (float(np.iinfo(dtype).min), float(np.iinfo(dtype).max))
        else:
            self._limits = (-math.inf, math.inf)

    def encode(self, instances: Sequence[object]) -> Matrix:
        """One `[rows, features]` matrix of the graph's element type, or the first refusal."""
        if not instances:
            raise InvalidInput("instances is empty: give at least one row", reason="no_instances")
        if len(instances) > self.max_instances:
            raise TooManyInstances(
                f"{len(instances)} instances in one request; the limit is {self.max_instances}",
                count=len(instances),
                max_instances=self.max_instances,
            )
        cells = self._number_cells(instances) if self._numeric else None
        if cells is not None:
            flat, cell_types = cells
            # Integers stay exact for an integer graph; anything else goes through float64.
            exact = self.dtype.kind in "iu" and cell_types == {int}
            try:
                matrix = np.array(flat, dtype=np.int64 if exact else np.float64)
            except OverflowError:  # an integer too large for the matrix: the per-cell path names it
                pass
            else:
                return self._checked(matrix.reshape(len(instances), self._width))
        return self._encode_cells(instances)

    def _number_cells(self, instances: Sequence[object]) -> tuple[list[object], set[type]] | None:
        """All cells, flat, and their types, when every row is a list of `width` numbers (all in C)."""
        if set(map(type, instances)) != {list}:
            return None
        rows = cast(Sequence[list[object]], instances)
        if set(map(len, rows)) != {self._width}:
            return None
        flat = list(chain.from_iterable(rows))
        cell_types = set(map(type, flat))
        return (flat, cell_types) if cell_types <= _NUMBER_TYPES else None

    def _checked(self, matrix: Matrix) -> Matrix:
        finite = np.isfinite(matrix)
        if not finite.all():
            self._raise_at(~finite, "expected a finite number", "not_finite")
        if self._int_columns:
            columns = matrix[:, self._int_columns]
            fractional = columns != np.floor(columns)
            if fractional.any():
                row, column = np.argwhere(fractional)[0]
                value = float(columns[row, column])
                raise _refuse(
                    f"expected an integer, got {value}",
                    "not_integral",
                    int(row),
                    self.names[self._int_columns[column]],
                )
        low, high = self._limits
        if low > -math.inf:
            outside = (matrix < low) | (matrix > high)
            if outside.any():
                self._raise_at(outside, "is outside the range of the model's input type", "out_of_range")
        with np.errstate(over="ignore"):  # overflow to inf is checked for just below
            encoded = matrix.astype(self.dtype, copy=False)
        if self.dtype.kind == "f" and self.dtype.itemsize < matrix.dtype.itemsize:
            overflow = ~np.isfinite(encoded)
            if overflow.any():
                self._raise_at(overflow, "is outside the range of the model's input type", "out_of_range")
        return encoded

    def _raise_at(self, bad: npt.NDArray[np.bool_], message: str, reason: str) -> None:
        row, column = np.argwhere(bad)[0]
        raise _refuse(message, reason, int(row), self.names[column])

    def _encode_cells(self, instances: Sequence[object]) -> Matrix:
        rows: list[list[float | int]] = []
        for index, instance in enumerate(instances):
            if isinstance(instance, list):
                if len(instance) != self._width:
                    raise _refuse(
                        f"has {len(instance)} values; the model takes {self._width}",
                        "wrong_width",
                        index,
                        expected=self._width,
                        got=len(instance),
                    )
                values: Sequence[object] = instance
            elif isinstance(instance, dict):
                values = self._record_values(instance, index)
            else:
                raise _refuse(
                    "each instance is an array of values or an object keyed by feature name",
                    "not_a_row",
                    index,
                )
            rows.append([encode(value, index) for encode, value in zip(self._cells, values, strict=True)])
        try:
            matrix = np.asarray(rows, dtype=np.float64 if self.dtype.kind == "f" else np.int64)
        except OverflowError:
            row, column = next(
                (r, c) for r, values in enumerate(rows) for c, v in enumerate(values) if abs(v) >= 2**63
            )
            raise _refuse(
                "is outside the range of the model's input type", "out_of_range", row, self.names[column]
            ) from None
        return self._checked(matrix)

    def _record_values(self, record: dict[Any, object], index: int) -> list[object]:
        if record.keys() != self._name_set:
            missing = [name for name in self.names if name not in record]
            unknown = sorted(str(key) for key in record if key not in self._name_set)
            if missing:
                raise _refuse(
                    f"is missing {len(missing)} feature(s): {', '.join(missing)}",
                    "missing_feature",
                    index,
                    missing[0],
                    features=missing,
                )
            raise _refuse(
                f"has unknown feature(s): {', '.join(unknown)}",
                "unknown_feature",
                index,
                unknown[0],
                features=unknown,
            )
        return [record[name] for name in self.names]
