from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from lambdaops.core.errors import ArtifactInvalid
from lambdaops.registry.artifacts import Artifact, artifact_key
from lambdaops.registry.onnx_inspection import GraphInput, inspect_onnx, reconcile_schema
from lambdaops.registry.schemas import InputSchema
from lambdaops_tools.demo.sample_models import TrainedModel, export_logistic_regression


def onnx_bytes(
    inputs: list[tuple[str, int, list[Any]]],
    nodes: list[onnx.NodeProto],
    outputs: list[tuple[str, int, list[Any]]],
) -> bytes:
    graph = helper.make_graph(
        nodes=nodes,
        name="test",
        inputs=[helper.make_tensor_value_info(name, kind, shape) for name, kind, shape in inputs],
        outputs=[helper.make_tensor_value_info(name, kind, shape) for name, kind, shape in outputs],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def cast_model(kind: int, shape: list[Any]) -> bytes:
    """input of `kind` and `shape` -> Cast to float -> output."""
    return onnx_bytes(
        [("x", kind, shape)],
        [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)],
        [("y", TensorProto.FLOAT, shape)],
    )


def schema(*features: tuple[str, str]) -> InputSchema:
    items: list[dict[str, Any]] = []
    for name, kind in features:
        item: dict[str, Any] = {"name": name, "type": kind}
        if kind == "category":
            item["categories"] = ["a", "b"]
        items.append(item)
    return InputSchema.model_validate({"features": items})


def test_inspect_a_trained_classifier(trained: TrainedModel) -> None:
    assert inspect_onnx(trained.onnx_bytes) == GraphInput(name="input", width=4, element_type="tensor(float)")
    assert not inspect_onnx(trained.onnx_bytes).is_integer


def test_inspect_reads_the_width_of_the_graph() -> None:
    data = export_logistic_regression(np.array([0.5, -0.5, 1.0, 2.0, 0.0, 1.0, 3.0]), 0.1)
    assert inspect_onnx(data).width == 7


def test_inspect_an_integer_graph() -> None:
    graph = inspect_onnx(cast_model(TensorProto.INT64, ["batch", 3]))
    assert graph == GraphInput(name="x", width=3, element_type="tensor(int64)")
    assert graph.is_integer


@pytest.mark.parametrize("data", [b"", b"not an onnx model", bytes(range(256)) * 4])
def test_inspect_refuses_garbage(data: bytes) -> None:
    with pytest.raises(ArtifactInvalid) as caught:
        inspect_onnx(data)
    assert caught.value.details["reason"] == "not_onnx"
    assert len(caught.value.details["loader_error"]) <= 500
    assert caught.value.status == 422


def test_inspect_refuses_truncated_model(trained: TrainedModel) -> None:
    with pytest.raises(ArtifactInvalid) as caught:
        inspect_onnx(trained.onnx_bytes[: len(trained.onnx_bytes) // 2])
    assert caught.value.details["reason"] == "not_onnx"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(cast_model(TensorProto.FLOAT, ["batch", 2, 3]), id="3-d input"),
        pytest.param(cast_model(TensorProto.FLOAT, ["batch"]), id="1-d input"),
        pytest.param(cast_model(TensorProto.FLOAT, ["batch", "width"]), id="symbolic width"),
        pytest.param(cast_model(TensorProto.BOOL, ["batch", 3]), id="bool input"),
        pytest.param(
            onnx_bytes(
                [("a", TensorProto.FLOAT, ["batch", 2]), ("b", TensorProto.FLOAT, ["batch", 2])],
                [helper.make_node("Add", ["a", "b"], ["y"])],
                [("y", TensorProto.FLOAT, ["batch", 2])],
            ),
            id="two inputs",
        ),
    ],
)
def test_inspect_refuses_unsupported_graphs(data: bytes) -> None:
    with pytest.raises(ArtifactInvalid) as caught:
        inspect_onnx(data)
    assert caught.value.details["reason"] == "unsupported_graph"


FLOAT4 = GraphInput(name="input", width=4, element_type="tensor(float)")
INT3 = GraphInput(name="x", width=3, element_type="tensor(int64)")


def test_reconcile_without_a_schema_names_float_features() -> None:
    result = reconcile_schema(FLOAT4, None)
    assert [(f.name, f.type) for f in result.features] == [
        ("f0", "float"),
        ("f1", "float"),
        ("f2", "float"),
        ("f3", "float"),
    ]


def test_reconcile_without_a_schema_on_an_integer_graph_names_int_features() -> None:
    assert [(f.name, f.type) for f in reconcile_schema(INT3, None).features] == [
        ("f0", "int"),
        ("f1", "int"),
        ("f2", "int"),
    ]


def test_reconcile_keeps_an_agreeing_schema() -> None:
    given = schema(("a", "float"), ("b", "int"), ("c", "category"), ("d", "float"))
    assert reconcile_schema(FLOAT4, given) == given


@pytest.mark.parametrize("width", [1, 3, 5])
def test_reconcile_refuses_a_width_mismatch(width: int) -> None:
    given = schema(*((f"x{i}", "float") for i in range(width)))
    with pytest.raises(ArtifactInvalid) as caught:
        reconcile_schema(FLOAT4, given)
    assert caught.value.details == {
        "reason": "schema_mismatch",
        "schema_width": width,
        "graph_width": 4,
    }


def test_reconcile_refuses_float_features_for_an_integer_graph() -> None:
    with pytest.raises(ArtifactInvalid) as caught:
        reconcile_schema(INT3, schema(("a", "int"), ("b", "float"), ("c", "float")))
    assert caught.value.details == {"reason": "schema_mismatch", "features": ["b", "c"]}


def test_reconcile_accepts_int_and_category_features_for_an_integer_graph() -> None:
    given = schema(("a", "int"), ("b", "category"), ("c", "int"))
    assert reconcile_schema(INT3, given) == given


def test_reconcile_an_inspected_integer_model_end_to_end() -> None:
    graph = inspect_onnx(cast_model(TensorProto.INT64, ["batch", 3]))
    with pytest.raises(ArtifactInvalid):
        reconcile_schema(graph, schema(("a", "float"), ("b", "float"), ("c", "float")))


BUCKET = "lambdaops-artifacts"


@pytest.mark.parametrize(
    ("uri", "key"),
    [
        ("s3://lambdaops-artifacts/models/churn/1.0.0/model.onnx", "models/churn/1.0.0/model.onnx"),
        ("s3://lambdaops-artifacts/models/churn/model.onnx", "models/churn/model.onnx"),
        ("s3://lambdaops-artifacts/models/churn/a/b/c/d.onnx", "models/churn/a/b/c/d.onnx"),
        ("s3://lambdaops-artifacts/models/churn/..onnx", "models/churn/..onnx"),
    ],
)
def test_artifact_key_accepts_keys_under_the_model_prefix(uri: str, key: str) -> None:
    assert artifact_key(uri, BUCKET, "churn") == key


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("s3://other-bucket/models/churn/model.onnx", "outside_bucket"),
        ("s3://lambdaops-artifacts-2/models/churn/model.onnx", "outside_bucket"),
        ("s3://lambdaops-artifactsmodels/churn/model.onnx", "outside_bucket"),
        ("https://lambdaops-artifacts.s3.amazonaws.com/models/churn/model.onnx", "outside_bucket"),
        ("S3://lambdaops-artifacts/models/churn/model.onnx", "outside_bucket"),
        ("/models/churn/model.onnx", "outside_bucket"),
        ("s3://lambdaops-artifacts/models/churn/../other/model.onnx", "invalid_path"),
        ("s3://lambdaops-artifacts/models/churn/./model.onnx", "invalid_path"),
        ("s3://lambdaops-artifacts/models/churn//model.onnx", "invalid_path"),
        ("s3://lambdaops-artifacts/models/churn/", "invalid_path"),
        ("s3://lambdaops-artifacts//models/churn/model.onnx", "invalid_path"),
        ("s3://lambdaops-artifacts/models/../models/churn/model.onnx", "invalid_path"),
        ("s3://lambdaops-artifacts/models/churn", "outside_model_prefix"),
        ("s3://lambdaops-artifacts/models/churn-v2/model.onnx", "outside_model_prefix"),
        ("s3://lambdaops-artifacts/models/other/model.onnx", "outside_model_prefix"),
        ("s3://lambdaops-artifacts/churn/model.onnx", "outside_model_prefix"),
        ("s3://lambdaops-artifacts/model.onnx", "outside_model_prefix"),
        ("s3://lambdaops-artifacts/Models/churn/model.onnx", "outside_model_prefix"),
    ],
)
def test_artifact_key_refuses(uri: str, reason: str) -> None:
    with pytest.raises(ArtifactInvalid) as caught:
        artifact_key(uri, BUCKET, "churn")
    assert caught.value.details == {"reason": reason, "artifact_uri": uri}
    assert caught.value.status == 422


def test_artifact_sha256_is_of_the_bytes() -> None:
    artifact = Artifact(key="k", data=b"abc", version_id=None)
    assert artifact.sha256 == hashlib.sha256(b"abc").hexdigest()
