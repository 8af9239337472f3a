"""The state machines, loaded from `statemachines/*.asl.json` with their functions' ARNs substituted."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from lambdaops_tools.deployment import Deployment, StateMachineSpec


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
    ) -> None:
        super().__init__(scope, construct_id)
        self.machines = {
            spec.name: self._machine(spec, functions, name_of(spec.name))
            for spec in deployment.state_machines
        }

    def _machine(
        self, spec: StateMachineSpec, functions: Mapping[str, lambda_.IFunction], name: str
    ) -> sfn.StateMachine:
        construct_id = "".join(part.capitalize() for part in spec.name.split("-"))
        machine = sfn.StateMachine(
            self,
            construct_id,
            state_machine_name=name,
            definition_body=sfn.DefinitionBody.from_file(str(spec.definition)),
            definition_substitutions={
                StateMachineSpec.substitution_key(function): functions[function].function_arn
                for function in spec.functions
            },
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=logs.LogGroup(self, f"{construct_id}Logs", retention=logs.RetentionDays.ONE_YEAR),
                level=sfn.LogLevel.ALL,
            ),
        )
        for function in spec.functions:
            functions[function].grant_invoke(machine)
        cdk.Validations.of(machine.role).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="Step Functions' log delivery and X-Ray actions support no resource-level "
                "permissions.",
            ),
            *(
                cdk.Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::<{self._logical_id(functions[f])}.Arn>:*]",
                    reason="lambda:InvokeFunction on every version and alias of the one function "
                    "the machine calls.",
                )
                for f in spec.functions
            ),
        )
        return machine

    def _logical_id(self, function: lambda_.IFunction) -> str:
        return cdk.Stack.of(self).get_logical_id(function.node.default_child)  # type: ignore[arg-type]
