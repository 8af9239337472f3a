"""The alerts topic: its own rotating KMS key, SSL only, publishable by this account's alarms."""

from __future__ import annotations

from typing import Any

from lambdaops_tools.deployment import DEPLOYMENT
from lambdaops_tools.grants import PublishesAlerts
from tests.infra.conftest import Synthesized

TOPIC_ID = DEPLOYMENT.alerts_topic.logical_id
CLOUDWATCH = {"Service": "cloudwatch.amazonaws.com"}


def topic_policy_statements(synthesized: Synthesized) -> list[dict[str, Any]]:
    return [
        statement
        for policy in synthesized.resources("AWS::SNS::TopicPolicy").values()
        if {"Ref": TOPIC_ID} in policy["Properties"]["Topics"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_topic_keeps_its_declared_logical_id(synthesized: Synthesized) -> None:
    assert list(synthesized.resources("AWS::SNS::Topic")) == [TOPIC_ID]


def test_topic_is_encrypted_with_its_own_rotating_key(synthesized: Synthesized) -> None:
    key_ref = synthesized.template_json["Resources"][TOPIC_ID]["Properties"]["KmsMasterKeyId"]
    # A key of this stack, not the AWS-managed alias/aws/sns that CloudWatch alarms cannot use.
    key_id, attribute = key_ref["Fn::GetAtt"]
    assert attribute == "Arn"
    key = synthesized.template_json["Resources"][key_id]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True


def test_cloudwatch_alarms_of_this_account_may_use_the_key(synthesized: Synthesized) -> None:
    key_ref = synthesized.template_json["Resources"][TOPIC_ID]["Properties"]["KmsMasterKeyId"]
    key = synthesized.template_json["Resources"][key_ref["Fn::GetAtt"][0]]
    [statement] = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s["Principal"] == CLOUDWATCH]
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "aws:SourceArn" in statement["Condition"]["ArnLike"]


def test_topic_denies_publishing_without_tls(synthesized: Synthesized) -> None:
    assert any(
        statement["Effect"] == "Deny"
        and statement["Principal"] in ("*", {"AWS": "*"})
        and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for statement in topic_policy_statements(synthesized)
    )


def test_cloudwatch_alarms_of_this_account_may_publish(synthesized: Synthesized) -> None:
    [statement] = [s for s in topic_policy_statements(synthesized) if s["Principal"] == CLOUDWATCH]
    assert (statement["Effect"], statement["Action"]) == ("Allow", "sns:Publish")
    assert statement["Resource"] == {"Ref": TOPIC_ID}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_functions_that_publish_alerts_are_told_the_topic(synthesized: Synthesized) -> None:
    for spec in DEPLOYMENT.functions:
        function = synthesized.template_json["Resources"][synthesized.function_ids[spec.name]]
        variables = function["Properties"]["Environment"]["Variables"]
        expected = {"Ref": TOPIC_ID} if spec.declares(PublishesAlerts) else None
        assert variables.get("LAMBDAOPS_ALERTS_TOPIC_ARN") == expected, spec.name
    drift = synthesized.template_json["Resources"][synthesized.function_ids["drift"]]
    assert drift["Properties"]["Environment"]["Variables"]["LAMBDAOPS_ALERTS_TOPIC_ARN"] == {"Ref": TOPIC_ID}


def test_the_stack_outputs_the_topic_arn_to_subscribe_to(synthesized: Synthesized) -> None:
    assert synthesized.template_json["Outputs"]["AlertsTopicArn"]["Value"] == {"Ref": TOPIC_ID}
