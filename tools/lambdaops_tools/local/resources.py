"""Create the deployment's stateful resources in moto from the same declarations CDK uses."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, replace
from typing import Any

import boto3

from lambdaops_tools.deployment import DEPLOYMENT, Deployment, FunctionSpec, TrainerSpec, function_environment
from lambdaops_tools.grants import GrantTargets
from lambdaops_tools.trainer_source import trainer_archive

LOCAL_ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
DLC_ACCOUNT = "763104351884"
"""AWS Deep Learning Containers' registry account in us-east-1 (CDK looks it up per region)."""
SAGEMAKER_ROLE = "lambdaops-local-sagemaker"


@dataclass(frozen=True)
class LocalResources:
    table_name: str
    bucket_name: str
    event_bus_name: str
    alerts_topic_arn: str
    trainer: TrainerSpec

    @classmethod
    def declared(cls, deployment: Deployment = DEPLOYMENT) -> LocalResources:
        """The names `create_local_resources` gives the deployment's resources, without creating them."""
        return cls(
            table_name=deployment.table.local_name,
            bucket_name=deployment.bucket.local_name,
            event_bus_name=deployment.event_bus_name,
            alerts_topic_arn=f"arn:aws:sns:{REGION}:{LOCAL_ACCOUNT}:{deployment.alerts_topic.local_name}",
            trainer=deployment.trainer,
        )

    def state_machine_arn(self, name: str) -> str:
        return f"arn:aws:states:{REGION}:{LOCAL_ACCOUNT}:stateMachine:{name}"

    def executions_arn(self, name: str) -> str:
        return f"arn:aws:states:{REGION}:{LOCAL_ACCOUNT}:execution:{name}:*"

    @property
    def grant_targets(self) -> GrantTargets:
        """What the functions' grants point at locally (the topic has no KMS key here)."""
        return GrantTargets(
            table_name=self.table_name,
            table_arn=f"arn:aws:dynamodb:{REGION}:{LOCAL_ACCOUNT}:table/{self.table_name}",
            bucket_name=self.bucket_name,
            bucket_arn=f"arn:aws:s3:::{self.bucket_name}",
            event_bus_name=self.event_bus_name,
            event_bus_arn=f"arn:aws:events:{REGION}:{LOCAL_ACCOUNT}:event-bus/{self.event_bus_name}",
            alerts_topic_arn=self.alerts_topic_arn,
            alerts_key_arn=None,
            rollout_state_machine_arn=self.state_machine_arn("canary-rollout"),
            rollout_executions_arn=self.executions_arn("canary-rollout"),
            training_state_machine_arn=self.state_machine_arn("train-and-register"),
            training_executions_arn=self.executions_arn("train-and-register"),
            sagemaker_arn_prefix=f"arn:aws:sagemaker:{REGION}:{LOCAL_ACCOUNT}:",
            sagemaker_role_arn=f"arn:aws:iam::{LOCAL_ACCOUNT}:role/{SAGEMAKER_ROLE}",
            training_image_repository=f"{DLC_ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{self.trainer.image_repository}",
            training_image_repository_arn=f"arn:aws:ecr:{REGION}:{DLC_ACCOUNT}:repository/{self.trainer.image_repository}",
            trainer_source_uri=f"s3://{self.bucket_name}/{self.trainer.local_key}",
            trainer_source_object_arn=f"arn:aws:s3:::{self.bucket_name}/{self.trainer.local_key}",
        )

    def environment(self, spec: FunctionSpec) -> dict[str, str]:
        """The function's declared environment, filled with these local resources (context settings take
        their defaults)."""
        return function_environment(spec, self.grant_targets)


def table_definition(deployment: Deployment) -> dict[str, Any]:
    """`CreateTable` arguments for the registry table, derived from its `TableSpec`."""
    spec = deployment.table

    def key_schema(partition_key: str, sort_key: str) -> list[dict[str, str]]:
        return [
            {"AttributeName": partition_key, "KeyType": "HASH"},
            {"AttributeName": sort_key, "KeyType": "RANGE"},
        ]

    return {
        "TableName": spec.local_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": "S"} for n in spec.attribute_names],
        "KeySchema": key_schema(spec.keys.partition_key, spec.keys.sort_key),
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index.name,
                "KeySchema": key_schema(index.keys.partition_key, index.keys.sort_key),
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in spec.indexes
        ],
    }


def create_local_resources(deployment: Deployment = DEPLOYMENT) -> LocalResources:
    """Table (with PITR), versioned bucket with EventBridge notifications, alerts topic; idempotent."""
    resources = LocalResources.declared(deployment)
    dynamodb = boto3.client("dynamodb")
    s3 = boto3.client("s3")
    table = resources.table_name
    if table not in dynamodb.list_tables()["TableNames"]:
        dynamodb.create_table(**table_definition(deployment))
        dynamodb.get_waiter("table_exists").wait(TableName=table)
    dynamodb.update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    bucket = resources.bucket_name
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    topic = boto3.client("sns").create_topic(Name=deployment.alerts_topic.local_name)["TopicArn"]
    s3.put_object(
        Bucket=bucket, Key=deployment.trainer.local_key, Body=trainer_archive(deployment.trainer.source)
    )
    return replace(resources, alerts_topic_arn=topic)


def _code_stub() -> bytes:
    """moto wants a zip for a function's code; the local runtime runs the real code instead."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "run in-process by lambdaops_tools.local.local_runtime\n")
    return buffer.getvalue()


def create_functions_and_state_machines(
    resources: LocalResources, deployment: Deployment = DEPLOYMENT
) -> dict[str, str]:
    """Lambda functions (so their ARNs exist), the state machines from their ASL files, and the schedules'
    rules targeting their functions; name -> ARN."""
    iam = boto3.client("iam")
    lambda_ = boto3.client("lambda")
    stepfunctions = boto3.client("stepfunctions")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}
        ],
    }
    role = iam.create_role(RoleName="lambdaops-local", AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    arns = {}
    for spec in deployment.functions:
        arns[spec.name] = lambda_.create_function(
            FunctionName=spec.name,
            Runtime="python3.12",
            Role=role,
            Handler=spec.handler,
            Code={"ZipFile": _code_stub()},
            Timeout=spec.timeout_s,
            MemorySize=spec.memory_mb,
            Environment={"Variables": resources.environment(spec)},
        )["FunctionArn"]
    sagemaker_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
            }
        ],
    }
    iam.create_role(RoleName=SAGEMAKER_ROLE, AssumeRolePolicyDocument=json.dumps(sagemaker_trust))
    for machine in deployment.state_machines:
        definition = machine.definition_with(machine.substitutions(arns, resources.grant_targets))
        arns[machine.name] = stepfunctions.create_state_machine(
            name=machine.name, definition=definition, roleArn=role
        )["stateMachineArn"]
    events = boto3.client("events")
    for schedule in deployment.schedules:
        arns[schedule.name] = events.put_rule(
            Name=schedule.name, ScheduleExpression=schedule.expression, Description=schedule.description
        )["RuleArn"]
        events.put_targets(
            Rule=schedule.name, Targets=[{"Id": schedule.function, "Arn": arns[schedule.function]}]
        )
    upload = deployment.dataset_upload
    arns[upload.name] = events.put_rule(
        Name=upload.name,
        EventPattern=json.dumps(upload.event_pattern(resources.bucket_name)),
        Description=upload.description,
    )["RuleArn"]
    events.put_targets(Rule=upload.name, Targets=[{"Id": upload.function, "Arn": arns[upload.function]}])
    return arns
