"""What an ONNX artifact accepts, read by loading it with onnxruntime, checked against a schema."""

from __future__ import annotations

from dataclasses import dataclass

from lambdaops.core.errors import ArtifactInvalid
from lambdaops.registry.schemas import Feature, InputSchema

_FLOAT_TYPES = {"tensor(float)", "tensor(double)", "tensor(float16)", "tensor(bfloat16)"}
_INT_TYPES = {f"tensor({t})" for t in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")}


@dataclass(frozen=True)
class GraphInput:
    name: str
    width: int
    element_type: str

    @property
    def is_integer(self) -> bool:
        return self.element_type in _INT_TYPES


def inspect_onnx(data: bytes) -> GraphInput:
    """Load the model as the predict function will, and read its single 2-D input."""
    import onnxruntime as ort  # only registration needs it: keep it off the other routes' cold start

    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises several unexported types for a bad file
        raise ArtifactInvalid(
            "artifact is not a loadable ONNX model", reason="not_onnx", loader_error=str(error)[:500]
        ) from error
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ArtifactInvalid(
            f"the graph has {len(inputs)} inputs; exactly one [batch, features] input is supported",
            reason="unsupported_graph",
        )
    graph_input = inputs[0]
    shape = graph_input.shape
    if len(shape) != 2 or not isinstance(shape[1], int):
        raise ArtifactInvalid(
            f"the graph input '{graph_input.name}' has shape {shape}; expected [batch, <fixed width>]",
            reason="unsupported_graph",
        )
    if graph_input.type not in _FLOAT_TYPES | _INT_TYPES:
        raise ArtifactInvalid(
            f"the graph input '{graph_input.name}' is {graph_input.type}; a numeric tensor is required",
            reason="unsupported_graph",
        )
    return GraphInput(name=graph_input.name, width=shape[1], element_type=graph_input.type)


def reconcile_schema(graph: GraphInput, schema: InputSchema | None) -> InputSchema:
    """The schema to record: the caller's if it agrees with the graph, else a float schema from it."""
    if schema is None:
        return InputSchema(
            features=[
                Feature(name=f"f{i}", type="int" if graph.is_integer else "float") for i in range(graph.width)
            ]
        )
    if len(schema.features) != graph.width:
        raise ArtifactInvalid(
            f"input_schema has {len(schema.features)} features but the graph input "
            f"'{graph.name}' takes {graph.width}",
            reason="schema_mismatch",
            schema_width=len(schema.features),
            graph_width=graph.width,
        )
    if graph.is_integer:
        floats = [feature.name for feature in schema.features if feature.type == "float"]
        if floats:
            raise ArtifactInvalid(
                f"the graph input is {graph.element_type} but features {floats} are float",
                reason="schema_mismatch",
                features=floats,
            )
    return schema
