"""Acknowledgment ids derived from a grant's statements name exactly the finding cdk-nag raises."""

from __future__ import annotations

from typing import Any

import pytest

from infra.components.functions import flatten_reference, wildcard_findings
from lambdaops_tools.deployment import DEPLOYMENT
from lambdaops_tools.grants import Statement
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
    metadata = synthesized.template_json["Resources"][role_id]["Metadata"]["cdk_nag"]
    return {rule["id"]: rule["reason"] for rule in metadata["rules_to_suppress"]}


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
    targets = synthesized.stack.functions.grant_targets
    for grant in DEPLOYMENT.function(function).grants:
        for statement in grant.statements(targets):
            for finding in wildcard_findings(statement, synthesized.stack.resolve):
                assert statement.reason is not None
                assert statement.reason in acknowledged[finding], (grant, finding)
