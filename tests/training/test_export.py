"""The exported model folder: ONNX parity with PyTorch, and lambdaops registering and serving it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from lambdaops.registry.onnx_inspection import GraphInput, inspect_onnx, reconcile_schema
from lambdaops.registry.schemas import InputSchema
from lambdaops.serving.instances import InstanceEncoder
from lambdaops.serving.model_cache import create_session
from lambdaops_trainer.channels import read_channel
from lambdaops_trainer.data import Dataset, encode, infer_schema
from lambdaops_trainer.export import write_model_dir
from lambdaops_trainer.hyperparameters import Hyperparameters
from lambdaops_trainer.loop import FitResult, evaluate, fit

from . import job_folder, one_torch_thread


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[FitResult, Dataset, Path]:
    root = job_folder(tmp_path_factory.mktemp("job"), train=800, validation=300, holdout=200)
    table = read_channel(root / "train", "train", "churned")
    schema = infer_schema(table, "churned")
    numeric = [f.name for f in schema.features if f.type != "category"]
    train = encode(table, schema)
    validation = encode(read_channel(root / "validation", "validation", "churned", numeric), schema)
    holdout = encode(read_channel(root / "holdout", "holdout", "churned", numeric), schema)
    hp = Hyperparameters(label="churned", epochs=4, batch_size=64, hidden_units=16)
    result = fit(train, validation, hp, torch.device("cpu"), report=lambda line: None)
    write_model_dir(root / "model", result, schema, hp, evaluate(result.model, holdout))
    return result, validation, root / "model"


def _torch_probabilities(result: FitResult, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(result.model(torch.from_numpy(x)), dim=1).numpy()


def test_onnx_gives_pytorchs_probabilities_and_labels(trained: tuple[FitResult, Dataset, Path]) -> None:
    result, validation, model_dir = trained
    assert {f.type for f in validation.schema.features} == {"int", "float", "category"}
    session = ort.InferenceSession(str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"]
    assert [o.name for o in session.get_outputs()] == ["label", "probabilities"]
    labels, probabilities = session.run(None, {"input": validation.x})
    expected = _torch_probabilities(result, validation.x)
    assert labels.dtype == np.int64 and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    np.testing.assert_array_equal(labels, expected.argmax(axis=1))
    single, _ = session.run(None, {"input": validation.x[:1]})  # the batch axis is dynamic
    assert single.shape == (1,)
    assert onnx.load(str(model_dir / "model.onnx")).opset_import[0].version >= 17


def test_the_model_folder_holds_the_five_files(trained: tuple[FitResult, Dataset, Path]) -> None:
    result, _, model_dir = trained
    assert sorted(p.name for p in model_dir.iterdir()) == [
        "hyperparameters.json",
        "input_schema.json",
        "labels.json",
        "metrics.json",
        "model.onnx",
    ]
    assert json.loads((model_dir / "labels.json").read_text()) == {
        "label": "churned",
        "classes": ["no", "yes"],
    }
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert set(metrics) == {
        "validation:accuracy",
        "validation:loss",
        "train:loss",
        "best_epoch",
        "epochs_run",
        "holdout:accuracy",
        "holdout:loss",
    }
    assert metrics["best_epoch"] == result.best.epoch and metrics["epochs_run"] == 4
    assert metrics["validation:accuracy"] == result.best.validation_accuracy
    hyperparameters = json.loads((model_dir / "hyperparameters.json").read_text())
    assert hyperparameters["hidden_units"] == 16 and hyperparameters["label"] == "churned"


def test_lambdaops_registers_and_serves_it(trained: tuple[FitResult, Dataset, Path]) -> None:
    result, _, model_dir = trained
    schema = InputSchema.model_validate_json((model_dir / "input_schema.json").read_text())
    assert [f.name for f in schema.features] == ["age", "spend", "plan", "region"]
    data = (model_dir / "model.onnx").read_bytes()
    graph = inspect_onnx(data)
    assert graph == GraphInput(name="input", width=4, element_type="tensor(float)")
    assert reconcile_schema(graph, schema) == schema
    records = [
        {"age": 31, "spend": 20.5, "plan": "gold", "region": "eu"},
        {"age": 75, "spend": 90.0, "plan": "bronze", "region": "us"},
        {"age": 18, "spend": 5.25, "plan": "silver", "region": "us"},
    ]
    encoded = InstanceEncoder(schema, np.dtype("float32"), max_instances=100).encode(records)
    np.testing.assert_array_equal(encoded, [[31, 20.5, 1, 0], [75, 90.0, 0, 1], [18, 5.25, 2, 1]])
    session = create_session(data)
    # Serving returns the first graph output: the class index, which labels.json names.
    served = session.run([session.get_outputs()[0].name], {session.get_inputs()[0].name: encoded})[0]
    expected = _torch_probabilities(result, encoded)
    np.testing.assert_array_equal(served, expected.argmax(axis=1))
    _, probabilities = session.run(None, {"input": encoded})
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
