"""Data to check, as typed columns: inline rows, CSV or JSON Lines in, one array or list per feature out.

Numeric features become float64 arrays with NaN for a missing value (null, an absent key, an empty CSV
cell); category features become lists of strings or None. What cannot be put on a feature's scale is
refused with an `InvalidInput` naming row and feature: a non-number in a numeric feature (in CSV, text
that does not parse), or an infinite value. What can still be compared is recorded for the data-quality
report instead: a fractional value in an int feature or a non-string in a category feature (counted as
wrong types), and columns the schema does not know or does not find.

Rows are converted a chunk at a time, so a large object never exists as one Python object per cell.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np
import numpy.typing as npt

from lambdaops.core.errors import DataUnreadable, InvalidInput
from lambdaops.core.values import json_kind
from lambdaops.registry.schemas import InputSchema

Floats = npt.NDArray[np.float64]
CHUNK_ROWS = 65_536
_NUMBERS = frozenset({int, float, type(None)})
_TEXT = frozenset({str, type(None)})


@dataclass
class WrongTypes:
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, values: Iterable[object]) -> None:
        for value in values:
            self.count += 1
            if len(self.examples) < 5:
                self.examples.append(f"{value!r:.40}")


@dataclass
class Columns:
    """Typed columns of the checked data and what did not fit the schema's shape."""

    rows: int
    numeric: dict[str, Floats]
    category: dict[str, Sequence[str | None]]
    missing: list[str] = field(default_factory=list)
    """Schema features the data does not have."""
    unexpected: list[str] = field(default_factory=list)
    """Columns the schema does not have."""
    wrong_types: dict[str, WrongTypes] = field(default_factory=dict)


def _refuse(message: str, reason: str, row: int, feature: str) -> InvalidInput:
    return InvalidInput(
        f"rows[{row}], feature '{feature}': {message}", reason=reason, row=row, feature=feature
    )


class ColumnBuilder:
    """Accumulates chunks of rows into the schema's typed columns."""

    def __init__(self, schema: InputSchema) -> None:
        self._features = {feature.name: feature.type for feature in schema.features}
        self._numeric: dict[str, list[Floats]] = {}
        self._category: dict[str, Sequence[str | None]] = {}
        self._seen: set[str] = set()
        self._unexpected: set[str] = set()
        self._wrong = {name: WrongTypes() for name in self._features}
        self._interned: dict[str, str] = {}
        self._owned: set[str] = set()
        self.rows = 0

    def add_columns(self, columns: Mapping[str, Sequence[object]], count: int, *, text: bool = False) -> None:
        """One chunk of `count` rows given by column; `text` cells (CSV) are parsed, '' is missing."""
        for name, values in columns.items():
            kind = self._features.get(name)
            if kind is None:
                self._unexpected.add(name)
                continue
            self._seen.add(name)
            if kind == "category":
                self._extend(name, self._categories(name, values, text))
            else:
                self._numeric.setdefault(name, []).append(self._numbers(name, values, kind == "int", text))
        for name in self._features.keys() - columns.keys():
            # Absent from this chunk: missing cells, so later chunks stay aligned.
            if self._features[name] == "category":
                self._extend(name, [None] * count)
            else:
                self._numeric.setdefault(name, []).append(np.full(count, np.nan))
        self.rows += count

    def add_rows(self, rows: Sequence[object]) -> None:
        """Inline or JSON Lines rows: records keyed by feature name, or arrays in schema order."""
        if not rows:
            return
        if all(type(row) is dict for row in rows):
            records: Sequence[dict[str, object]] = rows  # type: ignore[assignment]
            names = {key for record in records for key in record}
            self.add_columns({name: [record.get(name) for record in records] for name in names}, len(rows))
            return
        width = len(self._features)
        for index, row in enumerate(rows):
            if type(row) is not list:
                raise InvalidInput(
                    f"rows[{self.rows + index}]: rows are all arrays in feature order or all objects "
                    "keyed by feature name",
                    reason="not_a_row",
                    row=self.rows + index,
                )
            if len(row) != width:
                raise InvalidInput(
                    f"rows[{self.rows + index}] has {len(row)} values; the schema has {width} features",
                    reason="wrong_width",
                    row=self.rows + index,
                    expected=width,
                    got=len(row),
                )
        arrays: Sequence[list[object]] = rows  # type: ignore[assignment]
        by_column = zip(*arrays, strict=True)
        self.add_columns(dict(zip(self._features, by_column, strict=True)), len(rows))

    def _extend(self, name: str, values: Sequence[str | None]) -> None:
        """The first chunk is kept as given (no copy of a whole column); later ones are appended."""
        if name not in self._category:
            self._category[name] = values
            return
        if name not in self._owned:  # never grow a caller's list
            self._category[name] = list(self._category[name])
            self._owned.add(name)
        existing = self._category[name]
        assert isinstance(existing, list)  # nosec B101 # narrows a type for mypy; nothing runs with -O
        existing.extend(values)

    def build(self) -> Columns:
        if self.rows == 0:
            raise InvalidInput("the data has no rows", reason="no_rows")
        if not self._seen:
            raise InvalidInput(
                "no column of the data is a feature of the version's input schema",
                reason="columns_disagree",
                expected=list(self._features),
                got=sorted(self._unexpected),
            )
        return Columns(
            rows=self.rows,
            numeric={
                name: np.concatenate(chunks) for name, chunks in self._numeric.items() if name in self._seen
            },
            category={name: values for name, values in self._category.items() if name in self._seen},
            missing=[name for name in self._features if name not in self._seen],
            unexpected=sorted(self._unexpected),
            wrong_types={name: wrong for name, wrong in self._wrong.items() if wrong.count},
        )

    def _numbers(self, name: str, values: Sequence[object], integral: bool, text: bool) -> Floats:
        if text:
            cells: Sequence[object] = [value if value != "" else None for value in values]
            allowed = _TEXT
        else:
            cells, allowed = values, _NUMBERS
        if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
            column = values.astype(np.float64, copy=False)
        elif (types := set(map(type, cells))) <= allowed or (
            not text and all(t in allowed or issubclass(t, np.number) for t in types)
        ):
            try:
                column = np.array(cells, dtype=np.float64)  # None becomes NaN
            except ValueError:
                column = self._first_unparsable(name, cells)
            except OverflowError:  # an integer beyond float64
                row = next(
                    i for i, value in enumerate(cells) if isinstance(value, int) and abs(value) > 2**1023
                )
                raise _refuse("expected a finite number", "not_finite", self.rows + row, name) from None
        else:
            bad = next(
                i
                for i, value in enumerate(cells)
                if type(value) not in allowed and (text or not isinstance(value, np.number))
            )
            raise _refuse(
                f"expected a number, got {json_kind(cells[bad])}", "not_a_number", self.rows + bad, name
            )
        infinite = np.isinf(column)
        if infinite.any():
            raise _refuse(
                "expected a finite number", "not_finite", self.rows + int(np.argmax(infinite)), name
            )
        if integral:
            fractional = column != np.floor(column)
            fractional &= ~np.isnan(column)
            if fractional.any():
                self._wrong[name].add(column[fractional].tolist())
        return column

    def _first_unparsable(self, name: str, cells: Sequence[object]) -> Floats:
        for index, value in enumerate(cells):
            try:
                float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                if value is not None:
                    raise _refuse(
                        f"{value!r:.40} is not a number", "not_a_number", self.rows + index, name
                    ) from None
        raise AssertionError("a column numpy could not parse has a cell float() cannot parse")

    def _categories(self, name: str, values: Sequence[object], text: bool) -> Sequence[str | None]:
        if isinstance(values, np.ndarray):
            values = values.tolist()  # numpy strings become str
        if not text and set(map(type, values)) <= _TEXT:
            return values  # type: ignore[return-value]  # already strings or None
        interned = self._interned
        out: list[str | None] = []
        wrong: list[object] = []
        for value in values:
            if value is None or (text and value == ""):
                out.append(None)
                continue
            if isinstance(value, str):
                category = str(value)  # a str subclass (numpy's) becomes a plain str
            else:
                wrong.append(value)
                category = json.dumps(value)
            out.append(interned.setdefault(category, category))
        if wrong:
            self._wrong[name].add(wrong)
        return out


def columns_from_mapping(schema: InputSchema, data: Mapping[str, Sequence[object]]) -> Columns:
    """Columns given whole (numpy arrays or sequences), as benchmarks and library callers hold them."""
    lengths = {len(values) for values in data.values()}
    if len(lengths) > 1:
        raise InvalidInput("columns have different lengths", reason="ragged_columns")
    builder = ColumnBuilder(schema)
    builder.add_columns(data, lengths.pop() if lengths else 0)
    return builder.build()


def _chunks(rows: Iterable[Any]) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, CHUNK_ROWS)):
        yield chunk


def columns_from_rows(schema: InputSchema, rows: Iterable[object]) -> Columns:
    builder = ColumnBuilder(schema)
    for chunk in _chunks(rows):
        builder.add_rows(chunk)
    return builder.build()


def columns_from_csv(schema: InputSchema, data: bytes) -> Columns:
    """CSV with a header row naming the features; cells are text, an empty cell is missing."""
    reader = csv.reader(io.StringIO(_text(data)))
    header = next(reader, None)
    if not header:
        raise DataUnreadable("the CSV object has no header row", reason="no_header")
    builder = ColumnBuilder(schema)
    for chunk in _chunks(reader):
        if any(len(row) != len(header) for row in chunk):
            bad = next(i for i, row in enumerate(chunk) if len(row) != len(header))
            raise DataUnreadable(
                f"CSV row {builder.rows + bad + 1} has a different number of cells than the header",
                reason="ragged_csv",
                row=builder.rows + bad,
            )
        builder.add_columns(dict(zip(header, zip(*chunk, strict=True), strict=True)), len(chunk), text=True)
    return builder.build()


def json_lines(data: bytes) -> Iterator[object]:
    """The JSON value of each non-blank line; a line that is not JSON is `DataUnreadable` naming it."""
    for number, line in enumerate(_text(data).splitlines(), start=1):
        if line.strip():
            try:
                yield json.loads(line)
            except ValueError as error:  # JSONDecodeError, or an integer too long to parse
                raise DataUnreadable(
                    f"line {number} is not JSON: {str(error)[:200]}", reason="not_json", line=number
                ) from None


def columns_from_json_lines(schema: InputSchema, data: bytes) -> Columns:
    """One row per line: a record keyed by feature name or an array in schema order."""
    return columns_from_rows(schema, json_lines(data))


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataUnreadable("the data object is not UTF-8 text", reason="not_utf8") from error
