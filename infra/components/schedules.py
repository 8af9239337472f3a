"""Scheduled invocations: one EventBridge rule per `ScheduleSpec`, its failures kept in one queue.

The queue, and the way its rules invoke, serve every EventBridge rule that invokes a function (the
dataset upload's too: `infra/components/training.py`).
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.components.functions import construct_name
from lambdaops_tools.deployment import Deployment, ScheduleSpec

# A scheduled run older than an hour is superseded by the next one; retrying it would only overlap.
MAX_EVENT_AGE = cdk.Duration.hours(1)
# EventBridge retries only failed deliveries (throttling, service errors): cheap and safe to repeat.
DELIVERY_RETRIES = 2
# Lambda retries a run that raised or timed out. One retry rides out a transient fault; a second failure
# is most likely persistent (a bug, a too-large scan), so it goes to the queue and raises the alarm
# instead of burning two more full timeouts and risking duplicate alerts from a half-done run.
INVOCATION_RETRIES = 1


def retry_then_dead_letter(function: lambda_.IFunction, dead_letter_queue: sqs.IQueue) -> None:
    """Lambda's own retries of the function's asynchronous invocations, then the queue."""
    function.configure_async_invoke(
        retry_attempts=INVOCATION_RETRIES,
        max_event_age=MAX_EVENT_AGE,
        on_failure=destinations.SqsDestination(dead_letter_queue),
    )


def invoke_asynchronously(
    function: lambda_.IFunction, dead_letter_queue: sqs.IQueue
) -> targets.LambdaFunction:
    """A rule target that invokes the function asynchronously; undeliverable events go to the queue."""
    return targets.LambdaFunction(
        function,
        dead_letter_queue=dead_letter_queue,
        retry_attempts=DELIVERY_RETRIES,
        max_event_age=MAX_EVENT_AGE,
    )


class Schedules(Construct):
    """Rules that invoke their functions asynchronously, with retries and one dead-letter queue.

    The queue receives both kinds of failure: events EventBridge could not deliver (the rule target's
    DLQ) and invocations that still failed after Lambda's retries (the function's on-failure destination).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: Deployment,
        functions: Mapping[str, lambda_.IFunction],
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        # On the queue resource itself, not its queue policy (a child construct that raises no finding).
        cfn_queue = self.dead_letter_queue.node.default_child
        assert isinstance(cfn_queue, sqs.CfnQueue)
        cdk.Validations.of(cfn_queue).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This queue is itself the dead-letter queue of the EventBridge rules' targets "
                "(schedules, dataset uploads) and of their functions' asynchronous invocations; its "
                "messages are read by people.",
            )
        )
        for name in sorted({schedule.function for schedule in deployment.schedules}):
            retry_then_dead_letter(functions[name], self.dead_letter_queue)
        self.rules = {
            schedule.name: self._rule(schedule, functions[schedule.function])
            for schedule in deployment.schedules
        }

    def _rule(self, schedule: ScheduleSpec, function: lambda_.IFunction) -> events.Rule:
        return events.Rule(
            self,
            f"{construct_name(schedule.name)}Rule",
            description=schedule.description,
            schedule=events.Schedule.expression(schedule.expression),
            targets=[invoke_asynchronously(function, self.dead_letter_queue)],
        )
