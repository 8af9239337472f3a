"""Lambda layers and functions, one of each per declaration, with least-privilege roles."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.layer_bundling import layer_bundling_options
from lambdaops_tools.deployment import (
    PYTHON_RUNTIME,
    DependencySet,
    Deployment,
    FunctionSpec,
    function_environment,
)

# Bytecode and build metadata are not code.
LAMBDAOPS_LAYER_EXCLUDE = ["**/__pycache__", "**/*.pyc", "python/*.egg-info"]
CODE_EXCLUDE = ["**/__pycache__", "**/*.pyc"]

RUNTIME = next(runtime for runtime in lambda_.Runtime.ALL if runtime.name == PYTHON_RUNTIME)
ARCHITECTURE = lambda_.Architecture.X86_64

# Object keys a `writes_drift` function may put: baselines beside their model, reports under drift/.
DRIFT_OBJECT_KEYS = ("models/*/baselines/*", "drift/*")


def construct_name(name: str) -> str:
    """`registry` -> `Registry`: construct ids read as nouns in the template."""
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))


class Functions(Construct):
    """The `lambdaops` layer, one layer per dependency set, and one function per `FunctionSpec`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: Deployment,
        table: dynamodb.ITable,
        bucket: s3.IBucket,
        alerts_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self._deployment = deployment
        self._table = table
        self._bucket = bucket
        self._alerts_topic = alerts_topic
        self._event_bus = events.EventBus.from_event_bus_name(self, "EventBus", deployment.event_bus_name)
        self.lambdaops_layer = lambda_.LayerVersion(
            self,
            "LambdaopsLayer",
            code=lambda_.Code.from_asset(str(deployment.package_layer), exclude=LAMBDAOPS_LAYER_EXCLUDE),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="The lambdaops package: domain, adapters and settings shared by every function",
        )
        self.dependency_layers = {dep.name: self._dependency_layer(dep) for dep in deployment.dependency_sets}
        self.functions = {spec.name: self._function(spec) for spec in deployment.functions}

    def _dependency_layer(self, dep: DependencySet) -> lambda_.LayerVersion:
        return lambda_.LayerVersion(
            self,
            f"{construct_name(dep.name)}Layer",
            code=lambda_.Code.from_asset(
                str(dep.requirements.parent),
                bundling=layer_bundling_options(dep.requirements, RUNTIME.bundling_image),
            ),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description=dep.description,
        )

    def _function(self, spec: FunctionSpec) -> lambda_.Function:
        name = construct_name(spec.name)
        # An own role instead of AWSLambdaBasicExecutionRole: it may write only its own log group.
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs the {spec.name} function",
        )
        log_group = logs.LogGroup(self, f"{name}Logs", retention=logs.RetentionDays.ONE_MONTH)
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            name,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=lambda_.Code.from_asset(str(spec.code_dir), exclude=CODE_EXCLUDE),
            handler=spec.handler,
            memory_size=spec.memory_mb,
            timeout=cdk.Duration.seconds(spec.timeout_s),
            layers=[self.lambdaops_layer, *(self.dependency_layers[dep] for dep in spec.dependency_sets)],
            environment=function_environment(
                spec,
                table_name=self._table.table_name,
                bucket_name=self._bucket.bucket_name,
                event_bus_name=self._deployment.event_bus_name,
                rollout_state_machine_arn=self.state_machine_arn("canary-rollout"),
                # `cdk deploy -c lambdaops:preload-models=churn,fraud` warms those models at init.
                preload_models=str(self.node.try_get_context("lambdaops:preload-models") or ""),
                alerts_topic_arn=self._alerts_topic.topic_arn,
            ),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            role=role,
            description=spec.description,
        )
        self._grant(spec, function)
        cdk.Validations.of(function).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-L1",
                reason=f"The runtime is pinned by lambdaops.deployment.PYTHON_RUNTIME ({PYTHON_RUNTIME}); "
                "the dependency layers are built for that interpreter's wheels, so it moves deliberately.",
            )
        )
        cdk.Validations.of(role).acknowledge(*self._wildcard_acknowledgments(spec))
        return function

    def _grant(self, spec: FunctionSpec, function: lambda_.Function) -> None:
        if spec.writes_table:
            self._table.grant_read_write_data(function)
        else:
            self._table.grant_read_data(function)
        if spec.reads_artifacts:
            # Exactly what `S3ArtifactStore.fetch` calls; ListBucket turns a missing key into 404, not 403.
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject", "s3:GetObjectVersion"],
                    resources=[self._bucket.arn_for_objects("*")],
                )
            )
            function.add_to_role_policy(
                iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self._bucket.bucket_arn])
            )
        if spec.publishes_events:
            self._event_bus.grant_put_events_to(function)
        if spec.writes_captures:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["s3:PutObject"], resources=[self._bucket.arn_for_objects("captures/*")]
                )
            )
        if spec.starts_rollouts:
            machines = [self.state_machine_arn(machine.name) for machine in self._deployment.state_machines]
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["states:StartExecution", "states:ListExecutions"], resources=machines
                )
            )
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["states:DescribeExecution"],
                    resources=[
                        self.execution_arns(machine.name) for machine in self._deployment.state_machines
                    ],
                )
            )
        if spec.reads_metrics:
            function.add_to_role_policy(
                iam.PolicyStatement(actions=["cloudwatch:GetMetricData"], resources=["*"])
            )
        if spec.writes_drift:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["s3:PutObject"],
                    resources=[self._bucket.arn_for_objects(keys) for keys in DRIFT_OBJECT_KEYS],
                )
            )
        if spec.publishes_alerts:
            self._alerts_topic.grant_publish(function)

    def state_machine_name(self, name: str) -> str:
        """Named explicitly, so functions can know its ARN without depending on the machine itself."""
        return f"{cdk.Stack.of(self).stack_name}-{name}"

    def state_machine_arn(self, name: str) -> str:
        return cdk.Stack.of(self).format_arn(
            service="states",
            resource="stateMachine",
            resource_name=self.state_machine_name(name),
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )

    def execution_arns(self, name: str) -> str:
        return cdk.Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine_name(name)}:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )

    def _wildcard_acknowledgments(self, spec: FunctionSpec) -> list[cdk.Acknowledgment]:
        """Each wildcard the grants above produce, acknowledged by the exact finding it raises."""
        acknowledgments = [
            cdk.Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="X-Ray PutTraceSegments/PutTelemetryRecords (active tracing)"
                + (" and cloudwatch:GetMetricData (canary judgement)" if spec.reads_metrics else "")
                + " support no resource-level permissions, so their resource must be '*'.",
            )
        ]
        if self._deployment.table.indexes:
            acknowledgments.append(
                cdk.Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::<{self._deployment.table.logical_id}.Arn>/index/*]",
                    reason="Queries on the registry table's GSIs: the grant covers this one table's "
                    "indexes (<table arn>/index/*), not other tables.",
                )
            )
        if spec.writes_captures:
            acknowledgments.append(
                cdk.Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::<{self._deployment.bucket.logical_id}.Arn>/captures/*]",
                    reason="Captured predictions are written as new objects under captures/<model>/dt=.../ "
                    "of this one bucket; their keys are made per request.",
                )
            )
        if spec.writes_drift:
            acknowledgments += [
                cdk.Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::<{self._deployment.bucket.logical_id}.Arn>/{keys}]",
                    reason="Baselines (models/<model>/baselines/<version>...) and drift reports "
                    "(drift/<model>/...) are new objects of this one bucket, keyed per model and scan.",
                )
                for keys in DRIFT_OBJECT_KEYS
            ]
        if spec.publishes_alerts:
            acknowledgments.append(
                cdk.Acknowledgment(
                    id="AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
                    reason="Publishing to the SSE-KMS alerts topic needs kms:GenerateDataKey* and "
                    "kms:Decrypt (as SNS documents and grant_publish grants), on the topic's own key only.",
                )
            )
        if spec.starts_rollouts:
            acknowledgments.append(
                cdk.Acknowledgment(
                    id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>"
                    f":execution:{self.state_machine_name('canary-rollout')}:*]",
                    reason="DescribeExecution on the executions of this one state machine, whose names "
                    "Step Functions generates per rollout.",
                )
            )
        if spec.reads_artifacts:
            acknowledgments.append(
                cdk.Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::<{self._deployment.bucket.logical_id}.Arn>/*]",
                    reason="Model artifacts are read by the key given at registration, so GetObject "
                    "covers the objects of this one artifacts bucket (<bucket arn>/*).",
                )
            )
        return acknowledgments
