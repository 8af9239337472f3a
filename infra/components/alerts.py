"""The alerts topic: drift findings and CloudWatch alarms reach the people subscribed to it."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from lambdaops_tools.deployment import TopicSpec

CLOUDWATCH = iam.ServicePrincipal("cloudwatch.amazonaws.com")


class Alerts(Construct):
    """An SNS topic encrypted with its own KMS key, SSL only, that this account's alarms may publish to.

    The key is customer-managed because CloudWatch alarms publish with the CloudWatch service principal,
    and the AWS-managed `alias/aws/sns` key's policy cannot be changed to let it: an alarm action on a
    topic encrypted with that key fails silently.
    """

    def __init__(self, scope: Construct, construct_id: str, *, spec: TopicSpec) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        # Confused-deputy guard: only alarms of this account and region act through the service principal.
        from_this_accounts_alarms = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {
                "aws:SourceArn": stack.format_arn(
                    service="cloudwatch",
                    resource="alarm",
                    resource_name="*",
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                )
            },
        }
        self.key = kms.Key(
            self,
            "AlertsKey",
            description="Encrypts the lambdaops alerts topic",
            enable_key_rotation=True,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublishToTheAlertsTopic",
                principals=[CLOUDWATCH],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=from_this_accounts_alarms,
            )
        )
        self.topic = sns.Topic(
            self,
            spec.logical_id,
            display_name="lambdaops alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[CLOUDWATCH],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=from_this_accounts_alarms,
            )
        )
        # A fixed logical id, like the table's and bucket's: subscriptions survive a construct-tree refactor.
        cfn_topic = self.topic.node.default_child
        assert isinstance(cfn_topic, sns.CfnTopic)
        cfn_topic.override_logical_id(spec.logical_id)
