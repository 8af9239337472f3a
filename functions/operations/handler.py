"""Operations function (see ../shared/api.md, "Operations"): `GET /health`, this function's dependencies
each checked and timed, and `GET /metrics`, the platform's CloudWatch series and the registry's stages in
Prometheus' text format (`lambdaops.operations.collector`, cached `LAMBDAOPS_METRICS_CACHE_SECONDS`).

Runs on the base layer only: no numpy, no onnxruntime.
"""

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4

from lambdaops.aws import clients
from lambdaops.aws.cloudwatch_series import CloudWatchSeries
from lambdaops.aws.health_probes import bucket_probe, cloudwatch_probe
from lambdaops.operations.collector import PlatformMetrics
from lambdaops.operations.health import HealthReport, check_health
from lambdaops.registry.store import TagFilter
from lambdaops.runtime import wiring
from lambdaops.runtime.http import build_resolver, json_response
from lambdaops.runtime.settings import OperationsSettings
from lambdaops.serving.telemetry import INVOCATIONS

logger = Logger()
tracer = Tracer()
app = build_resolver(logger)
settings = OperationsSettings()  # type: ignore[call-arg]  # fields come from the environment
store = wiring.registry_store(settings)
platform = PlatformMetrics(
    source=CloudWatchSeries(clients.client("cloudwatch")),
    catalog=store,
    namespace=settings.metrics_namespace,
    prediction_service=settings.prediction_service,
    cache_seconds=settings.metrics_cache_seconds,
)
probes = {
    "table": lambda: store.list_models(TagFilter(), 1, None),
    "bucket": bucket_probe(clients.client("s3"), settings.bucket_name),
    "cloudwatch": cloudwatch_probe(clients.client("cloudwatch"), settings.metrics_namespace, INVOCATIONS),
}
HEALTH_REPLY: Any = {"application/json": {"model": HealthReport}}
METRICS_REPLY: Any = {"text/plain": {"schema": {"type": "string"}}}


@app.get(
    "/health",
    responses={
        200: {"description": "Every dependency answered", "content": HEALTH_REPLY},
        503: {"description": "A dependency failed or did not answer in time", "content": HEALTH_REPLY},
    },
)
@tracer.capture_method
def health() -> Response[Any]:
    report = check_health(probes, timeout_s=settings.health_timeout_seconds)
    if report.status != "ok":
        logger.warning("a dependency failed its health check", extra=report.model_dump())
    return json_response(report, report.http_status)


@app.get(
    "/metrics",
    responses={
        200: {
            "description": f"Prometheus text exposition ({CONTENT_TYPE_PLAIN_0_0_4})",
            "content": METRICS_REPLY,
        }
    },
)
@tracer.capture_method
def metrics() -> Response[Any]:
    return Response(HTTPStatus.OK, CONTENT_TYPE_PLAIN_0_0_4, platform.exposition().decode())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
