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

from lambdaops import aws_clients
from lambdaops.artifacts import S3ArtifactStore
from lambdaops.capture import CaptureWriter, s3_put_object
from lambdaops.http_api import build_resolver, json_response
from lambdaops.model_cache import ModelCache
from lambdaops.prediction_telemetry import EmfMetrics
from lambdaops.predictor import Predictor, parse_predict_request
from lambdaops.registry_store import DynamoRegistryStore
from lambdaops.settings import Settings

logger = Logger()
app = build_resolver(logger)
settings = Settings()  # type: ignore[call-arg]  # fields come from the environment
metrics = EmfMetrics(settings.metrics_namespace, service=logger.service)
s3 = aws_clients.client("s3")
models = ModelCache(
    artifacts=S3ArtifactStore(s3, settings.bucket_name),
    bucket=settings.bucket_name,
    cache_dir=Path(settings.artifact_cache_dir),
    budget_bytes=settings.model_cache_mb * 1024 * 1024,
    max_artifact_bytes=settings.max_artifact_bytes,
    metrics=metrics,
    log=logger,
)
capture = CaptureWriter(s3_put_object(s3, settings.bucket_name), metrics, log=logger)
predictor = Predictor(
    registry=DynamoRegistryStore(aws_clients.client("dynamodb"), settings.table_name),
    models=models,
    capture=capture,
    metrics=metrics,
    max_instances=settings.max_instances,
    routing_cache_seconds=settings.routing_cache_seconds,
    capture_sample_rate=settings.capture_sample_rate,
    log=logger,
)
predictor.preload(name.strip() for name in settings.preload_models.split(",") if name.strip())


@app.post("/models/<name>/predict")
def predict(name: str) -> Response[Any]:
    request = parse_predict_request(app.current_event.decoded_body)
    return json_response(predictor.predict(name, request))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
