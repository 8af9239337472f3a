"""The state machines, loaded from `statemachines/*.asl.json` with their functions' and resources' ARNs
substituted, each role holding the machine's declared grants."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.components.functions import policy_statement, wildcard_acknowledgments
from lambdaops_tools.deployment import Deployment, StateMachineSpec
from lambdaops_tools.grants import GrantTargets

PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
"""`${PipelineFunctionArn}`: what a definition leaves to be filled."""

LOGGING_AND_TRACING_REASON = (
    "Step Functions' log delivery and X-Ray actions support no resource-level permissions."
)


class StateMachines(Construct):
    """One Step Functions state machine per `StateMachineSpec`, logged and traced."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: Deployment,
        functions: Mapping[str, lambda_.IFunction],
        name_of: Callable[[str], str],
        grant_targets: GrantTargets,
    ) -> None:
        super().__init__(scope, construct_id)
        self._grant_targets = grant_targets
        self.machines = {
            spec.name: self._machine(spec, functions, name_of(spec.name))
            for spec in deployment.state_machines
        }

    def _machine(
        self, spec: StateMachineSpec, functions: Mapping[str, lambda_.IFunction], name: str
    ) -> sfn.StateMachine:
        construct_id = "".join(part.capitalize() for part in spec.name.split("-"))
        substitutions = spec.substitutions(
            {function: functions[function].function_arn for function in spec.functions}, self._grant_targets
        )
        unfilled = set(PLACEHOLDER.findall(spec.definition.read_text())) - set(substitutions)
        if unfilled:
            raise ValueError(f"{spec.definition.name}: nothing declared fills {sorted(unfilled)}")
        machine = sfn.StateMachine(
            self,
            construct_id,
            state_machine_name=name,
            # Filled here, as the local stack fills it: the template's DefinitionString is the whole
            # definition, with the ARNs as references and no placeholder left for CloudFormation.
            definition_body=sfn.DefinitionBody.from_string(spec.definition_with(substitutions)),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=logs.LogGroup(self, f"{construct_id}Logs", retention=logs.RetentionDays.ONE_YEAR),
                level=sfn.LogLevel.ALL,
            ),
        )
        for function in spec.functions:
            functions[function].grant_invoke(machine)
        for grant in spec.grants:
            for statement in grant.statements(self._grant_targets):
                machine.add_to_role_policy(policy_statement(statement))
        invocations = {
            f"AwsSolutions-IAM5[Resource::<{self._logical_id(functions[f])}.Arn>:*]": [
                f"lambda:InvokeFunction on every version and alias of the {f} function, which the "
                "machine calls."
            ]
            for f in spec.functions
        }
        cdk.Validations.of(machine.role).acknowledge(
            *wildcard_acknowledgments(
                spec.grants,
                self._grant_targets,
                cdk.Stack.of(self).resolve,
                {"AwsSolutions-IAM5[Resource::*]": [LOGGING_AND_TRACING_REASON], **invocations},
            )
        )
        return machine

    def _logical_id(self, function: lambda_.IFunction) -> str:
        return cdk.Stack.of(self).get_logical_id(function.node.default_child)  # type: ignore[arg-type]
