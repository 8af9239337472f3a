"""Scheduled invocations: one EventBridge rule per `ScheduleSpec`, its failures kept in one queue.

The queue, and the way its rules invoke, serve every EventBridge rule that invokes a function (the
dataset upload's too: `infra/components/training.py`).
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
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

DEAD_LETTER_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
"""What sending to the KMS-encrypted queue needs, for EventBridge (key policy) and functions (roles)."""


def retry_then_dead_letter(function: lambda_.IFunction, dead_letter_queue: sqs.IQueue) -> None:
    """Lambda's own retries of the function's asynchronous invocations, then the queue.

    The destination sends with the function's role. Given the queue with its key, CDK would grant it
    kms:Encrypt, Decrypt, ReEncrypt* and GenerateDataKey*; sending to an SSE-KMS queue needs only
    GenerateDataKey and Decrypt, so the destination gets the queue without its key and the role those two.
    """
    key = dead_letter_queue.encryption_master_key
    destination_queue = dead_letter_queue
    if key is not None:
        assert isinstance(function, Construct), function  # nosec B101 # narrows a type for mypy; nothing runs with -O
        destination_queue = sqs.Queue.from_queue_attributes(
            function,
            "DeadLetterQueue",
            queue_arn=dead_letter_queue.queue_arn,
            queue_url=dead_letter_queue.queue_url,
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=list(DEAD_LETTER_KEY_ACTIONS), resources=[key.key_arn])
        )
    function.configure_async_invoke(
        retry_attempts=INVOCATION_RETRIES,
        max_event_age=MAX_EVENT_AGE,
        on_failure=destinations.SqsDestination(destination_queue),
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
        self.dead_letter_key = self._dead_letter_key()
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            # A dead-lettered event carries its whole payload (a dataset's bucket and key, a scan's
            # input): encrypted with a key of this stack, whose policy says which services may write.
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.dead_letter_key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        # On the queue resource itself, not its queue policy (a child construct that raises no finding).
        cfn_queue = self.dead_letter_queue.node.default_child
        assert isinstance(cfn_queue, sqs.CfnQueue)  # nosec B101 # narrows a type for mypy; nothing runs with -O
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

    def _dead_letter_key(self) -> kms.Key:
        """The queue's key, usable by EventBridge for this account's rules' undeliverable events.

        Lambda's on-failure destination writes with the function's role, which its grant covers; the
        rules' dead-letter delivery writes as EventBridge, which only the key policy can let in. The rules
        are not named here: naming them would make the key depend on them, and they on the queue.
        """
        stack = cdk.Stack.of(self)
        key = kms.Key(
            self,
            "DeadLetterKey",
            description="Encrypts the lambdaops dead-letter queue",
            enable_key_rotation=True,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgeRulesDeadLetter",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=list(DEAD_LETTER_KEY_ACTIONS),
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="events", resource="rule", resource_name="*"
                        )
                    },
                },
            )
        )
        return key

    def _rule(self, schedule: ScheduleSpec, function: lambda_.IFunction) -> events.Rule:
        return events.Rule(
            self,
            f"{construct_name(schedule.name)}Rule",
            description=schedule.description,
            schedule=events.Schedule.expression(schedule.expression),
            targets=[invoke_asynchronously(function, self.dead_letter_queue)],
        )
