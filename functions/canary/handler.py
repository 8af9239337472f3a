"""Canary function: the steps of the canary-rollout state machine (statemachines/canary_rollout.asl.json)."""

from typing import Any, Literal

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdaops import aws_clients
from lambdaops.canary import CanaryRollouts
from lambdaops.promotion import Promotion
from lambdaops.registry_events import EventBridgePublisher
from lambdaops.registry_store import DynamoRegistryStore
from lambdaops.rollout_adapters import CloudWatchArmMetrics
from lambdaops.rollout_store import DynamoRolloutStore
from lambdaops.settings import Settings

logger = Logger()
tracer = Tracer()
settings = Settings()  # type: ignore[call-arg]  # fields come from the environment
store = DynamoRegistryStore(aws_clients.client("dynamodb"), settings.table_name)
events = EventBridgePublisher(aws_clients.client("events"), settings.event_bus_name, settings.event_source)
rollouts = CanaryRollouts(
    store=store,
    rollouts=DynamoRolloutStore(aws_clients.client("dynamodb"), settings.table_name),
    promotion=Promotion(store=store, events=events),
    metrics=CloudWatchArmMetrics(aws_clients.client("cloudwatch"), settings.metrics_namespace),
)


class StepEvent(BaseModel):
    action: Literal["set_weight", "evaluate", "restore", "promote", "abort"]
    state: dict[str, Any]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=StepEvent)
def lambda_handler(event: StepEvent, context: LambdaContext) -> dict[str, Any]:
    step = getattr(rollouts, event.action)
    logger.info("canary step", extra={"action": event.action, "rollout": event.state.get("rollout")})
    result: dict[str, Any] = step(event.state)
    return result
