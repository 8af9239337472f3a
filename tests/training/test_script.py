"""`train.py` as SageMaker runs it: a subprocess in the source folder, configured by SM_* variables."""

from __future__ import annotations

import json
import re
from pathlib import Path

import onnxruntime as ort

from lambdaops.registry.schemas import InputSchema
from lambdaops_trainer.job import main

from . import METRIC_REGEXES, churn_rows, job_folder, run_train_py, sm_environment, write_csv


def test_a_script_mode_run_writes_the_model_folder(tmp_path: Path) -> None:
    root = job_folder(tmp_path, holdout=200)
    env = sm_environment(root, SM_HPS=json.dumps({"epochs": "3", "hidden_units": 16, "label": '"wrong"'}))
    done = run_train_py(
        [
            "--label",
            "churned",
            "--batch_size",
            "64",
            "--learning_rate=0.01",
            "--_tuning_objective_metric",
            "validation:accuracy",
            "--sagemaker_program",
            "train.py",
        ],
        env,
    )
    assert done.returncode == 0, done.stderr
    epoch_lines = [line for line in done.stdout.splitlines() if line.startswith("epoch=")]
    assert len(epoch_lines) == 3, done.stdout
    for number, line in enumerate(epoch_lines, start=1):
        found = [re.search(regex, line) for regex in METRIC_REGEXES]
        assert all(found), line
        assert found[0] is not None and int(found[0].group(1)) == number
    model = root / "model"
    assert sorted(p.name for p in model.iterdir()) == [
        "hyperparameters.json",
        "input_schema.json",
        "labels.json",
        "metrics.json",
        "model.onnx",
    ]
    assert json.loads((model / "hyperparameters.json").read_text()) == {
        "label": "churned",
        "epochs": 3,
        "batch_size": 64,
        "learning_rate": 0.01,
        "hidden_units": 16,
        "hidden_layers": 2,
        "patience": 3,
        "seed": 7,
        "weight_decay": 0.0,
        "dropout": 0.0,
    }
    metrics = json.loads((model / "metrics.json").read_text())
    assert metrics["epochs_run"] == 3 and metrics["holdout:accuracy"] > 0.8
    assert (
        f"validation:accuracy={metrics['validation:accuracy']:.6f};" in epoch_lines[metrics["best_epoch"] - 1]
    )
    schema = InputSchema.model_validate_json((model / "input_schema.json").read_text())
    assert [(f.name, f.type) for f in schema.features] == [
        ("age", "int"),
        ("spend", "float"),
        ("plan", "category"),
        ("region", "category"),
    ]
    session = ort.InferenceSession(str(model / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["label", "probabilities"]
    history = json.loads((root / "output" / "data" / "history.json").read_text())
    assert [entry["epoch"] for entry in history] == [1, 2, 3]
    assert not (root / "output" / "failure").exists()


def test_an_empty_train_file_fails_the_process_with_its_reason(tmp_path: Path) -> None:
    root = job_folder(tmp_path)
    (root / "train" / "train.csv").write_text("")
    done = run_train_py(["--label", "churned"], sm_environment(root))
    assert done.returncode == 1
    reason = "train file train.csv is empty: it needs a header row and data rows"
    assert (root / "output" / "failure").read_text() == reason + "\n"
    assert "Traceback" in done.stderr and reason in done.stderr
    assert not (root / "model").exists()


def _failed(root: Path, argv: list[str], capsys: object) -> str:
    assert main(argv, sm_environment(root)) == 1
    return (root / "output" / "failure").read_text().strip()


def test_a_missing_label_column_is_the_failure_reason(tmp_path: Path, capsys: object) -> None:
    root = job_folder(tmp_path)
    assert _failed(root, ["--label", "cancelled"], capsys) == (
        "label column 'cancelled' is not in train.csv; columns: age, spend, plan, region, churned"
    )


def test_text_in_a_numeric_validation_column_is_the_failure_reason(tmp_path: Path, capsys: object) -> None:
    root = job_folder(tmp_path)
    rows = churn_rows(20, seed=2)
    rows[6][1] = "twelve"
    write_csv(root / "validation" / "validation.csv", rows)
    assert _failed(root, ["--label", "churned"], capsys) == (
        "validation file validation.csv row 7 (line 8), column 'spend': 'twelve' is not a number, "
        "but the column is numeric in the training data"
    )


def test_bad_hyperparameters_are_the_failure_reason(tmp_path: Path, capsys: object) -> None:
    root = job_folder(tmp_path)
    assert _failed(root, ["--label", "churned", "--epochs", "0"], capsys) == (
        "hyperparameter 'epochs' must be at least 1; got 0"
    )
    assert _failed(root, ["--label", "churned", "--learning_rate", "fast"], capsys) == (
        "hyperparameter 'learning_rate' must be a number; got 'fast'"
    )
