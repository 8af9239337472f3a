"""Pipeline function: the steps of the training state machine (statemachines/train_and_register.asl.json).

The machine invokes it with `{"action": <step>, "state": <the machine's state>}` and carries on with the
state it returns; a raised error is the step's failure, caught by the machine and recorded on the run.
Runs on the onnx layer: evaluation scores the new and the production models with onnxruntime.
"""

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from lambdaops.aws import clients
from lambdaops.aws.dataset_files import S3DatasetFiles
from lambdaops.aws.run_store import DynamoRunStore
from lambdaops.aws.s3_artifacts import s3_put_object
from lambdaops.aws.sagemaker_jobs import SageMakerJobs, training_instance_types
from lambdaops.promotion.stage_changes import Promotion
from lambdaops.registry.catalog import Registry
from lambdaops.runtime import wiring
from lambdaops.runtime.metrics import EmfMetrics
from lambdaops.runtime.settings import PipelineSettings
from lambdaops.training.datasets import Datasets
from lambdaops.training.jobs import JobEnvironment, JobPlanner
from lambdaops.training.pipeline import PipelineState, TrainingPipeline

logger = Logger()
tracer = Tracer()
settings = PipelineSettings()  # type: ignore[call-arg]  # fields come from the environment
store = wiring.registry_store(settings)
events = wiring.event_publisher(settings)
artifacts = wiring.artifact_store(settings)
pipeline = TrainingPipeline(
    runs=DynamoRunStore(clients.client("dynamodb"), settings.table_name),
    datasets=Datasets(S3DatasetFiles(clients.client("s3"), settings.bucket_name), settings.bucket_name),
    planner=JobPlanner(
        JobEnvironment(
            role_arn=settings.sagemaker_role_arn,
            image_repository=settings.training_image_repository,
            image_version=settings.training_image_version,
            python_tag=settings.training_image_python,
            source_uri=settings.trainer_source_uri,
            bucket=settings.bucket_name,
            default_instance_type=settings.default_instance_type,
            default_max_runtime_s=settings.default_max_runtime_seconds,
            default_spot=settings.default_spot,
        )
    ),
    instance_types=training_instance_types,
    registry_store=store,
    registry=Registry(store, artifacts, events, settings.bucket_name, settings.max_artifact_bytes),
    promotion=Promotion(store, events),
    artifacts=artifacts,
    put_object=s3_put_object(clients.client("s3"), settings.bucket_name, "application/octet-stream"),
    jobs=SageMakerJobs(clients.client("sagemaker")),
    max_data_bytes=settings.max_data_bytes,
    metrics=EmfMetrics(settings.metrics_namespace, service=logger.service),
)


class StepEvent(BaseModel):
    action: str
    state: PipelineState
    execution_arn: str | None = None


STEPS: dict[str, Callable[[PipelineState], PipelineState]] = {
    "evaluate": pipeline.evaluate,
    "register": pipeline.register,
    "promote": pipeline.promote,
    "finish": pipeline.finish,
    "fail": pipeline.fail,
}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = StepEvent.model_validate(event)
    logger.append_keys(run_id=step.state.run_id, action=step.action)
    if step.action == "validate":
        state = pipeline.validate(step.state, step.execution_arn or "")
    elif step.action in STEPS:
        state = STEPS[step.action](step.state)
    else:
        raise ValueError(f"unknown pipeline action '{step.action}'")
    logger.info("pipeline step done")
    return state.model_dump(mode="json", exclude_none=True)
