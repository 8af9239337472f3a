"""Every optional feature switched on (`FLAGS`): WAF, API keys and the alert channels, still cdk-nag and
cfn-lint clean."""

from __future__ import annotations

from typing import Any

from cfnlint.api import lint_all

from infra.components.alerts import CHATBOT_READS
from infra.components.api import WAF_RATE_LIMIT
from lambdaops_tools.deployment import DEPLOYMENT
from tests.infra.conftest import FLAGS, Synthesized
from tests.infra.test_declarations_agree import template_routes
from tests.infra.test_template import method_paths

TOPIC = {"Ref": DEPLOYMENT.alerts_topic.logical_id}
PUBLIC = {(route.method, route.path) for route in DEPLOYMENT.routes if route.public}


def test_no_unacknowledged_aws_solutions_findings(flagged: Synthesized) -> None:
    violations = [
        (violation["ruleName"], [c["constructPath"] for c in violation["violatingConstructs"]])
        for report in flagged.validation_report["pluginReports"]
        for violation in report["violations"]
    ]
    assert violations == []
    assert flagged.validation_failure is None


def test_template_has_no_cfn_lint_errors_where_chatbot_is_offered(flagged: Synthesized) -> None:
    errors = [
        match
        for match in lint_all(flagged.template_path.read_text())
        if match.rule.severity == "error"
        # AWS Chatbot is not offered in China or GovCloud: the Slack channel is a commercial-region option.
        and not (match.rule.id == "E3006" and "AWS::Chatbot::SlackChannelConfiguration" in match.message)
    ]
    assert [f"{match.rule.id} {match.message}" for match in errors] == []


def test_the_routes_still_match_the_declarations(flagged: Synthesized) -> None:
    declared = {
        (route.method, route.path, flagged.function_ids[route.function], route.public)
        for route in DEPLOYMENT.routes
    }
    assert template_routes(flagged) == declared


def test_the_web_acl_applies_the_managed_rules_and_a_rate_limit_to_the_stage(flagged: Synthesized) -> None:
    [(acl_id, acl)] = flagged.resources("AWS::WAFv2::WebACL").items()
    properties = acl["Properties"]
    assert (properties["Scope"], properties["DefaultAction"]) == ("REGIONAL", {"Allow": {}})
    rules = {rule["Name"]: rule for rule in properties["Rules"]}
    assert list(rules) == [
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "RateLimitPerIp",
    ]
    for name in ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"):
        group = rules[name]["Statement"]["ManagedRuleGroupStatement"]
        assert (group["VendorName"], group["Name"]) == ("AWS", name)
        assert rules[name]["OverrideAction"] == {"None": {}}
    # Bodies up to the API's own 10 MiB limit must pass: the 8 KB body rule only counts.
    common = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    assert common["RuleActionOverrides"] == [{"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}]
    rate = rules["RateLimitPerIp"]
    assert rate["Action"] == {"Block": {}}
    assert rate["Statement"]["RateBasedStatement"] == {
        "Limit": WAF_RATE_LIMIT,
        "AggregateKeyType": "IP",
        "EvaluationWindowSec": 300,
    }
    [association] = flagged.resources("AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    [stage_id] = flagged.resources("AWS::ApiGateway::Stage")
    assert {"Ref": stage_id} in association["Properties"]["ResourceArn"]["Fn::Join"][1]
    # With the web ACL in place the stage's missing-WAF finding is no longer acknowledged away.
    stage_rules = flagged.template_json["Resources"][stage_id].get("Metadata", {}).get("cdk_nag", {})
    assert "AwsSolutions-APIG3" not in {rule["id"] for rule in stage_rules.get("rules_to_suppress", [])}


def test_every_signed_route_requires_an_api_key_of_the_usage_plan(flagged: Synthesized) -> None:
    for logical_id, route in method_paths(flagged).items():
        properties = flagged.template_json["Resources"][logical_id]["Properties"]
        public = route in PUBLIC
        assert properties.get("ApiKeyRequired", False) is not public, route
        assert properties["AuthorizationType"] == ("NONE" if public else "AWS_IAM"), route
    [(plan_id, plan)] = flagged.resources("AWS::ApiGateway::UsagePlan").items()
    [stage_id] = flagged.resources("AWS::ApiGateway::Stage")
    [api_stage] = plan["Properties"]["ApiStages"]
    assert api_stage["Stage"] == {"Ref": stage_id}
    assert plan["Properties"]["Throttle"] == {
        "RateLimit": DEPLOYMENT.api_throttle_rate,
        "BurstLimit": DEPLOYMENT.api_throttle_burst,
    }
    [key_id] = flagged.resources("AWS::ApiGateway::ApiKey")
    [plan_key] = flagged.resources("AWS::ApiGateway::UsagePlanKey").values()
    assert plan_key["Properties"] == {
        "KeyId": {"Ref": key_id},
        "KeyType": "API_KEY",
        "UsagePlanId": {"Ref": plan_id},
    }


def subscriptions(flagged: Synthesized) -> list[dict[str, Any]]:
    return [s["Properties"] for s in flagged.resources("AWS::SNS::Subscription").values()]


def test_the_emails_and_the_webhook_subscribe_to_the_alerts_topic(flagged: Synthesized) -> None:
    found = sorted((s["Protocol"], s["Endpoint"]) for s in subscriptions(flagged) if s["TopicArn"] == TOPIC)
    emails = [email.strip() for email in FLAGS["alert_emails"].split(",")]
    assert found == sorted([*(("email", email) for email in emails), ("https", FLAGS["alert_webhook"])])


def test_slack_gets_the_topic_through_chatbot_with_a_read_only_role_and_guardrail(
    flagged: Synthesized,
) -> None:
    [channel] = flagged.resources("AWS::Chatbot::SlackChannelConfiguration").values()
    properties = channel["Properties"]
    assert properties["SlackWorkspaceId"] == FLAGS["slack_workspace_id"]
    assert properties["SlackChannelId"] == FLAGS["slack_channel_id"]
    assert properties["SnsTopicArns"] == [TOPIC]
    assert properties["UserRoleRequired"] is False
    # Without a guardrail Chatbot applies AdministratorAccess to the channel.
    [guardrail] = properties["GuardrailPolicies"]
    policy_id = guardrail["Ref"]
    policy = flagged.template_json["Resources"][policy_id]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert (statement["Effect"], statement["Resource"]) == ("Allow", "*")
    assert sorted(statement["Action"]) == sorted(CHATBOT_READS)
    assert all(action.split(":")[1].startswith(("Describe", "Get")) for action in CHATBOT_READS)
    role_id = properties["IamRoleArn"]["Fn::GetAtt"][0]
    role = flagged.template_json["Resources"][role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "chatbot.amazonaws.com"
    }
    assert role["ManagedPolicyArns"] == [{"Ref": policy_id}]
    assert flagged.role_statements(role_id) == []


def test_the_default_deployment_has_none_of_the_options(synthesized: Synthesized) -> None:
    for resource_type in (
        "AWS::WAFv2::WebACL",
        "AWS::ApiGateway::UsagePlan",
        "AWS::ApiGateway::ApiKey",
        "AWS::SNS::Subscription",
        "AWS::Chatbot::SlackChannelConfiguration",
    ):
        assert synthesized.resources(resource_type) == {}, resource_type
