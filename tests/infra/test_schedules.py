"""Scheduled rules invoke their functions asynchronously, with retries and a dead-letter queue."""

from __future__ import annotations

from typing import Any

import pytest

from lambdaops_tools.deployment import DEPLOYMENT, ScheduleSpec
from tests.infra.conftest import Synthesized

SCHEDULES = DEPLOYMENT.schedules
ONE_HOUR = 3600


def scheduled_target(synthesized: Synthesized, schedule: ScheduleSpec) -> tuple[str, dict[str, Any]]:
    """(rule logical id, its one target) for the rule that runs `schedule`."""
    function_arn = {"Fn::GetAtt": [synthesized.function_ids[schedule.function], "Arn"]}
    [(rule_id, target)] = [
        (rule_id, target)
        for rule_id, rule in synthesized.resources("AWS::Events::Rule").items()
        if rule["Properties"].get("ScheduleExpression") == schedule.expression
        for target in rule["Properties"]["Targets"]
        if target["Arn"] == function_arn
    ]
    return rule_id, target


def dead_letter_queue_id(synthesized: Synthesized) -> str:
    [queue_id] = synthesized.resources("AWS::SQS::Queue")
    return queue_id


def test_one_rule_per_schedule(synthesized: Synthesized) -> None:
    rules = synthesized.resources("AWS::Events::Rule").values()
    assert len([rule for rule in rules if "ScheduleExpression" in rule["Properties"]]) == len(SCHEDULES)


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda schedule: schedule.name)
def test_target_retries_then_dead_letters(synthesized: Synthesized, schedule: ScheduleSpec) -> None:
    _, target = scheduled_target(synthesized, schedule)
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": ONE_HOUR}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dead_letter_queue_id(synthesized), "Arn"]}}


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda schedule: schedule.name)
def test_only_the_rule_may_invoke_and_dead_letter(synthesized: Synthesized, schedule: ScheduleSpec) -> None:
    rule_id, _ = scheduled_target(synthesized, schedule)
    rule_arn = {"Fn::GetAtt": [rule_id, "Arn"]}
    function_arn = {"Fn::GetAtt": [synthesized.function_ids[schedule.function], "Arn"]}
    assert any(
        permission["Properties"]
        == {
            "Action": "lambda:InvokeFunction",
            "FunctionName": function_arn,
            "Principal": "events.amazonaws.com",
            "SourceArn": rule_arn,
        }
        for permission in synthesized.resources("AWS::Lambda::Permission").values()
    )
    queue_statements = [
        statement
        for policy in synthesized.resources("AWS::SQS::QueuePolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    assert any(
        statement["Action"] == "sqs:SendMessage"
        and statement["Condition"] == {"ArnEquals": {"aws:SourceArn": rule_arn}}
        for statement in queue_statements
    )


@pytest.mark.parametrize("function", sorted({s.function for s in SCHEDULES}))
def test_scheduled_functions_retry_once_then_dead_letter(synthesized: Synthesized, function: str) -> None:
    """Lambda's own async retries cover runs that failed; the failed invocation lands in the same queue."""
    [config] = [
        config["Properties"]
        for config in synthesized.resources("AWS::Lambda::EventInvokeConfig").values()
        if config["Properties"]["FunctionName"] == {"Ref": synthesized.function_ids[function]}
    ]
    assert config["MaximumRetryAttempts"] == 1
    assert config["MaximumEventAgeInSeconds"] == ONE_HOUR
    queue_arn = {"Fn::GetAtt": [dead_letter_queue_id(synthesized), "Arn"]}
    assert config["DestinationConfig"] == {"OnFailure": {"Destination": queue_arn}}
    function_resource = synthesized.template_json["Resources"][synthesized.function_ids[function]]
    role_id = function_resource["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = synthesized.role_statements(role_id)
    assert any(
        statement["Resource"] == queue_arn and "sqs:SendMessage" in statement["Action"]
        for statement in statements
    )
    # Exactly what sending to the KMS-encrypted queue needs, not CDK's ReEncrypt*/GenerateDataKey*.
    queue = synthesized.template_json["Resources"][dead_letter_queue_id(synthesized)]["Properties"]
    on_key = [statement for statement in statements if statement["Resource"] == queue["KmsMasterKeyId"]]
    assert [sorted(statement["Action"]) for statement in on_key] == [["kms:Decrypt", "kms:GenerateDataKey"]]


def test_dead_letter_queue_is_encrypted_with_its_own_key_and_ssl_only(synthesized: Synthesized) -> None:
    queue_id = dead_letter_queue_id(synthesized)
    queue = synthesized.template_json["Resources"][queue_id]["Properties"]
    key_id = queue["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = synthesized.template_json["Resources"][key_id]
    assert (key["Type"], key["Properties"]["EnableKeyRotation"]) == ("AWS::KMS::Key", True)
    # EventBridge writes the rules' undeliverable events as itself: only this account's rules may.
    [events] = [
        statement
        for statement in key["Properties"]["KeyPolicy"]["Statement"]
        if statement["Principal"] == {"Service": "events.amazonaws.com"}
    ]
    assert sorted(events["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert events["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert events["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Join"][1][-1] == ":rule/*"
    assert queue["MessageRetentionPeriod"] == 14 * 24 * ONE_HOUR
    assert any(
        statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for policy in synthesized.resources("AWS::SQS::QueuePolicy").values()
        if {"Ref": queue_id} in policy["Properties"]["Queues"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    )
