"""Canary function: the steps of the canary-rollout state machine (statemachines/canary_rollout.asl.json)."""

from typing import Literal

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdaops.aws import clients
from lambdaops.aws.cloudwatch_metrics import CloudWatchArmMetrics
from lambdaops.promotion.canary import CanarySteps
from lambdaops.promotion.schemas import RolloutState
from lambdaops.runtime import wiring
from lambdaops.runtime.settings import CanarySettings

logger = Logger()
tracer = Tracer()
settings = CanarySettings()  # type: ignore[call-arg]  # fields come from the environment
steps = CanarySteps(
    records=wiring.rollout_records(settings),
    metrics=CloudWatchArmMetrics(
        clients.client("cloudwatch"), settings.metrics_namespace, settings.prediction_service
    ),
)


class StepEvent(BaseModel):
    action: Literal["set_weight", "evaluate", "restore", "promote", "abort"]
    state: RolloutState


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=StepEvent)
def lambda_handler(event: StepEvent, context: LambdaContext) -> dict[str, object]:
    logger.info("canary step", extra={"action": event.action, "rollout": event.state.rollout})
    step = getattr(steps, event.action)
    result: RolloutState = step(event.state)
    return result.model_dump(mode="json")
