"""Drift function: baselines and drift checks (see ../shared/api.md, "Drift and data quality"), the
scheduled scan of captured traffic (an EventBridge "Scheduled Event"), and the training machine's Baseline
step (`{"action": "baseline", model, version, data_uri}`). A drifted model with `retrain_on_drift` gets a
training run on its newest complete dataset.

Imports numpy and scipy (its own layer), never onnxruntime.
"""

from http import HTTPStatus
from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from lambdaops.aws import clients
from lambdaops.aws.dataset_files import S3DatasetFiles
from lambdaops.aws.drift_index import DynamoDriftIndex
from lambdaops.aws.drift_objects import S3DriftObjects
from lambdaops.aws.run_store import DynamoRunStore
from lambdaops.aws.sagemaker_jobs import training_instance_types
from lambdaops.aws.sns_alerts import SnsAlerts
from lambdaops.aws.step_functions import StepFunctionsExecutions
from lambdaops.monitoring.drift.monitor import DriftMonitor
from lambdaops.monitoring.drift.schemas import (
    BaselineRequest,
    BaselineSummary,
    DriftHistory,
    DriftReport,
    DriftRequest,
)
from lambdaops.runtime import wiring
from lambdaops.runtime.http import build_resolver, json_response, page_limit, reply
from lambdaops.runtime.metrics import EmfMetrics
from lambdaops.runtime.settings import DriftSettings
from lambdaops.training.datasets import Datasets
from lambdaops.training.retraining import DriftRetraining
from lambdaops.training.runs import TrainingRuns

logger = Logger()
tracer = Tracer()
app = build_resolver(logger)
settings = DriftSettings()  # type: ignore[call-arg]  # fields come from the environment
registry = wiring.registry_store(settings)
datasets = Datasets(S3DatasetFiles(clients.client("s3"), settings.bucket_name), settings.bucket_name)
runs = TrainingRuns(
    store=DynamoRunStore(clients.client("dynamodb"), settings.table_name),
    executions=StepFunctionsExecutions(clients.client("stepfunctions"), settings.training_state_machine_arn),
    datasets=datasets,
    registry=registry,
    instance_types=training_instance_types,
)
monitor = DriftMonitor(
    registry=registry,
    objects=S3DriftObjects(clients.client("s3"), settings.bucket_name),
    index=DynamoDriftIndex(clients.client("dynamodb"), settings.table_name),
    alerts=SnsAlerts(clients.client("sns"), settings.alerts_topic_arn),
    retraining=DriftRetraining(runs, datasets, logger),
    metrics=EmfMetrics(settings.metrics_namespace, service=logger.service),
    log=logger,
    max_data_bytes=settings.max_data_bytes,
    sample_size=settings.baseline_sample_size,
    scan_max_rows=settings.scan_max_rows,
)


@app.post("/models/<name>/versions/<version>/baseline", responses=reply(BaselineSummary, HTTPStatus.CREATED))
@tracer.capture_method
def create_baseline(name: str, version: str, body: Annotated[BaselineRequest, Body()]) -> Response[Any]:
    return json_response(monitor.create_baseline(name, version, body), HTTPStatus.CREATED)


@app.post("/models/<name>/drift", responses=reply(DriftReport))
@tracer.capture_method
def check_drift(name: str, body: Annotated[DriftRequest, Body()]) -> Response[Any]:
    return json_response(monitor.check(name, body))


@app.get("/models/<name>/drift", responses=reply(DriftHistory))
def drift_history(name: str, limit: Annotated[int | None, Query(ge=1)] = None) -> Response[Any]:
    return json_response(monitor.history(name, page_limit(limit, settings)))


@tracer.capture_method
def scheduled_scan(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    schedule = parse(event=event, model=EventBridgeModel)
    outcome = monitor.scan(seconds_left=lambda: context.get_remaining_time_in_millis() / 1000)
    logger.info(
        "drift scan finished",
        extra={
            "rule": schedule.resources,
            "reports": len(outcome.reports),
            "skipped": outcome.skipped,
            "deferred": outcome.deferred,
            "failures": [failure.model_dump() for failure in outcome.failures],
            "alerts": outcome.alerts,
        },
    )
    return outcome.model_dump(mode="json")


class BaselineStep(BaseModel):
    """The training machine's Baseline step: the registered version's baseline from its training file."""

    action: Literal["baseline"]
    model: str
    version: str
    data_uri: str


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("detail-type") == "Scheduled Event":
        return scheduled_scan(event, context)
    if event.get("action") == "baseline":
        step = BaselineStep.model_validate(event)
        baseline = monitor.create_baseline(step.model, step.version, BaselineRequest(data_uri=step.data_uri))
        return baseline.model_dump(mode="json")
    return app.resolve(event, context)
