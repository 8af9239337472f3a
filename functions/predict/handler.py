"""Predict function: ONNX inference for a model (see ../shared/api.md, "Prediction and traffic").

Cold-start sensitive: it imports onnxruntime and numpy, never scipy, and not the X-Ray SDK (Powertools'
Tracer costs ~75 ms of import; Lambda's active tracing still records each invocation). At init it builds
its adapters and loads and warms the production versions of `LAMBDAOPS_PRELOAD_MODELS`.
"""

from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdaops.aws import clients
from lambdaops.aws.s3_artifacts import s3_put_object
from lambdaops.operations.readiness import Readiness, preload_readiness
from lambdaops.runtime import wiring
from lambdaops.runtime.http import build_resolver, json_response, own_body, parse_body, reply
from lambdaops.runtime.metrics import EmfMetrics
from lambdaops.runtime.settings import PredictSettings
from lambdaops.serving.capture import CaptureWriter
from lambdaops.serving.model_cache import ModelCache
from lambdaops.serving.predictor import Predictor
from lambdaops.serving.schemas import PredictRequest, PredictResponse

logger = Logger()
app = build_resolver(logger)
settings = PredictSettings()  # type: ignore[call-arg]  # fields come from the environment
metrics = EmfMetrics(settings.metrics_namespace, service=logger.service)
models = ModelCache(
    artifacts=wiring.artifact_store(settings),
    bucket=settings.bucket_name,
    cache_dir=Path(settings.artifact_cache_dir),
    budget_bytes=settings.model_cache_mb * 1024 * 1024,
    max_artifact_bytes=settings.max_artifact_bytes,
    metrics=metrics,
    log=logger,
)
capture = CaptureWriter(s3_put_object(clients.client("s3"), settings.bucket_name), metrics, log=logger)
predictor = Predictor(
    registry=wiring.registry_store(settings),
    models=models,
    capture=capture,
    metrics=metrics,
    max_instances=settings.max_instances,
    routing_cache_seconds=settings.routing_cache_seconds,
    capture_sample_rate=settings.capture_sample_rate,
    log=logger,
)
warmed = predictor.preload(settings.preloaded)


@app.post(
    "/models/<name>/predict", responses=reply(PredictResponse), openapi_extensions=own_body(PredictRequest)
)
def predict(name: str) -> Response[Any]:
    request = parse_body(PredictRequest, app.current_event.decoded_body)
    return json_response(predictor.predict(name, request))


READINESS_REPLY: Any = {"application/json": {"model": Readiness}}


@app.get(
    "/health/predict",
    responses={
        200: {"description": "Every preloaded model was loaded and warmed", "content": READINESS_REPLY},
        503: {"description": "A preloaded model could not be loaded at init", "content": READINESS_REPLY},
    },
)
def readiness() -> Response[Any]:
    """This instance's preloaded models (`LAMBDAOPS_PRELOAD_MODELS`): warmed at init, still cached."""
    report = preload_readiness(settings.preloaded, warmed, models.kept)
    return json_response(report, report.http_status)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
