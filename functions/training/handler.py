"""Training function: start and follow training runs (see ../shared/api.md, "Training and tuning").

`POST /training`, `GET /training`, `GET /training/{run_id}`, and the dataset upload trigger: an S3
"Object Created" event for `datasets/<model>/<dataset_id>/manifest.json` (an EventBridge rule) starts one
run. EventBridge delivers at least once, so the upload is idempotent per manifest version (Powertools'
Idempotency utility over the registry table): a redelivered event returns the run it already started.
"""

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from lambdaops.aws import clients
from lambdaops.aws.dataset_files import S3DatasetFiles
from lambdaops.aws.run_store import DynamoRunStore
from lambdaops.aws.sagemaker_jobs import SageMakerJobs, training_instance_types
from lambdaops.aws.step_functions import StepFunctionsExecutions
from lambdaops.aws.table_keys import idempotency_pk
from lambdaops.runtime import wiring
from lambdaops.runtime.http import build_resolver, json_response, page_limit, reply
from lambdaops.runtime.settings import TrainingSettings
from lambdaops.training.datasets import Datasets, dataset_from_manifest_key
from lambdaops.training.runs import TrainingRuns
from lambdaops.training.schemas import RunId, RunPage, RunRecord, RunStatus, StartedRun, TrainingRequest

logger = Logger()
tracer = Tracer()
app = build_resolver(logger)
settings = TrainingSettings()  # type: ignore[call-arg]  # fields come from the environment
runs = TrainingRuns(
    store=DynamoRunStore(clients.client("dynamodb"), settings.table_name),
    executions=StepFunctionsExecutions(clients.client("stepfunctions"), settings.training_state_machine_arn),
    datasets=Datasets(S3DatasetFiles(clients.client("s3"), settings.bucket_name), settings.bucket_name),
    registry=wiring.registry_store(settings),
    instance_types=training_instance_types,
    jobs=SageMakerJobs(clients.client("sagemaker")),
)
idempotency = IdempotencyConfig(
    event_key_jmespath="[bucket, key, version]", expires_after_seconds=7 * 24 * 3600
)
persistence = DynamoDBPersistenceLayer(
    table_name=settings.table_name,
    key_attr="PK",
    sort_key_attr="SK",
    static_pk_value=idempotency_pk("training-upload"),
    boto3_client=clients.client("dynamodb"),
)


class ManifestUpload(BaseModel):
    bucket: str
    key: str
    version: str
    """The object's version id (or its sequencer where versioning is off): one run per manifest version."""


@app.post("/training", responses=reply(StartedRun, HTTPStatus.ACCEPTED))
@tracer.capture_method
def start_run(body: Annotated[TrainingRequest, Body()]) -> Response[Any]:
    return json_response(runs.start(body, trigger="api"), HTTPStatus.ACCEPTED)


@app.get("/training", responses=reply(RunPage))
def list_runs(
    model: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[RunStatus | None, Query()] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response[Any]:
    return json_response(runs.list(model, status, page_limit(limit, settings), next_token))


@app.get("/training/<run_id>", responses=reply(RunRecord))
def get_run(run_id: RunId) -> Response[Any]:
    return json_response(runs.get(run_id, live=True))


@idempotent_function(data_keyword_argument="upload", persistence_store=persistence, config=idempotency)
def start_for_upload(upload: ManifestUpload) -> dict[str, Any]:
    dataset = dataset_from_manifest_key(upload.bucket, upload.key)
    if dataset is None:  # the rule matched a key that is not a dataset's manifest
        logger.warning("not a dataset manifest; nothing started", extra={"key": upload.key})
        return {"started": None}
    started = runs.start_for_dataset(dataset, trigger="upload")
    logger.info("training run started by an upload", extra={"key": upload.key, "run_id": started.run_id})
    return {"started": started.model_dump()}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("source") == "aws.s3":
        notification = parse(event=event, model=S3EventNotificationEventBridgeModel)
        detail = notification.detail
        idempotency.register_lambda_context(context)
        return start_for_upload(  # type: ignore[no-any-return]
            upload=ManifestUpload(
                bucket=detail.bucket.name,
                key=detail.object.key,
                version=detail.object.version_id or detail.object.sequencer or "",
            )
        )
    return app.resolve(event, context)
