"""Promotion function: stage changes, rollback and history (see ../shared/api.md, "Stages")."""

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdaops.aws import clients
from lambdaops.aws.step_functions import StepFunctionsRollouts
from lambdaops.promotion.canary import CanaryStarts
from lambdaops.promotion.schemas import (
    CanaryRequest,
    ExecutionStarted,
    History,
    RollbackRequest,
    RollbackResult,
    Rollout,
    StageChangeRequest,
    StageChangeResult,
)
from lambdaops.registry.schemas import TrafficSplit
from lambdaops.runtime import wiring
from lambdaops.runtime.http import build_resolver, caller, json_response, reply
from lambdaops.runtime.settings import PromotionSettings

logger = Logger()
tracer = Tracer()
# Ephemeral: Powertools Metrics share one set per process, and locally functions share a process.
metrics = EphemeralMetrics()
app = build_resolver(logger)
settings = PromotionSettings()  # type: ignore[call-arg]  # fields come from the environment
records = wiring.rollout_records(settings)
promotion = records.promotion
canaries = CanaryStarts(
    records, StepFunctionsRollouts(clients.client("stepfunctions"), settings.rollout_state_machine_arn)
)


@app.post("/models/<name>/versions/<version>/stage", responses=reply(StageChangeResult))
@tracer.capture_method
def change_stage(name: str, version: str, body: Annotated[StageChangeRequest, Body()]) -> Response[Any]:
    result = promotion.change_stage(name, version, body, caller(app, settings))
    metrics.add_metric(name="StageChanges", unit=MetricUnit.Count, value=1)
    metrics.add_metadata(key="stage", value=result.stage.value)
    return json_response(result)


@app.post("/models/<name>/rollback", responses=reply(RollbackResult))
@tracer.capture_method
def rollback(name: str, body: Annotated[RollbackRequest | None, Body()] = None) -> Response[Any]:
    result = promotion.rollback(name, body or RollbackRequest(), caller(app, settings))
    metrics.add_metric(name="Rollbacks", unit=MetricUnit.Count, value=1)
    return json_response(result)


@app.get("/models/<name>/history", responses=reply(History))
def history(name: str) -> Response[Any]:
    return json_response(promotion.history(name))


@app.get("/models/<name>/traffic", responses=reply(TrafficSplit))
def get_traffic(name: str) -> Response[Any]:
    return json_response(promotion.get_traffic(name))


@app.put("/models/<name>/traffic", responses=reply(TrafficSplit))
@tracer.capture_method
def set_traffic(name: str, body: Annotated[TrafficSplit, Body()]) -> Response[Any]:
    return json_response(promotion.set_traffic(name, body))


@app.post("/models/<name>/canary", responses=reply(ExecutionStarted, HTTPStatus.ACCEPTED))
@tracer.capture_method
def start_canary(name: str, body: Annotated[CanaryRequest, Body()]) -> Response[Any]:
    started = canaries.start(name, body, caller(app, settings))
    metrics.add_metric(name="CanariesStarted", unit=MetricUnit.Count, value=1)
    return json_response(started, HTTPStatus.ACCEPTED)


@app.get("/models/<name>/canary", responses=reply(Rollout))
def get_canary(name: str) -> Response[Any]:
    return json_response(canaries.latest(name))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
