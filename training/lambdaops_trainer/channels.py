"""A channel's CSV files as columns: every `*.csv` in its folder, sorted by name, each with a header row.

Files are parsed by numpy's C `loadtxt` in one pass, each column typed from a guess made on the first rows
(numbers as float64, anything else as the cells' text); a file that does not fit the guess is read again
as text, so that each problem can be found and named by file, row, column and value. Rows count from 1
after the header.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lambdaops_trainer.failure import InvalidData

GUESS_ROWS = 1000
"""Rows read with the csv module to guess which columns numpy can parse as numbers."""


@dataclass(frozen=True)
class CsvFile:
    path: Path
    header: tuple[str, ...]
    rows: int


@dataclass(frozen=True)
class Table:
    """One channel's columns by name: float64 where numpy parsed the column as numbers, else text."""

    channel: str
    files: tuple[CsvFile, ...]
    columns: dict[str, npt.NDArray[Any]]

    @property
    def rows(self) -> int:
        return sum(file.rows for file in self.files)

    @property
    def header(self) -> tuple[str, ...]:
        return self.files[0].header

    def file_name(self) -> str:
        """The first file, as messages name it: `train.csv`, `validation file val.csv`."""
        name = self.files[0].path.name
        return name if self.channel == "train" else f"{self.channel} file {name}"

    def where(self, row: int) -> str:
        """`validation file val.csv row 3 (line 4)` for a row of the whole channel (0-based)."""
        for file in self.files:
            if row < file.rows:
                return f"{self.channel} file {file.path.name} row {row + 1} (line {row + 2})"
            row -= file.rows
        raise IndexError(row)


def read_channel(directory: Path, channel: str, label: str, numeric: Iterable[str] | None = None) -> Table:
    """Every `*.csv` in `directory`, sorted by name, concatenated by column name.

    `numeric` names the columns to parse as numbers (the schema's, outside training); None guesses them.
    The label is always read as text: its classes are the values as written.
    """
    if not directory.is_dir():
        raise InvalidData(f"the {channel} channel {directory} is not a folder")
    paths = sorted((path for path in directory.glob("*.csv") if path.is_file()), key=lambda p: p.name)
    if not paths:
        raise InvalidData(f"the {channel} channel ({directory}) holds no *.csv file")
    heads = [_head(path, channel) for path in paths]
    header = heads[0][0]
    for path, (other, _) in zip(paths[1:], heads[1:], strict=True):
        if set(other) != set(header):
            raise InvalidData(
                f"{channel} file {path.name} has columns {', '.join(other)}; "
                f"{paths[0].name} has {', '.join(header)}"
            )
    guess = set(numeric) if numeric is not None else _guess_numeric(header, [rows for _, rows in heads])
    guess.discard(label)
    parts = [_load(path, head, guess, channel) for path, (head, _) in zip(paths, heads, strict=True)]
    files = tuple(
        CsvFile(path, head, len(next(iter(part.values()))))
        for path, (head, _), part in zip(paths, heads, parts, strict=True)
    )
    columns: dict[str, npt.NDArray[Any]] = {}
    for name in header:
        pieces = [part[name] for part in parts]
        if any(piece.dtype == object for piece in pieces):
            # Text wherever one file had text: numbers would lose how they were written ("1.0" vs "1").
            pieces = [
                piece if piece.dtype == object else _text_column(file.path, file.header.index(name))
                for piece, file in zip(pieces, files, strict=True)
            ]
        columns[name] = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
    return Table(channel, files, columns)


def _head(path: Path, channel: str) -> tuple[tuple[str, ...], list[list[str]]]:
    """The header and the first rows, read with the csv module; an empty or header-only file fails here."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            first = next(reader, None)
            rows = list(itertools.islice((row for row in reader if row), GUESS_ROWS))
    except UnicodeDecodeError as error:
        raise InvalidData(f"{channel} file {path.name} is not UTF-8 text ({error.reason})") from None
    if not first:
        raise InvalidData(f"{channel} file {path.name} is empty: it needs a header row and data rows")
    header = tuple(cell.strip() for cell in first)
    if not rows:
        raise InvalidData(f"{channel} file {path.name} has a header but no data rows")
    if "" in header:
        raise InvalidData(f"{channel} file {path.name} has a column with no name in its header")
    if len(set(header)) != len(header):
        twice = next(name for name in header if header.count(name) > 1)
        raise InvalidData(f"{channel} file {path.name} names column {twice!r} twice in its header")
    return header, rows


def _guess_numeric(header: tuple[str, ...], samples: list[list[list[str]]]) -> set[str]:
    """Columns whose first rows are all numbers: numpy parses those as float64, the rest as text."""
    guess = set(header)
    for rows in samples:
        for row in rows:
            for name, cell in zip(header, row, strict=False):
                if name in guess and not is_number(cell):
                    guess.discard(name)
    return guess


def _load(
    path: Path, header: tuple[str, ...], numeric: set[str], channel: str
) -> dict[str, npt.NDArray[Any]]:
    kinds = [np.float64 if name in numeric else object for name in header]
    try:
        data = _loadtxt(path, np.dtype([(f"c{i}", kind) for i, kind in enumerate(kinds)]))
    except ValueError as error:
        if isinstance(error, UnicodeDecodeError):
            raise InvalidData(f"{channel} file {path.name} is not UTF-8 text ({error.reason})") from None
        try:  # a guessed number column holds text further down, or a row is ragged
            data = _loadtxt(path, np.dtype([(f"c{i}", object) for i in range(len(header))]))
        except ValueError as again:
            raise _unparsable(path, header, channel, again) from None
    return {name: data[f"c{i}"] for i, name in enumerate(header)}


def _loadtxt(path: Path, dtype: np.dtype[Any], usecols: int | None = None) -> npt.NDArray[Any]:
    array: npt.NDArray[Any] = np.loadtxt(
        path,
        dtype=dtype,
        delimiter=",",
        quotechar='"',
        comments=None,
        skiprows=1,
        usecols=usecols,
        encoding="utf-8-sig",
        ndmin=1,
    )
    return array


def _text_column(path: Path, index: int) -> npt.NDArray[Any]:
    return _loadtxt(path, np.dtype(object), usecols=index)


def _unparsable(path: Path, header: tuple[str, ...], channel: str, error: ValueError) -> InvalidData:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = (row for row in itertools.islice(csv.reader(handle), 1, None) if row)
        for number, row in enumerate(rows, start=1):
            if len(row) != len(header):
                return InvalidData(
                    f"{channel} file {path.name} row {number} (line {number + 1}) has {len(row)} cells; "
                    f"the header has {len(header)}"
                )
    return InvalidData(f"{channel} file {path.name} could not be parsed as CSV: {error}")


def is_number(cell: str) -> bool:
    """Whether Python reads the cell as a number (the rule that makes a column numeric)."""
    try:
        float(cell)
    except ValueError:
        return False
    return True
