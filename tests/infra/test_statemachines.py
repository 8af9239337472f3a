"""The ASL files: well-formed, every transition lands on a state, and what CDK and moto make of them."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdaops_tools.deployment import DEPLOYMENT, StateMachineSpec
from lambdaops_tools.local.resources import LocalResources
from tests.infra.conftest import Synthesized

MACHINES = DEPLOYMENT.state_machines
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def substituted(spec: StateMachineSpec) -> dict[str, Any]:
    """The definition as the local stack fills it."""
    local = LocalResources.declared()
    functions = {name: f"arn:aws:lambda:us-east-1:123456789012:function:{name}" for name in spec.functions}
    text = spec.definition_with(spec.substitutions(functions, local.grant_targets))
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


def template_values(synthesized: Synthesized, spec: StateMachineSpec) -> dict[str, Any]:
    """Placeholder -> the template value that must fill it: the named function's ARN, or the resource's."""
    resolve = synthesized.stack.resolve
    targets = synthesized.stack.functions.grant_targets
    functions = {
        spec.substitution_key(f): {"Fn::GetAtt": [synthesized.function_ids[f], "Arn"]} for f in spec.functions
    }
    return functions | {key: resolve(getattr(targets, field)) for key, field in spec.resources}


def placeholders_put_back(definition: Any, values: dict[str, Any]) -> str:
    """A `Fn::Join` DefinitionString as text, each reference replaced by the placeholder it fills."""
    if isinstance(definition, str):
        return definition
    by_value = {json.dumps(value, sort_keys=True): key for key, value in values.items()}
    separator, parts = definition["Fn::Join"]
    assert separator == ""
    return "".join(
        part if isinstance(part, str) else f"${{{by_value[json.dumps(part, sort_keys=True)]}}}"
        for part in parts
    )


@pytest.mark.parametrize("spec", MACHINES, ids=lambda spec: spec.name)
def test_the_template_holds_each_file_with_every_placeholder_filled(
    synthesized: Synthesized, spec: StateMachineSpec
) -> None:
    properties = synthesized.template_json["Resources"][synthesized.machine_ids[spec.name]]["Properties"]
    assert properties["StateMachineName"] == f"{synthesized.stack.stack_name}-{spec.name}"
    # Filled at synth, so nothing is left for CloudFormation to substitute (or to miss).
    assert "DefinitionSubstitutions" not in properties and "DefinitionS3Location" not in properties
    definition = properties["DefinitionString"]
    assert "${" not in json.dumps(definition)
    values = template_values(synthesized, spec)
    assert set(PLACEHOLDER.findall(spec.definition.read_text())) == set(values)
    assert placeholders_put_back(definition, values) == spec.definition.read_text()


@pytest.mark.parametrize("spec", MACHINES, ids=lambda spec: spec.name)
def test_every_machine_is_logged_and_traced(synthesized: Synthesized, spec: StateMachineSpec) -> None:
    properties = synthesized.template_json["Resources"][synthesized.machine_ids[spec.name]]["Properties"]
    assert properties["TracingConfiguration"] == {"Enabled": True}
    logging = properties["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    [destination] = logging["Destinations"]
    log_group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert synthesized.template_json["Resources"][log_group_id]["Properties"]["RetentionInDays"] > 0


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# What CDK adds to every machine's role for its log delivery and active tracing.
NOT_FROM_GRANTS = ("logs:", "xray:")


@pytest.mark.parametrize("spec", MACHINES, ids=lambda spec: spec.name)
def test_machine_role_invokes_its_functions_and_holds_exactly_its_grants(
    synthesized: Synthesized, spec: StateMachineSpec
) -> None:
    machine = synthesized.template_json["Resources"][synthesized.machine_ids[spec.name]]
    statements = synthesized.role_statements(machine["Properties"]["RoleArn"]["Fn::GetAtt"][0])
    assert all(statement["Effect"] == "Allow" for statement in statements)
    invoked = [
        statement["Resource"][0]["Fn::GetAtt"][0]
        for statement in statements
        if statement["Action"] == "lambda:InvokeFunction"
    ]
    assert invoked == [synthesized.function_ids[f] for f in spec.functions]
    resolve = synthesized.stack.resolve
    targets = synthesized.stack.functions.grant_targets
    declared = [
        (sorted(statement.actions), [resolve(r) for r in statement.resources], statement.conditions)
        for grant in spec.grants
        for statement in grant.statements(targets)
    ]
    on_role = [
        (sorted(as_list(statement["Action"])), as_list(statement["Resource"]), statement.get("Condition", {}))
        for statement in statements
        if statement["Action"] != "lambda:InvokeFunction"
        and not all(action.startswith(NOT_FROM_GRANTS) for action in as_list(statement["Action"]))
    ]
    assert on_role == declared


def start_execution_resources(synthesized: Synthesized, function: str) -> list[Any]:
    function_resource = synthesized.template_json["Resources"][synthesized.function_ids[function]]
    role_id = function_resource["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        resource
        for statement in synthesized.role_statements(role_id)
        if "states:StartExecution" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    ]


@pytest.mark.parametrize(
    ("function", "variable", "machine"),
    [
        ("promotion", "LAMBDAOPS_ROLLOUT_STATE_MACHINE_ARN", "canary-rollout"),
        ("training", "LAMBDAOPS_TRAINING_STATE_MACHINE_ARN", "train-and-register"),
        ("drift", "LAMBDAOPS_TRAINING_STATE_MACHINE_ARN", "train-and-register"),
    ],
)
def test_functions_start_the_machine_the_stack_names(
    synthesized: Synthesized, function: str, variable: str, machine: str
) -> None:
    """Functions know the machine's ARN by its explicit name (no reference, so no cycle) and may start it."""
    function_resource = synthesized.template_json["Resources"][synthesized.function_ids[function]]
    arn = function_resource["Properties"]["Environment"]["Variables"][variable]
    name = synthesized.template_json["Resources"][synthesized.machine_ids[machine]]["Properties"][
        "StateMachineName"
    ]
    assert arn["Fn::Join"][1][-1] == f":stateMachine:{name}"
    assert start_execution_resources(synthesized, function) == [arn]


def published_message(state_name: str, state: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    """The Message the training machine's publish state would send for `state`, as moto's ASL interpreter
    (the one the local stack runs) evaluates its intrinsic functions."""
    from moto.core.config import default_user_config

    spec = DEPLOYMENT.state_machine("train-and-register")
    parameters = dict(json.loads(spec.definition.read_text())["States"][state_name]["Parameters"])
    parameters.pop("TopicArn")
    definition = {
        "StartAt": "Publish",
        "States": {"Publish": {"Type": "Pass", "Parameters": parameters, "End": True}},
    }
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    with mock_aws():
        client = boto3.client("stepfunctions")
        arn = client.create_state_machine(
            name="publish", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
        )["stateMachineArn"]
        execution = client.start_execution(stateMachineArn=arn, input=json.dumps(state))["executionArn"]
        for _ in range(100):
            described = client.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING":
                break
            time.sleep(0.05)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    output = json.loads(described["output"])
    assert output["Subject"] == state["summary"]["subject"]
    message: str = output["Message"]
    return message


RUN_ID = "20261201-223932-2257"


def test_a_finished_run_alert_names_model_version_and_next_step(monkeypatch: pytest.MonkeyPatch) -> None:
    run = json.dumps({"run_id": RUN_ID, "model": "churn", "registered_version": "1.1.0"})
    state: dict[str, Any] = {
        "run_id": RUN_ID,
        "plan": {"model": "churn"},
        "registered_version": "1.1.0",
        "summary": {"subject": "lambdaops: churn 1.1.0 trained and promoted to staging", "message": run},
    }
    message = published_message("Notify", state, monkeypatch)
    headline, _, rest = message.partition("\n\n")
    assert headline == state["summary"]["subject"]
    assert f"Model churn, version 1.1.0, training run {RUN_ID}." in rest
    assert "Next: compare its holdout metrics with production" in rest
    assert f"lambdaops run {RUN_ID} (GET /training/{RUN_ID})" in rest
    assert "POST /models/churn/canary" in rest
    assert message.endswith("\n\n" + run)


def test_a_failed_run_alert_names_the_run_and_next_step_even_before_a_plan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run that failed at Validate has no plan and no version: the alert still reads, from the run."""
    run = json.dumps({"run_id": RUN_ID, "model": "churn", "failure": {"step": "Validate"}})
    state: dict[str, Any] = {
        "run_id": RUN_ID,
        "summary": {
            "subject": f"lambdaops: training run {RUN_ID} of churn failed at Validate",
            "message": run,
        },
    }
    message = published_message("AlertFailure", state, monkeypatch)
    assert message.startswith(state["summary"]["subject"] + "\n\n")
    assert f"Training run {RUN_ID} failed." in message
    assert f"Next: lambdaops run {RUN_ID} (GET /training/{RUN_ID})" in message
    assert "start a new run (POST /training" in message
    assert message.endswith("\n\n" + run)
