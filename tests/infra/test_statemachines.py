"""The ASL files: well-formed, every transition lands on a state, and what CDK and moto make of them."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdaops_tools.deployment import DEPLOYMENT, StateMachineSpec
from tests.infra.conftest import Synthesized

MACHINES = DEPLOYMENT.state_machines


def substituted(spec: StateMachineSpec) -> dict[str, Any]:
    text = spec.definition.read_text()
    for function in spec.functions:
        text = text.replace(
            f"${{{spec.substitution_key(function)}}}",
            f"arn:aws:lambda:us-east-1:123456789012:function:{function}",
        )
    assert "${" not in text, "a placeholder has no substitution"
    return dict(json.loads(text))


def transitions(state: dict[str, Any]) -> list[str]:
    targets = [state.get("Next"), state.get("Default")]
    targets += [choice["Next"] for choice in state.get("Choices", [])]
    targets += [catch["Next"] for catch in state.get("Catch", [])]
    return [t for t in targets if t]


@pytest.mark.parametrize("spec", MACHINES, ids=lambda spec: spec.name)
def test_every_transition_lands_on_a_state(spec: StateMachineSpec) -> None:
    definition = substituted(spec)
    states = definition["States"]
    assert definition["StartAt"] in states
    reachable, frontier = set(), [definition["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name in reachable:
            continue
        reachable.add(name)
        for target in transitions(states[name]):
            assert target in states, f"{name} -> {target}"
            frontier.append(target)
        terminal = states[name]["Type"] in ("Succeed", "Fail") or states[name].get("End")
        assert terminal or transitions(states[name]), f"{name} goes nowhere"
    assert reachable == set(states), f"unreachable: {set(states) - reachable}"


@pytest.mark.parametrize("spec", MACHINES, ids=lambda spec: spec.name)
def test_moto_accepts_the_definition(spec: StateMachineSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("stepfunctions")
        arn = client.create_state_machine(
            name=spec.name,
            definition=json.dumps(substituted(spec)),
            roleArn="arn:aws:iam::123456789012:role/sfn",
        )["stateMachineArn"]
        assert json.loads(client.describe_state_machine(stateMachineArn=arn)["definition"])["StartAt"]


def test_the_template_loads_each_file_with_its_functions(synthesized: Synthesized) -> None:
    machines = synthesized.resources("AWS::StepFunctions::StateMachine")
    assert len(machines) == len(MACHINES)
    for spec in MACHINES:
        [machine] = [
            m for m in machines.values() if spec.name in json.dumps(m["Properties"]["StateMachineName"])
        ]
        properties = machine["Properties"]
        substitutions = properties["DefinitionSubstitutions"]
        for function in spec.functions:
            arn = substitutions[spec.substitution_key(function)]
            assert arn == {"Fn::GetAtt": [synthesized.function_ids[function], "Arn"]}
        assert properties["TracingConfiguration"] == {"Enabled": True}
        assert properties["LoggingConfiguration"]["Level"] == "ALL"


def test_promotion_starts_the_machine_the_stack_names(synthesized: Synthesized) -> None:
    promotion = synthesized.template_json["Resources"][synthesized.function_ids["promotion"]]
    arn = json.dumps(
        promotion["Properties"]["Environment"]["Variables"]["LAMBDAOPS_ROLLOUT_STATE_MACHINE_ARN"]
    )
    [machine] = synthesized.resources("AWS::StepFunctions::StateMachine").values()
    assert json.dumps(machine["Properties"]["StateMachineName"]).strip('"') in arn
