"""Encoding prediction instances: arrays and records, every refusal naming its row and feature."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from lambdaops.core.errors import InvalidInput, TooManyInstances
from lambdaops.registry.schemas import InputSchema
from lambdaops.serving.instances import InstanceEncoder, element_dtype

MIXED = InputSchema.model_validate(
    {
        "features": [
            {"name": "tenure", "type": "float"},
            {"name": "tickets", "type": "int"},
            {"name": "plan", "type": "category", "categories": ["basic", "plus", "pro"]},
            {"name": "spend", "type": "float"},
        ]
    }
)
NUMERIC = InputSchema.model_validate(
    {"features": [{"name": "tenure", "type": "float"}, {"name": "tickets", "type": "int"}]}
)
FLOAT32 = element_dtype("tensor(float)")


def encoder(schema: InputSchema = MIXED, dtype: np.dtype[Any] = FLOAT32, limit: int = 10) -> InstanceEncoder:
    return InstanceEncoder(schema, dtype, limit)


def test_arrays_and_records_encode_alike_with_categories_as_indexes() -> None:
    arrays = [[1.5, 2, "pro", 10], [0, 0, "basic", -3.25]]
    records = [
        {"plan": "pro", "spend": 10, "tenure": 1.5, "tickets": 2},
        {"tenure": 0, "tickets": 0.0, "plan": "basic", "spend": -3.25},
    ]
    expected = np.array([[1.5, 2, 2, 10], [0, 0, 0, -3.25]], dtype=np.float32)
    for instances in (arrays, records, [arrays[0], records[1]]):
        matrix = encoder().encode(instances)
        assert matrix.dtype == np.float32
        np.testing.assert_array_equal(matrix, expected)


def test_the_numeric_fast_path_agrees_with_the_per_cell_path() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(size=(500, 2))
    values[:, 1] = np.round(values[:, 1] * 10)
    arrays = [[float(a), int(b)] for a, b in values]
    records = [{"tenure": a, "tickets": b} for a, b in arrays]
    fast, slow = encoder(NUMERIC, limit=1000).encode, encoder(NUMERIC, limit=1000)._encode_cells
    np.testing.assert_array_equal(fast(arrays), slow(records))
    np.testing.assert_array_equal(fast(arrays), values.astype(np.float32))


@pytest.mark.parametrize(
    ("onnx_type", "dtype"),
    [("tensor(float)", np.float32), ("tensor(double)", np.float64), ("tensor(int64)", np.int64)],
)
def test_the_matrix_takes_the_graph_inputs_element_type(onnx_type: str, dtype: type) -> None:
    ints = InputSchema.model_validate(
        {"features": [{"name": "a", "type": "int"}, {"name": "b", "type": "int"}]}
    )
    matrix = InstanceEncoder(ints, element_dtype(onnx_type), 10).encode([[1, 2], [3.0, 2**40]])
    assert matrix.dtype == dtype
    np.testing.assert_array_equal(matrix, np.array([[1, 2], [3, 2**40]], dtype=dtype))


def test_integers_fed_to_an_integer_graph_stay_exact() -> None:
    ints = InputSchema.model_validate({"features": [{"name": "a", "type": "int"}]})
    big = 2**62 + 1  # not representable in float64
    assert InstanceEncoder(ints, np.dtype(np.int64), 10).encode([[big]])[0, 0] == big


BAD_INPUTS: list[tuple[str, list[Any], str, int, str | None]] = [
    ("wrong width (short)", [[1, 2, "pro", 4], [1, 2, "pro"]], "wrong_width", 1, None),
    ("wrong width (long)", [[1, 2, "pro", 4, 5]], "wrong_width", 0, None),
    ("missing feature", [{"tenure": 1, "tickets": 2, "plan": "pro"}], "missing_feature", 0, "spend"),
    (
        "unknown feature",
        [{"tenure": 1, "tickets": 2, "plan": "pro", "spend": 4, "age": 9}],
        "unknown_feature",
        0,
        "age",
    ),
    ("string where a number belongs", [[1, 2, "pro", 4], ["1.5", 2, "pro", 4]], "not_a_number", 1, "tenure"),
    ("null where a number belongs", [[1, None, "pro", 4]], "not_a_number", 0, "tickets"),
    ("bool in an array", [[1, True, "pro", 4]], "not_a_number", 0, "tickets"),
    (
        "bool in a record",
        [{"tenure": False, "tickets": 2, "plan": "pro", "spend": 4}],
        "not_a_number",
        0,
        "tenure",
    ),
    ("unknown category", [[1, 2, "enterprise", 4]], "unknown_category", 0, "plan"),
    ("number for a category", [[1, 2, 1, 4]], "unknown_category", 0, "plan"),
    ("NaN", [[1, 2, "pro", 4], [1, 2, "pro", math.nan]], "not_finite", 1, "spend"),
    ("infinity", [[math.inf, 2, "pro", 4]], "not_finite", 0, "tenure"),
    (
        "negative infinity",
        [{"tenure": 1, "tickets": 2, "plan": "pro", "spend": -math.inf}],
        "not_finite",
        0,
        "spend",
    ),
    ("integer too large for a float", [[10**400, 2, "pro", 4]], "not_finite", 0, "tenure"),
    ("fraction for an int feature", [[1, 2.5, "pro", 4]], "not_integral", 0, "tickets"),
    ("beyond float32", [[1, 2, "pro", 1e39]], "out_of_range", 0, "spend"),
    ("a row that is neither array nor record", [[1, 2, "pro", 4], 7], "not_a_row", 1, None),
]


@pytest.mark.parametrize(
    ("instances", "reason", "row", "feature"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_every_bad_instance_is_refused_naming_row_and_feature(
    instances: list[Any], reason: str, row: int, feature: str | None
) -> None:
    with pytest.raises(InvalidInput) as raised:
        encoder().encode(instances)
    assert raised.value.status == 400
    assert raised.value.details["reason"] == reason
    assert raised.value.details["row"] == row
    assert raised.value.details["feature"] == feature
    assert f"instances[{row}]" in raised.value.message


NUMERIC_BAD: list[tuple[str, list[Any], str, int, str]] = [
    ("NaN", [[1.0, 2], [3.0, 4], [math.nan, 1]], "not_finite", 2, "tenure"),
    ("infinity", [[1.0, 2], [1.0, math.inf]], "not_finite", 1, "tickets"),
    ("fraction", [[1.0, 2], [1.0, 2.25]], "not_integral", 1, "tickets"),
    ("bool", [[1.0, 2], [True, 2]], "not_a_number", 1, "tenure"),
    ("string", [[1.0, 2], [1.0, "2"]], "not_a_number", 1, "tickets"),
    ("beyond float32", [[1.0, 2], [-1e300, 2]], "out_of_range", 1, "tenure"),
    ("huge integer", [[1.0, 2], [1.0, 10**400]], "not_finite", 1, "tickets"),
]


@pytest.mark.parametrize(
    ("instances", "reason", "row", "feature"),
    [case[1:] for case in NUMERIC_BAD],
    ids=[case[0] for case in NUMERIC_BAD],
)
def test_the_numeric_fast_path_refuses_the_same_way(
    instances: list[Any], reason: str, row: int, feature: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        encoder(NUMERIC).encode(instances)
    assert (raised.value.details["reason"], raised.value.details["row"]) == (reason, row)
    assert raised.value.details["feature"] == feature


def test_out_of_range_for_a_narrow_integer_input() -> None:
    ints = InputSchema.model_validate({"features": [{"name": "a", "type": "int"}]})
    with pytest.raises(InvalidInput) as raised:
        InstanceEncoder(ints, np.dtype(np.uint8), 10).encode([[255], [256]])
    assert (raised.value.details["reason"], raised.value.details["row"]) == ("out_of_range", 1)


def test_an_empty_list_is_refused() -> None:
    with pytest.raises(InvalidInput) as raised:
        encoder().encode([])
    assert raised.value.details["reason"] == "no_instances"


def test_more_rows_than_the_limit_is_413() -> None:
    assert encoder(NUMERIC, limit=3).encode([[1.0, 1]] * 3).shape == (3, 2)
    with pytest.raises(TooManyInstances) as raised:
        encoder(NUMERIC, limit=3).encode([[1.0, 1]] * 4)
    assert raised.value.status == 413
    assert raised.value.details == {"count": 4, "max_instances": 3}


def test_missing_lists_every_missing_feature_in_schema_order() -> None:
    with pytest.raises(InvalidInput) as raised:
        encoder().encode([{"tickets": 1, "plan": "pro"}])
    assert raised.value.details["features"] == ["tenure", "spend"]
