"""The alerts topic: drift findings, training runs and CloudWatch alarms reach the people subscribed to it,
by e-mail, an HTTPS webhook or Slack (AWS Chatbot) as the deployment's context says."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.options import StackOptions
from lambdaops_tools.deployment import TopicSpec

CLOUDWATCH = iam.ServicePrincipal("cloudwatch.amazonaws.com")

# What AWS Chatbot reads to render an alarm notification (its state, history and graph) in Slack. Neither
# the channel's role nor, as its guardrail, anyone in the channel may do more.
CHATBOT_READS = (
    "cloudwatch:DescribeAlarms",
    "cloudwatch:DescribeAlarmHistory",
    "cloudwatch:GetMetricData",
    "cloudwatch:GetMetricWidgetImage",
)
CHATBOT_REASON = (
    "AWS Chatbot renders alarm notifications with cloudwatch:DescribeAlarms, DescribeAlarmHistory, "
    "GetMetricData and GetMetricWidgetImage, read-only actions that take no resource-level permissions."
)


class Alerts(Construct):
    """An SNS topic encrypted with its own KMS key, SSL only, that this account's alarms may publish to.

    The key is customer-managed because CloudWatch alarms publish with the CloudWatch service principal,
    and the AWS-managed `alias/aws/sns` key's policy cannot be changed to let it: an alarm action on a
    topic encrypted with that key fails silently.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, spec: TopicSpec, options: StackOptions
    ) -> None:
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
        assert isinstance(cfn_topic, sns.CfnTopic)  # nosec B101 # narrows a type for mypy; nothing runs with -O
        cfn_topic.override_logical_id(spec.logical_id)
        for email in options.alert_emails:
            # Each address confirms its subscription from the first message SNS sends it.
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        if options.alert_webhook is not None:
            self.topic.add_subscription(
                subscriptions.UrlSubscription(options.alert_webhook, protocol=sns.SubscriptionProtocol.HTTPS)
            )
        self.slack = None
        if options.slack_workspace_id is not None and options.slack_channel_id is not None:
            self.slack = self._slack(options.slack_workspace_id, options.slack_channel_id)

    def _slack(self, workspace_id: str, channel_id: str) -> chatbot.SlackChannelConfiguration:
        """The topic into a Slack channel through AWS Chatbot, which may only read alarms and graphs.

        The workspace must have been authorized in the Chatbot console once; without a guardrail, Chatbot
        would apply AdministratorAccess to the channel, so the guardrail is the role's own read-only policy.
        """
        reads = iam.PolicyStatement(actions=list(CHATBOT_READS), resources=["*"])
        guardrail = iam.ManagedPolicy(
            self,
            "ChatbotGuardrail",
            description="The most a lambdaops alerts channel in Slack may do: read alarms and their graphs",
            statements=[reads],
        )
        role = iam.Role(
            self,
            "ChatbotRole",
            assumed_by=iam.ServicePrincipal("chatbot.amazonaws.com"),
            description="AWS Chatbot's role for the lambdaops alerts channel: reads alarms and their graphs",
            managed_policies=[guardrail],
        )
        acknowledgment = cdk.Acknowledgment(id="AwsSolutions-IAM5[Resource::*]", reason=CHATBOT_REASON)
        cdk.Validations.of(guardrail).acknowledge(acknowledgment)
        channel = chatbot.SlackChannelConfiguration(
            self,
            "SlackChannel",
            slack_channel_configuration_name=f"{cdk.Stack.of(self).stack_name}-alerts",
            slack_workspace_id=workspace_id,
            slack_channel_id=channel_id,
            notification_topics=[self.topic],
            role=role,
            guardrail_policies=[guardrail],
            logging_level=chatbot.LoggingLevel.ERROR,
            user_role_required=False,
        )
        return channel
