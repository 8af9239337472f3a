"""Small real classifiers for the demo and tests: logistic regression trained with numpy, exported to ONNX."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FEATURES = ("tenure_months", "monthly_spend", "support_tickets", "usage_hours")


@dataclass(frozen=True)
class TrainedModel:
    onnx_bytes: bytes
    metrics: dict[str, float]
    params: dict[str, Any]
    input_schema: dict[str, Any]


def synthetic_dataset(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A two-class problem whose label depends linearly on the features, plus noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(FEATURES))).astype(np.float32)
    true_weights = np.array([-1.5, 1.0, 2.0, -0.5], dtype=np.float32)
    y = (x @ true_weights + rng.normal(scale=0.8, size=rows) > 0).astype(np.int64)
    return x, y


def train_logistic_regression(
    epochs: int, learning_rate: float = 0.5, dropped_features: tuple[str, ...] = (), seed: int = 7
) -> TrainedModel:
    """Fit by gradient descent; `dropped_features` are held at weight zero, to make a weaker model."""
    x, y = synthetic_dataset(4000, seed)
    x_test, y_test = synthetic_dataset(2000, seed + 1)
    y_train = y
    mask = np.array([name not in dropped_features for name in FEATURES], dtype=np.float64)
    weights, bias = np.zeros(len(FEATURES)), 0.0
    for _ in range(epochs):
        p = 1 / (1 + np.exp(-(x @ weights + bias)))
        weights -= learning_rate * mask * (x.T @ (p - y_train)) / len(y_train)
        bias -= learning_rate * float(np.mean(p - y_train))
    p_test = np.clip(1 / (1 + np.exp(-(x_test @ weights + bias))), 1e-7, 1 - 1e-7)
    metrics = {
        "accuracy": round(float(np.mean((p_test > 0.5) == y_test)), 4),
        "log_loss": round(float(-np.mean(y_test * np.log(p_test) + (1 - y_test) * np.log(1 - p_test))), 4),
    }
    return TrainedModel(
        onnx_bytes=export_logistic_regression(weights, bias),
        metrics=metrics,
        params={
            "epochs": epochs,
            "learning_rate": learning_rate,
            "dropped_features": ",".join(dropped_features),
        },
        input_schema={"features": [{"name": name, "type": "float"} for name in FEATURES]},
    )


def export_logistic_regression(weights: np.ndarray, bias: float) -> bytes:
    """Two-class softmax over [0, logit]: outputs `label` (int64) and `probabilities`."""
    width = len(weights)
    w = np.stack([np.zeros(width), weights], axis=1).astype(np.float32)
    b = np.array([0.0, bias], dtype=np.float32)
    graph = helper.make_graph(
        nodes=[
            helper.make_node("MatMul", ["input", "W"], ["scores"]),
            helper.make_node("Add", ["scores", "B"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
            helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
        ],
        name="logistic_regression",
        inputs=[helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", width])],
        outputs=[
            helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 2]),
        ],
        initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="lambdaops")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def export_failing_model(width: int = len(FEATURES)) -> bytes:
    """Loads like a classifier (one `[batch, width]` float input) but fails on every run.

    A `Gather` along the feature axis at a constant index past the last feature: onnxruntime checks
    index bounds only when it runs, so session creation (and registration) succeed. The demo uses it for
    a canary that errors and is rolled back.
    """
    graph = helper.make_graph(
        nodes=[
            helper.make_node("Gather", ["input", "past_the_end"], ["picked"], axis=1),
            helper.make_node("Sigmoid", ["picked"], ["probabilities"]),
        ],
        name="failing_at_run_time",
        inputs=[helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", width])],
        outputs=[helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 1])],
        initializer=[numpy_helper.from_array(np.array([width + 100], dtype=np.int64), "past_the_end")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="lambdaops")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def export_mlp(width: int, hidden: int, layers: int = 2, classes: int = 2, seed: int = 0) -> bytes:
    """A random-weight MLP classifier: `layers` Gemm+Relu blocks of `hidden` units, then a softmax.

    Its one output, `probabilities`, is `[batch, classes]`. The benchmarks use it because its cost is set
    by `hidden` independently of the input width, so inference is not trivially cheap at 1,000 rows.
    """
    rng = np.random.default_rng(seed)
    nodes, initializers = [], []
    previous, fan_in = "input", width
    for layer, units in enumerate([hidden] * layers + [classes]):
        weights = (rng.normal(size=(fan_in, units)) / np.sqrt(fan_in)).astype(np.float32)
        initializers += [
            numpy_helper.from_array(weights, f"W{layer}"),
            numpy_helper.from_array(np.zeros(units, dtype=np.float32), f"B{layer}"),
        ]
        nodes.append(helper.make_node("Gemm", [previous, f"W{layer}", f"B{layer}"], [f"z{layer}"]))
        if layer < layers:
            nodes.append(helper.make_node("Relu", [f"z{layer}"], [f"h{layer}"]))
            previous = f"h{layer}"
        fan_in = units
    nodes.append(helper.make_node("Softmax", [f"z{layers}"], ["probabilities"], axis=1))
    graph = helper.make_graph(
        nodes=nodes,
        name="mlp",
        inputs=[helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", width])],
        outputs=[helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", classes])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="lambdaops")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())
