"""Acknowledgment ids derived from a grant's statements name exactly the finding cdk-nag raises."""

from __future__ import annotations

from typing import Any

import pytest

from infra.components.functions import flatten_reference, wildcard_findings
from lambdaops_tools.deployment import DEPLOYMENT, StateMachineSpec
from lambdaops_tools.grants import Grant, Statement
from tests.infra.conftest import Synthesized


@pytest.mark.parametrize(
    ("resolved", "flat"),
    [
        ("*", "*"),
        (
            {"Fn::Join": ["", [{"Fn::GetAtt": ["RegistryTable", "Arn"]}, "/index/*"]]},
            "<RegistryTable.Arn>/index/*",
        ),
        (
            {
                "Fn::Join": [
                    "",
                    ["arn:", {"Ref": "AWS::Partition"}, ":states:", {"Ref": "AWS::Region"}, ":execution:m:*"],
                ]
            },
            "arn:<AWS::Partition>:states:<AWS::Region>:execution:m:*",
        ),
        # The CDK assets bucket (the trainer's source object): cdk-nag reads `${X}` as `<X>`.
        (
            {"Fn::Join": ["", ["arn:", {"Fn::Sub": "cdk-assets-${AWS::AccountId}-${AWS::Region}"}, "/k"]]},
            "arn:cdk-assets-<AWS::AccountId>-<AWS::Region>/k",
        ),
        # A regional fact (the training image's registry): cdk-nag prints it as compact JSON.
        (
            {"Fn::FindInMap": ["DlcRepositoryAccountMap", {"Ref": "AWS::Region"}, "value"]},
            '{"Fn::FindInMap":["DlcRepositoryAccountMap",{"Ref":"AWS::Region"},"value"]}',
        ),
    ],
)
def test_a_resolved_resource_flattens_as_cdk_nag_prints_it(resolved: Any, flat: str) -> None:
    assert flatten_reference(resolved) == flat


def test_a_form_no_statement_resolves_to_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="no finding name"):
        flatten_reference({"Fn::If": ["C", "a", "b"]})


def test_a_statement_names_each_wildcard_action_and_resource() -> None:
    statement = Statement(
        ("kms:Decrypt", "kms:GenerateDataKey*"), ("key", "bucket/*", "other/*"), reason="per key"
    )
    assert wildcard_findings(statement, lambda resource: resource) == [
        "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
        "AwsSolutions-IAM5[Resource::bucket/*]",
        "AwsSolutions-IAM5[Resource::other/*]",
    ]
    assert wildcard_findings(Statement(("s3:GetObject",), ("key",)), lambda resource: resource) == []


def test_a_token_renders_as_the_finding_cdk_nag_raises(synthesized: Synthesized) -> None:
    targets = synthesized.stack.functions.grant_targets
    statement = Statement(("dynamodb:Query",), (f"{targets.table_arn}/index/*",), reason="the indexes")
    assert wildcard_findings(statement, synthesized.stack.resolve) == [
        f"AwsSolutions-IAM5[Resource::<{DEPLOYMENT.table.logical_id}.Arn>/index/*]"
    ]


def role_acknowledgments(synthesized: Synthesized, function: str) -> dict[str, str]:
    """Finding id -> reason, as written to the function's role's Metadata."""
    function_id = synthesized.function_ids[function]
    role_id = synthesized.template_json["Resources"][function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    return synthesized.role_acknowledgments(role_id)


def test_statements_raising_one_finding_join_their_reasons(synthesized: Synthesized) -> None:
    """The canary's GetMetricData on "*" shares the X-Ray finding every traced function raises."""
    canary = role_acknowledgments(synthesized, "canary")["AwsSolutions-IAM5[Resource::*]"]
    registry = role_acknowledgments(synthesized, "registry")["AwsSolutions-IAM5[Resource::*]"]
    assert canary.startswith(registry) and "X-Ray" in registry
    assert "cloudwatch:GetMetricData" in canary and "cloudwatch:GetMetricData" not in registry


@pytest.mark.parametrize("function", [spec.name for spec in DEPLOYMENT.functions])
def test_every_wildcard_of_a_grant_is_acknowledged_with_its_reason(
    synthesized: Synthesized, function: str
) -> None:
    acknowledged = role_acknowledgments(synthesized, function)
    assert_acknowledged_with_their_reasons(synthesized, DEPLOYMENT.function(function).grants, acknowledged)


def assert_acknowledged_with_their_reasons(
    synthesized: Synthesized, grants: tuple[Grant, ...], acknowledged: dict[str, str]
) -> None:
    targets = synthesized.stack.functions.grant_targets
    for grant in grants:
        for statement in grant.statements(targets):
            for finding in wildcard_findings(statement, synthesized.stack.resolve):
                assert statement.reason is not None
                assert statement.reason in acknowledged[finding], (grant, finding)


@pytest.mark.parametrize("machine", DEPLOYMENT.state_machines, ids=lambda spec: spec.name)
def test_every_wildcard_of_a_machine_grant_is_acknowledged_with_its_reason(
    synthesized: Synthesized, machine: StateMachineSpec
) -> None:
    resource = synthesized.template_json["Resources"][synthesized.machine_ids[machine.name]]
    acknowledged = synthesized.role_acknowledgments(resource["Properties"]["RoleArn"]["Fn::GetAtt"][0])
    assert_acknowledged_with_their_reasons(synthesized, machine.grants, acknowledged)
    # Besides the grants': log delivery and tracing on "*", and every version of each function invoked.
    assert "X-Ray" in acknowledged["AwsSolutions-IAM5[Resource::*]"]
    for function in machine.functions:
        assert f"AwsSolutions-IAM5[Resource::<{synthesized.function_ids[function]}.Arn>:*]" in acknowledged


def test_every_wildcard_of_the_sagemaker_role_is_acknowledged_with_its_reason(
    synthesized: Synthesized,
) -> None:
    role_id = synthesized.stack.resolve(synthesized.stack.training.role.role_arn)["Fn::GetAtt"][0]
    acknowledged = synthesized.role_acknowledgments(role_id)
    assert_acknowledged_with_their_reasons(synthesized, DEPLOYMENT.trainer.role, acknowledged)
    targets = synthesized.stack.functions.grant_targets
    raised = {
        finding
        for grant in DEPLOYMENT.trainer.role
        for statement in grant.statements(targets)
        for finding in wildcard_findings(statement, synthesized.stack.resolve)
    }
    assert set(acknowledged) == raised
