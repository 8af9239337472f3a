"""Data to check as typed columns from rows, CSV, JSON Lines and arrays; refusals name row and feature."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from lambdaops.core.errors import DataUnreadable, InvalidInput, LambdaopsError
from lambdaops.monitoring.drift import columns as drift_columns
from lambdaops.monitoring.drift.columns import (
    ColumnBuilder,
    Columns,
    columns_from_csv,
    columns_from_json_lines,
    columns_from_mapping,
    columns_from_rows,
    json_lines,
)
from lambdaops.registry.schemas import InputSchema

SCHEMA = InputSchema.model_validate(
    {
        "features": [
            {"name": "tenure", "type": "float"},
            {"name": "tickets", "type": "int"},
            {"name": "plan", "type": "category", "categories": ["basic", "plus", "pro"]},
        ]
    }
)
NAN = math.nan


def plain(columns: Columns) -> dict[str, list[Any]]:
    """Columns as lists, NaN as None, so whole results compare with `==`."""
    numeric = {
        name: [None if math.isnan(v) else v for v in column.tolist()]
        for name, column in columns.numeric.items()
    }
    return numeric | {name: list(values) for name, values in columns.category.items()}


EXPECTED = {"tenure": [1.5, None, 3.0], "tickets": [2.0, 0.0, None], "plan": ["pro", None, "basic"]}


def refusal(build: Any, *args: Any, error: type[LambdaopsError] = InvalidInput) -> dict[str, Any]:
    with pytest.raises(error) as raised:
        build(*args)
    assert type(raised.value) is error
    assert raised.value.status == (400 if error is InvalidInput else 422)
    return raised.value.details


def unreadable(build: Any, *args: Any) -> dict[str, Any]:
    return refusal(build, *args, error=DataUnreadable)


def test_records_and_arrays_give_the_same_typed_columns() -> None:
    records = [
        {"tenure": 1.5, "tickets": 2, "plan": "pro"},
        {"tenure": None, "tickets": 0},  # a null and an absent key are both missing
        {"plan": "basic", "tenure": 3, "tickets": None},
    ]
    arrays = [[1.5, 2, "pro"], [None, 0, None], [3, None, "basic"]]
    for rows in (records, arrays):
        columns = columns_from_rows(SCHEMA, rows)
        assert columns.rows == 3
        assert plain(columns) == EXPECTED
        assert all(column.dtype == np.float64 for column in columns.numeric.values())
        assert (columns.missing, columns.unexpected, columns.wrong_types) == ([], [], {})


def test_csv_cells_are_parsed_in_header_order_and_an_empty_cell_is_missing() -> None:
    data = b"plan,tickets,tenure\npro,2,1.5\n,0,\nbasic,,3e0\n"
    assert plain(columns_from_csv(SCHEMA, data)) == EXPECTED
    assert plain(columns_from_csv(SCHEMA, b"\xef\xbb\xbf" + data)) == EXPECTED  # a byte-order mark


def test_unparsable_csv_text_is_refused_naming_row_and_feature() -> None:
    details = refusal(columns_from_csv, SCHEMA, b"tenure,tickets,plan\n1,2,pro\n2,lots,basic\n")
    assert details == {"reason": "not_a_number", "row": 1, "feature": "tickets"}


def test_a_ragged_csv_row_a_missing_header_and_non_utf8_bytes_are_unreadable() -> None:
    assert unreadable(columns_from_csv, SCHEMA, b"tenure,tickets,plan\n1,2,pro\n1,2\n") == {
        "reason": "ragged_csv",
        "row": 1,
    }
    assert unreadable(columns_from_csv, SCHEMA, b"") == {"reason": "no_header"}
    assert unreadable(columns_from_csv, SCHEMA, b"tenure\n\xff\n") == {"reason": "not_utf8"}
    assert unreadable(columns_from_json_lines, SCHEMA, b"\xfe[1, 2]\n") == {"reason": "not_utf8"}


def test_json_lines_of_records_or_arrays_skip_blank_lines() -> None:
    lines = [{"tenure": 1.5, "tickets": 2, "plan": "pro"}, {"tickets": 0}, [3, None, "basic"]]
    data = "\n".join(json.dumps(line) for line in lines[:2]).encode() + b"\n\n"
    assert plain(columns_from_json_lines(SCHEMA, data)) == {
        "tenure": [1.5, None],
        "tickets": [2.0, 0.0],
        "plan": ["pro", None],
    }
    arrays = b'[1.5, 2, "pro"]\n[null, 0, null]\n[3, null, "basic"]\n'
    assert plain(columns_from_json_lines(SCHEMA, arrays)) == EXPECTED


def test_captured_predictions_give_rows_from_their_features_field() -> None:
    captured = [
        {"request_id": "a", "features": {"tenure": 1.5, "tickets": 2, "plan": "pro"}, "prediction": 1},
        {"request_id": "b", "features": {"tenure": None, "tickets": 0}, "prediction": 0},
        {"request_id": "c", "features": {"plan": "basic", "tenure": 3}, "prediction": 0},
    ]
    data = "\n".join(json.dumps(line) for line in captured).encode()
    rows = [record["features"] for record in json_lines(data) if isinstance(record, dict)]
    columns = columns_from_rows(SCHEMA, rows)
    assert plain(columns) == {
        "tenure": [1.5, None, 3.0],
        "tickets": [2.0, 0.0, None],
        "plan": ["pro", None, "basic"],
    }
    assert columns.unexpected == []  # the capture's own fields are not columns


def test_a_line_that_is_not_json_is_unreadable_naming_the_line() -> None:
    data = b'{"tenure": 1, "tickets": 2, "plan": "pro"}\n\n{"tenure": \n'
    assert unreadable(columns_from_json_lines, SCHEMA, data) == {"reason": "not_json", "line": 3}


@pytest.mark.parametrize(
    "build",
    [
        lambda: columns_from_rows(SCHEMA, []),
        lambda: columns_from_csv(SCHEMA, b"tenure,tickets,plan\n"),
        lambda: columns_from_json_lines(SCHEMA, b"\n\n"),
        lambda: columns_from_mapping(SCHEMA, {"tenure": [], "plan": []}),
        lambda: columns_from_mapping(SCHEMA, {}),
    ],
    ids=["rows", "csv", "json_lines", "mapping", "no_columns"],
)
def test_no_rows_is_refused(build: Any) -> None:
    assert refusal(build)["reason"] == "no_rows"


def test_arrays_of_the_wrong_width_are_refused_naming_the_row() -> None:
    rows = [[1.0, 2, "pro"], [1.0, 2]]
    assert refusal(columns_from_rows, SCHEMA, rows) == {
        "reason": "wrong_width",
        "row": 1,
        "expected": 3,
        "got": 2,
    }


def test_mixing_arrays_and_records_is_refused() -> None:
    # The first row that is not an array is named: here the record before the array.
    rows = [{"tenure": 1.0}, [1.0, 2, "pro"]]
    assert refusal(columns_from_rows, SCHEMA, rows) == {"reason": "not_a_row", "row": 0}
    assert refusal(columns_from_rows, SCHEMA, [[1.0, 2, "pro"], "row"]) == {"reason": "not_a_row", "row": 1}


def test_data_with_no_column_of_the_schema_is_refused() -> None:
    details = refusal(columns_from_rows, SCHEMA, [{"age": 1, "name": "x"}])
    assert details == {
        "reason": "columns_disagree",
        "expected": ["tenure", "tickets", "plan"],
        "got": ["age", "name"],
    }


def test_missing_and_unexpected_columns_are_recorded_not_refused() -> None:
    columns = columns_from_rows(SCHEMA, [{"tenure": 1.0, "note": "hi"}, {"tenure": 2.0, "extra": 1}])
    assert (columns.missing, columns.unexpected) == (["tickets", "plan"], ["extra", "note"])
    assert plain(columns) == {"tenure": [1.0, 2.0]}  # a missing column is a finding, not an empty column


@pytest.mark.parametrize(
    ("value", "kind"), [(True, "a boolean"), ("3", "a string"), ([1], "an array"), ({"a": 1}, "an object")]
)
def test_non_numbers_in_numeric_features_of_json_rows_are_refused(value: object, kind: str) -> None:
    rows = [{"tenure": 1.0, "tickets": 1, "plan": "pro"}, {"tenure": 2.0, "tickets": value, "plan": "pro"}]
    with pytest.raises(InvalidInput) as raised:
        columns_from_rows(SCHEMA, rows)
    assert raised.value.details == {"reason": "not_a_number", "row": 1, "feature": "tickets"}
    assert kind in raised.value.message
    data = "\n".join(json.dumps(row) for row in rows).encode()
    assert refusal(columns_from_json_lines, SCHEMA, data)["reason"] == "not_a_number"


@pytest.mark.parametrize(
    "build",
    [
        lambda: columns_from_rows(SCHEMA, [[1.0, 1, "pro"], [math.inf, 1, "pro"]]),
        lambda: columns_from_json_lines(SCHEMA, b'[1.0, 1, "pro"]\n[-Infinity, 1, "pro"]\n'),
        lambda: columns_from_csv(SCHEMA, b"tenure,tickets,plan\n1,1,pro\ninf,1,pro\n"),
        lambda: columns_from_csv(SCHEMA, b"tenure,tickets,plan\n1,1,pro\n1e999,1,pro\n"),
        lambda: columns_from_mapping(SCHEMA, {"tenure": np.array([1.0, -np.inf])}),
    ],
    ids=["rows", "json_lines", "csv", "csv_overflow", "array"],
)
def test_infinite_values_are_refused_naming_row_and_feature(build: Any) -> None:
    assert refusal(build) == {"reason": "not_finite", "row": 1, "feature": "tenure"}


def test_nan_in_json_and_csv_is_missing() -> None:
    assert plain(columns_from_json_lines(SCHEMA, b'{"tenure": NaN}\n'))["tenure"] == [None]
    assert plain(columns_from_csv(SCHEMA, b"tenure\nnan\n"))["tenure"] == [None]


def test_fractions_in_int_features_and_non_strings_in_categories_are_counted_as_wrong_types() -> None:
    rows = [[1.0, 1.5, "pro"], [2.0, 2, 7], [3.0, 3.25, True], [4.0, 4.0, None]]
    columns = columns_from_rows(SCHEMA, rows)
    assert plain(columns) == {
        "tenure": [1.0, 2.0, 3.0, 4.0],
        "tickets": [1.5, 2.0, 3.25, 4.0],
        "plan": ["pro", "7", "true", None],
    }
    assert {name: (wrong.count, wrong.examples) for name, wrong in columns.wrong_types.items()} == {
        "tickets": (2, ["1.5", "3.25"]),
        "plan": (2, ["7", "True"]),
    }


def test_numpy_arrays_pass_through_whole() -> None:
    tenure = np.array([1.5, np.nan, 3.0])
    data = {
        "tenure": tenure,
        "tickets": np.array([2, 0, 7], dtype=np.int32),
        "plan": np.array(["pro", "basic", "plus"]),
    }
    columns = columns_from_mapping(SCHEMA, data)
    assert columns.rows == 3
    assert columns.numeric["tickets"].dtype == np.float64
    np.testing.assert_array_equal(columns.numeric["tenure"], tenure)
    assert list(columns.category["plan"]) == ["pro", "basic", "plus"]
    assert all(type(value) is str for value in columns.category["plan"])
    assert columns.wrong_types == {}


def test_float32_arrays_and_numpy_object_arrays_are_accepted() -> None:
    data = {
        "tenure": np.array([0.5, 1.0], dtype=np.float32),
        "plan": np.array(["pro", None], dtype=object),
    }
    columns = columns_from_mapping(SCHEMA, data)
    assert plain(columns) == {"tenure": [0.5, 1.0], "plan": ["pro", None]}
    assert columns.missing == ["tickets"]


def test_boolean_and_string_arrays_in_numeric_features_are_refused() -> None:
    for values in (np.array([True, False]), np.array(["1", "2"])):
        assert refusal(columns_from_mapping, SCHEMA, {"tenure": values}) == {
            "reason": "not_a_number",
            "row": 0,
            "feature": "tenure",
        }


def test_columns_of_different_lengths_are_refused() -> None:
    assert refusal(columns_from_mapping, SCHEMA, {"tenure": [1.0], "tickets": [1, 2]}) == {
        "reason": "ragged_columns"
    }


def test_chunks_stay_aligned_and_rows_are_numbered_across_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drift_columns, "CHUNK_ROWS", 2)
    rows: list[dict[str, Any]] = [
        {"tenure": 1.0},
        {"tenure": 2.0},
        {"tenure": 3.0, "plan": "pro"},
        {"tickets": 4},
    ]
    assert plain(columns_from_rows(SCHEMA, rows)) == {
        "tenure": [1.0, 2.0, 3.0, None],
        "tickets": [None, None, None, 4.0],
        "plan": [None, None, "pro", None],
    }
    rows.append({"tenure": "five"})
    assert refusal(columns_from_rows, SCHEMA, rows) == {
        "reason": "not_a_number",
        "row": 4,
        "feature": "tenure",
    }
    csv = b"tenure,plan\n1,pro\n2,basic\n3,plus\nx,pro\n"
    assert refusal(columns_from_csv, SCHEMA, csv) == {"reason": "not_a_number", "row": 3, "feature": "tenure"}


def test_an_integer_too_large_for_a_float_is_refused_as_not_finite() -> None:
    data = b'{"tenure": 1' + b"0" * 400 + b"}\n"
    assert refusal(columns_from_json_lines, SCHEMA, data) == {
        "reason": "not_finite",
        "row": 0,
        "feature": "tenure",
    }


def test_a_line_with_an_integer_too_long_to_parse_is_unreadable() -> None:
    data = b'{"tenure": 1' + b"0" * 5000 + b"}\n"
    assert unreadable(columns_from_json_lines, SCHEMA, data) == {"reason": "not_json", "line": 1}


def test_a_list_of_numpy_scalars_is_numbers() -> None:
    columns = columns_from_mapping(
        SCHEMA, {"tenure": list(np.array([1.0, 2.0])), "tickets": [np.int64(3)] * 2}
    )
    assert plain(columns)["tenure"] == [1.0, 2.0]


def test_add_columns_leaves_the_callers_lists_alone() -> None:
    builder = ColumnBuilder(SCHEMA)
    first = ["pro", "basic"]
    builder.add_columns({"plan": first}, 2)
    builder.add_columns({"plan": ["plus"]}, 1)
    assert list(builder.build().category["plan"]) == ["pro", "basic", "plus"]
    assert first == ["pro", "basic"]
