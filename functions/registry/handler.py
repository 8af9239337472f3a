"""Registry function: models and versions (see ../shared/api.md, "Models and versions")."""

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdaops.registry.catalog import Registry
from lambdaops.registry.schemas import CreateModelRequest, RegisterVersionRequest, UpdateVersionRequest
from lambdaops.registry.stages import Stage
from lambdaops.runtime import wiring
from lambdaops.runtime.http import build_resolver, caller, json_response, page_limit
from lambdaops.runtime.settings import RegistrySettings

logger = Logger()
tracer = Tracer()
# Ephemeral: Powertools Metrics share one set per process, and locally functions share a process.
metrics = EphemeralMetrics()
app = build_resolver(logger)
settings = RegistrySettings()  # type: ignore[call-arg]  # fields come from the environment
registry = Registry(
    store=wiring.registry_store(settings),
    artifacts=wiring.artifact_store(settings),
    events=wiring.event_publisher(settings),
    bucket=settings.bucket_name,
    max_artifact_bytes=settings.max_artifact_bytes,
)
Limit = Annotated[int | None, Query(ge=1)]


@app.post("/models")
@tracer.capture_method
def create_model(body: Annotated[CreateModelRequest, Body()]) -> Response[Any]:
    record = registry.create_model(body, caller(app, settings))
    return json_response(record, HTTPStatus.CREATED)


@app.get("/models")
def list_models(limit: Limit = None, next_token: Annotated[str | None, Query()] = None) -> Response[Any]:
    return json_response(registry.list_models(page_limit(limit, settings), next_token))


@app.get("/models/<name>")
def get_model(name: str) -> Response[Any]:
    return json_response(registry.get_model(name))


@app.post("/models/<name>/versions")
@tracer.capture_method
def register_version(name: str, body: Annotated[RegisterVersionRequest, Body()]) -> Response[Any]:
    record = registry.register_version(name, body, caller(app, settings))
    metrics.add_metric(name="VersionsRegistered", unit=MetricUnit.Count, value=1)
    return json_response(record, HTTPStatus.CREATED)


@app.get("/models/<name>/versions")
def list_versions(
    name: str,
    stage: Annotated[Stage | None, Query()] = None,
    tag: Annotated[str | None, Query()] = None,
    limit: Limit = None,
    next_token: Annotated[str | None, Query()] = None,
) -> Response[Any]:
    page = registry.list_versions(name, stage, tag, page_limit(limit, settings), next_token)
    return json_response(page)


@app.get("/models/<name>/versions/<version>")
def get_version(name: str, version: str) -> Response[Any]:
    return json_response(registry.get_version(name, version))


@app.patch("/models/<name>/versions/<version>")
def update_version(name: str, version: str, body: Annotated[UpdateVersionRequest, Body()]) -> Response[Any]:
    return json_response(registry.update_version(name, version, body))


@app.get("/models/<name>/compare")
def compare(name: str, a: Annotated[str, Query()], b: Annotated[str, Query()]) -> Response[Any]:
    return json_response(registry.compare(name, a, b))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
