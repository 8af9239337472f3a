"""CSV channels: the schema inferred from train, applied to validation, and each failure's reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lambdaops_trainer.channels import read_channel
from lambdaops_trainer.data import FeatureSpec, encode, infer_schema
from lambdaops_trainer.failure import InvalidData

from . import churn_rows, write_csv


def test_schema_types_categories_and_classes_come_from_train(tmp_path: Path) -> None:
    write_csv(
        tmp_path / "b.csv",
        [[3, 1.5, "x", "1.0", 10], [4, 2.0, "", "2", 2]],
        header=("count", "ratio", "tag", "code", "label"),
    )
    write_csv(tmp_path / "a.csv", [[1, 0.5, "y", "3", 1]], header=("count", "ratio", "tag", "code", "label"))
    table = read_channel(tmp_path, "train", "label")
    schema = infer_schema(table, "label")
    assert schema.features == (
        FeatureSpec("count", "int"),
        FeatureSpec("ratio", "float"),
        FeatureSpec("tag", "category", ("", "x", "y")),
        FeatureSpec("code", "int"),
    )
    assert schema.classes == ("1", "2", "10")  # integers sort as numbers, and stay as written
    data = encode(table, schema)
    # a.csv before b.csv: files are concatenated sorted by name.
    np.testing.assert_array_equal(data.x, [[1, 0.5, 2, 3], [3, 1.5, 1, 1], [4, 2.0, 0, 2]])
    np.testing.assert_array_equal(data.y, [0, 2, 1])
    assert schema.input_schema() == {
        "features": [
            {"name": "count", "type": "int"},
            {"name": "ratio", "type": "float"},
            {"name": "tag", "type": "category", "categories": ["", "x", "y"]},
            {"name": "code", "type": "int"},
        ]
    }
    assert schema.labels() == {"label": "label", "classes": ["1", "2", "10"]}


def test_a_column_with_text_past_the_first_rows_is_a_category(tmp_path: Path) -> None:
    rows: list[list[object]] = [[float(i % 100), "a" if i % 2 else "b"] for i in range(2500)]
    rows[2400][0] = "n/a"
    write_csv(tmp_path / "train.csv", rows, header=("mostly_numbers", "label"))
    schema = infer_schema(read_channel(tmp_path, "train", "label"), "label")
    assert schema.features[0].type == "category"
    assert "n/a" in schema.features[0].categories and "1.0" in schema.features[0].categories
    assert schema.classes == ("a", "b")


def test_a_category_with_too_many_values_is_refused(tmp_path: Path) -> None:
    write_csv(tmp_path / "train.csv", [[f"id-{i}", i % 2] for i in range(1001)], header=("customer", "label"))
    with pytest.raises(InvalidData, match="column 'customer' has 1,001 distinct values in the train channel"):
        infer_schema(read_channel(tmp_path, "train", "label"), "label")


def test_validation_is_encoded_with_the_train_schema(tmp_path: Path) -> None:
    write_csv(tmp_path / "train" / "t.csv", churn_rows(200, seed=1))
    schema = infer_schema(read_channel(tmp_path / "train", "train", "churned"), "churned")
    write_csv(
        tmp_path / "validation" / "v.csv",
        [["mars", 1.25, "gold", "ignored", "yes", 30]],
        header=("region", "spend", "plan", "extra", "churned", "age"),
    )
    warnings: list[str] = []
    data = encode(
        read_channel(tmp_path / "validation", "validation", "churned", ["age", "spend"]),
        schema,
        warnings.append,
    )
    # Schema order, not file order; an unseen category is -1; an extra column is ignored.
    np.testing.assert_array_equal(data.x, [[30, 1.25, 1, -1]])
    np.testing.assert_array_equal(data.y, [1])
    assert warnings == [
        "validation: 1 value(s) of 'region' are categories training never saw; they set no one-hot slot"
    ]


def _schema_and_validation(tmp_path: Path, header: tuple[str, ...], rows: list[list[object]]) -> None:
    write_csv(tmp_path / "train" / "train.csv", churn_rows(50, seed=1))
    schema = infer_schema(read_channel(tmp_path / "train", "train", "churned"), "churned")
    write_csv(tmp_path / "validation" / "val.csv", rows, header=header)
    numeric = [f.name for f in schema.features if f.type != "category"]
    encode(read_channel(tmp_path / "validation", "validation", "churned", numeric), schema)


def test_label_column_missing_names_the_file_and_its_columns(tmp_path: Path) -> None:
    write_csv(tmp_path / "train.csv", [[1, 2, 3]], header=("a", "b", "c"))
    with pytest.raises(InvalidData) as failed:
        infer_schema(read_channel(tmp_path, "train", "churned"), "churned")
    assert str(failed.value) == "label column 'churned' is not in train.csv; columns: a, b, c"


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        (
            ("age", "spend", "plan", "region", "churned"),
            [[31, 2.0, "gold", "eu", "no"], [40, "lots", "gold", "eu", "no"]],
            "validation file val.csv row 2 (line 3), column 'spend': 'lots' is not a number, "
            "but the column is numeric in the training data",
        ),
        (
            ("age", "spend", "plan", "region", "churned"),
            [[31, "", "gold", "eu", "no"]],
            "validation file val.csv row 1 (line 2), column 'spend': the value is missing; "
            "a numeric column needs a number in every row",
        ),
        (
            ("age", "spend", "plan", "region", "churned"),
            [[31, "inf", "gold", "eu", "no"]],
            "validation file val.csv row 1 (line 2), column 'spend': inf is not a finite number",
        ),
        (
            ("age", "plan", "region", "churned"),
            [[31, "gold", "eu", "no"]],
            "feature column 'spend' is missing from validation file val.csv; "
            "columns: age, plan, region, churned",
        ),
        (
            ("age", "spend", "plan", "region", "churned"),
            [[31, 2.0, "gold", "eu", "maybe"]],
            "validation file val.csv row 1 (line 2): label 'maybe' was not seen in training; "
            "classes: no, yes",
        ),
        (
            ("age", "spend", "plan", "region", "churned"),
            [[31, 2.0, "gold", "eu", "no"], [31, 2.0, "gold", "eu"]],
            "validation file val.csv row 2 (line 3) has 4 cells; the header has 5",
        ),
    ],
)
def test_validation_failures_name_file_row_column_and_value(
    tmp_path: Path, header: tuple[str, ...], rows: list[list[object]], message: str
) -> None:
    with pytest.raises(InvalidData) as failed:
        _schema_and_validation(tmp_path, header, rows)
    assert str(failed.value) == message


def _reason(fails: Callable[[], object]) -> str:
    with pytest.raises(InvalidData) as failed:
        fails()
    return str(failed.value)


def test_empty_and_header_only_files_fail(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "train.csv").write_text("")
    assert _reason(lambda: read_channel(tmp_path / "empty", "train", "label")) == (
        "train file train.csv is empty: it needs a header row and data rows"
    )
    write_csv(tmp_path / "header" / "train.csv", [], header=("a", "label"))
    assert _reason(lambda: read_channel(tmp_path / "header", "train", "label")) == (
        "train file train.csv has a header but no data rows"
    )
    (tmp_path / "none").mkdir()
    assert _reason(lambda: read_channel(tmp_path / "none", "train", "label")) == (
        f"the train channel ({tmp_path / 'none'}) holds no *.csv file"
    )


def test_a_missing_number_in_train_fails_and_one_class_is_not_enough(tmp_path: Path) -> None:
    write_csv(tmp_path / "gap" / "train.csv", [[1, "a"], ["", "b"]], header=("x", "label"))
    assert _reason(lambda: infer_schema(read_channel(tmp_path / "gap", "train", "label"), "label")) == (
        "train file train.csv row 2 (line 3), column 'x': the value is missing; "
        "a numeric column needs a number in every row"
    )
    write_csv(tmp_path / "one" / "train.csv", [[1, "a"], [2, "a"]], header=("x", "label"))
    assert _reason(lambda: infer_schema(read_channel(tmp_path / "one", "train", "label"), "label")) == (
        "label column 'label' has one class ('a') in the train channel; a classifier needs at least two"
    )
