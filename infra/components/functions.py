"""Lambda layers and functions, one of each per declaration, with least-privilege roles."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.layer_bundling import function_code, layer_bundling_options, package_layer_code
from lambdaops_tools.deployment import (
    PYTHON_RUNTIME,
    DependencySet,
    Deployment,
    FunctionSpec,
    function_environment,
)
from lambdaops_tools.grants import Grant, GrantTargets, Statement

if TYPE_CHECKING:
    from infra.components.training import Training

RUNTIME = next(runtime for runtime in lambda_.Runtime.ALL if runtime.name == PYTHON_RUNTIME)
ARCHITECTURE = lambda_.Architecture.X86_64

# Active tracing adds X-Ray statements on "*" to every function's role.
TRACING_REASON = (
    "X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) support no resource-level permissions, "
    "so their resource must be '*'."
)


def flatten_reference(resolved: Any) -> str:
    """A resolved resource the way a cdk-nag finding names it: `<RegistryTable.Arn>/index/*`.

    Only the forms our statements resolve to: plain text, `Ref`, `Fn::GetAtt` and `Fn::Join` of them, the
    CDK assets bucket's `Fn::Sub` (`${X}` reads `<X>`) and a regional fact's `Fn::FindInMap` (cdk-nag
    prints what it has no name for as compact JSON).
    """
    if isinstance(resolved, str):
        return resolved
    if isinstance(resolved, dict) and len(resolved) == 1:
        ((function, argument),) = resolved.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return "<{}.{}>".format(*argument)
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(flatten_reference(part) for part in parts)
        if function == "Fn::Sub" and isinstance(argument, str):
            return argument.replace("${", "<").replace("}", ">")
        if function == "Fn::FindInMap":
            return json.dumps(resolved, separators=(",", ":"))
    raise ValueError(f"no finding name for {json.dumps(resolved)}")


def wildcard_findings(statement: Statement, resolve: Callable[[str], Any]) -> list[str]:
    """The `AwsSolutions-IAM5[...]` finding ids cdk-nag raises for the statement's wildcards.

    `resolve` turns a resource (a token) into its CloudFormation value, as `cdk.Stack.resolve` does.
    """
    findings = [f"Action::{action}" for action in statement.actions if "*" in action]
    findings += [
        f"Resource::{flat}"
        for flat in (flatten_reference(resolve(resource)) for resource in statement.resources)
        if "*" in flat
    ]
    return [f"AwsSolutions-IAM5[{finding}]" for finding in findings]


def policy_statement(statement: Statement) -> iam.PolicyStatement:
    """The IAM statement of a grant's `Statement`, its conditions included."""
    return iam.PolicyStatement(
        actions=list(statement.actions),
        resources=list(statement.resources),
        conditions=dict(statement.conditions) or None,
    )


def wildcard_acknowledgments(
    grants: Iterable[Grant],
    targets: GrantTargets,
    resolve: Callable[[str], Any],
    reasons: dict[str, list[str]] | None = None,
) -> list[cdk.Acknowledgment]:
    """Each wildcard the grants' statements raise, acknowledged by its exact finding with its grant's
    reason; `reasons` are findings the role raises besides (tracing, logging). Findings raised by several
    statements join their reasons."""
    reasons = {finding: list(why) for finding, why in (reasons or {}).items()}
    for grant in grants:
        for statement in grant.statements(targets):
            for finding in wildcard_findings(statement, resolve):
                if statement.reason is None:
                    raise ValueError(f"{grant!r} raises {finding} but gives no reason for it")
                found = reasons.setdefault(finding, [])
                if statement.reason not in found:
                    found.append(statement.reason)
    return [cdk.Acknowledgment(id=finding, reason=" ".join(why)) for finding, why in reasons.items()]


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
        bucket_key: kms.IKey,
        alerts_topic: sns.ITopic,
        training: Training,
    ) -> None:
        super().__init__(scope, construct_id)
        self._deployment = deployment
        stack = cdk.Stack.of(self)
        event_bus = events.EventBus.from_event_bus_name(self, "EventBus", deployment.event_bus_name)
        alerts_key = alerts_topic.master_key
        # What the functions' grants point at: this stack's resources, as tokens.
        self.grant_targets = GrantTargets(
            table_name=table.table_name,
            table_arn=table.table_arn,
            bucket_name=bucket.bucket_name,
            bucket_arn=bucket.bucket_arn,
            event_bus_name=deployment.event_bus_name,
            event_bus_arn=event_bus.event_bus_arn,
            alerts_topic_arn=alerts_topic.topic_arn,
            alerts_key_arn=alerts_key.key_arn if alerts_key is not None else None,
            rollout_state_machine_arn=self.state_machine_arn("canary-rollout"),
            rollout_executions_arn=self.execution_arns("canary-rollout"),
            training_state_machine_arn=self.state_machine_arn("train-and-register"),
            training_executions_arn=self.execution_arns("train-and-register"),
            sagemaker_arn_prefix=f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}:",
            sagemaker_role_arn=training.role.role_arn,
            training_image_repository=training.image_repository,
            training_image_repository_arn=training.image_repository_arn,
            trainer_source_uri=training.source.s3_object_url,
            trainer_source_object_arn=training.source.bucket.arn_for_objects(training.source.s3_object_key),
            bucket_key_arn=bucket_key.key_arn,
        )
        self.lambdaops_layer = lambda_.LayerVersion(
            self,
            "LambdaopsLayer",
            code=package_layer_code(self, deployment.package_layer, RUNTIME.bundling_image),
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
            code=function_code(self, spec.code_dir, RUNTIME.bundling_image),
            handler=spec.handler,
            memory_size=spec.memory_mb,
            timeout=cdk.Duration.seconds(spec.timeout_s),
            layers=[self.lambdaops_layer, *(self.dependency_layers[dep] for dep in spec.dependency_sets)],
            environment=function_environment(spec, self.grant_targets, self._context(spec)),
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
        cdk.Validations.of(role).acknowledge(
            *wildcard_acknowledgments(
                spec.grants,
                self.grant_targets,
                cdk.Stack.of(self).resolve,
                {"AwsSolutions-IAM5[Resource::*]": [TRACING_REASON]},
            )
        )
        return function

    def _context(self, spec: FunctionSpec) -> dict[str, str]:
        """The function's context settings that this app's context sets (`cdk deploy -c key=value`)."""
        values = {
            setting.context_key: self.node.try_get_context(setting.context_key)
            for setting in spec.context_settings
        }
        return {key: str(value) for key, value in values.items() if value is not None}

    def _grant(self, spec: FunctionSpec, function: lambda_.Function) -> None:
        for grant in spec.grants:
            for statement in grant.statements(self.grant_targets):
                function.add_to_role_policy(policy_statement(statement))

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
