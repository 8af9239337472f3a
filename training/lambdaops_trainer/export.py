"""The model folder SageMaker uploads as `model.tar.gz`: the ONNX graph and what lambdaops reads with it.

`model.onnx` takes one float32 input `input` `[batch, features]` in the input schema's order (a category
as its index in `categories`) and gives `label` (int64 `[batch]`, the class index; serving returns the
first output) and `probabilities` (float32 `[batch, classes]`). `input_schema.json` is lambdaops's
`InputSchema`; `labels.json` maps class indices to label values.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from lambdaops_trainer.data import TableSchema
from lambdaops_trainer.hyperparameters import Hyperparameters
from lambdaops_trainer.loop import Evaluation, FitResult
from lambdaops_trainer.model import TabularClassifier

OPSET = 17
INPUT = "input"
OUTPUTS = ("label", "probabilities")


class ServingGraph(nn.Module):
    """What the exported graph computes: the argmax class and the softmax over the classifier's logits."""

    def __init__(self, classifier: TabularClassifier) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        logits = self.classifier(x)
        return logits.argmax(dim=1), torch.softmax(logits, dim=1)


def export_onnx(classifier: TabularClassifier, path: Path) -> None:
    graph = ServingGraph(classifier).to("cpu").eval()
    example = torch.zeros(2, classifier.preprocessing.inputs, dtype=torch.float32)
    with warnings.catch_warnings():
        # The TorchScript exporter on purpose: it needs only `onnx`, not onnxscript.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            graph,
            (example,),
            str(path),
            input_names=[INPUT],
            output_names=list(OUTPUTS),
            dynamic_axes={INPUT: {0: "batch"}, OUTPUTS[0]: {0: "batch"}, OUTPUTS[1]: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def write_model_dir(
    model_dir: Path,
    result: FitResult,
    schema: TableSchema,
    hp: Hyperparameters,
    holdout: Evaluation | None = None,
) -> None:
    """model.onnx, input_schema.json, metrics.json, hyperparameters.json and labels.json."""
    model_dir.mkdir(parents=True, exist_ok=True)
    export_onnx(result.model, model_dir / "model.onnx")
    metrics: dict[str, Any] = result.metrics()
    if holdout is not None:
        metrics |= {"holdout:accuracy": holdout.accuracy, "holdout:loss": holdout.loss}
    _write_json(model_dir / "input_schema.json", schema.input_schema())
    _write_json(model_dir / "metrics.json", metrics)
    _write_json(model_dir / "hyperparameters.json", hp.as_json())
    _write_json(model_dir / "labels.json", schema.labels())


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
