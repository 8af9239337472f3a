"""The one lambdaops stack: storage, alerts, training, functions, API, state machines, schedules, dataset
uploads, alarms and the dashboard, built from `DEPLOYMENT` and the deployment's context (`StackOptions`)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from infra.components.alerts import Alerts
from infra.components.api import Api
from infra.components.dashboard import Dashboard
from infra.components.functions import Functions
from infra.components.monitoring import Monitoring
from infra.components.rollouts import StateMachines
from infra.components.schedules import Schedules
from infra.components.storage import Storage
from infra.components.training import DatasetUploads, Training
from infra.options import StackOptions
from lambdaops_tools.deployment import DEPLOYMENT, Deployment

STACK_NAME = "Lambdaops"

# Flags the constructs rely on, pinned here because `infra/app.py`, `cdk synth` and the tests build
# the App differently and must all produce the same template.
FEATURE_FLAGS: dict[str, bool] = {
    # Access logs are delivered under a bucket policy; the legacy ACL needs ObjectWriter ownership.
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
}


class LambdaopsStack(cdk.Stack):
    """Composes the constructs; holds no resource definitions of its own."""

    def __init__(
        self, scope: Construct, construct_id: str, *, deployment: Deployment = DEPLOYMENT, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        for flag, value in FEATURE_FLAGS.items():
            self.node.set_context(flag, value)
        self.options = StackOptions.of(self)
        self.storage = Storage(self, "Storage", table=deployment.table, bucket=deployment.bucket)
        # Before the functions: the ones that publish alerts carry the topic's ARN in their environment.
        self.alerts = Alerts(self, "Alerts", spec=deployment.alerts_topic, options=self.options)
        # Before the functions too: the pipeline function names the jobs' role, image and trainer source.
        self.training = Training(self, "Training", trainer=deployment.trainer)
        self.functions = Functions(
            self,
            "Functions",
            deployment=deployment,
            table=self.storage.table,
            bucket=self.storage.bucket,
            bucket_key=self.storage.bucket_key,
            alerts_topic=self.alerts.topic,
            training=self.training,
        )
        self.training.grant_job_access(self.functions.grant_targets)
        self.api = Api(
            self, "Api", deployment=deployment, functions=self.functions.functions, options=self.options
        )
        self.state_machines = StateMachines(
            self,
            "StateMachines",
            deployment=deployment,
            functions=self.functions.functions,
            name_of=self.functions.state_machine_name,
            grant_targets=self.functions.grant_targets,
        )
        self.schedules = Schedules(
            self, "Schedules", deployment=deployment, functions=self.functions.functions
        )
        self.dataset_uploads = DatasetUploads(
            self,
            "DatasetUploads",
            spec=deployment.dataset_upload,
            bucket=self.storage.bucket,
            functions=self.functions.functions,
            dead_letter_queue=self.schedules.dead_letter_queue,
        )
        machines = self.state_machines.machines
        dashboard_name = f"{self.stack_name}-models"
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            alerts_topic=self.alerts.topic,
            dead_letter_queue=self.schedules.dead_letter_queue,
            api_stage=self.api.rest_api.deployment_stage,
            training_machine=machines["train-and-register"],
            dashboard_name=dashboard_name,
        )
        self.dashboard = Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name,
            alarms=self.monitoring.alarms,
            training_machine=machines["train-and-register"],
            canary_machine=machines["canary-rollout"],
        )
        cdk.CfnOutput(self, "ApiUrl", value=self.api.rest_api.url)
        cdk.CfnOutput(self, "TableName", value=self.storage.table.table_name)
        cdk.CfnOutput(self, "BucketName", value=self.storage.bucket.bucket_name)
        cdk.CfnOutput(self, "AlertsTopicArn", value=self.alerts.topic.topic_arn)
        cdk.CfnOutput(
            self,
            "TrainingStateMachineArn",
            value=self.state_machines.machines["train-and-register"].state_machine_arn,
        )


def add_checked_stack(app: cdk.App) -> LambdaopsStack:
    """The stack as `infra/app.py` and the tests build it: with the cdk-nag AwsSolutions checks."""
    stack = LambdaopsStack(app, STACK_NAME, description="lambdaops: serverless model registry and promotion")
    # Acknowledged findings are also written to the template's Metadata, where tests can audit them.
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
    )
    return stack
