"""The template, the local stack and `DEPLOYMENT` describe the same API, table and environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import fields
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdaops_tools.deployment import DEPLOYMENT, function_environment
from lambdaops_tools.grants import GrantTargets
from lambdaops_tools.local.resources import (
    LocalResources,
    create_functions_and_state_machines,
    create_local_resources,
    table_definition,
)
from tests.infra.conftest import Synthesized


def resource_paths(synthesized: Synthesized) -> dict[str, str]:
    """Logical id of each API Gateway resource -> its full path, rebuilt from PathPart/ParentId."""
    resources = synthesized.resources("AWS::ApiGateway::Resource")

    def path(logical_id: str) -> str:
        properties = resources[logical_id]["Properties"]
        parent = properties["ParentId"]
        prefix = path(parent["Ref"]) if "Ref" in parent else ""  # else GetAtt RootResourceId
        return f"{prefix}/{properties['PathPart']}"

    return {logical_id: path(logical_id) for logical_id in resources}


def integrated_function(uri: Any, function_ids: set[str]) -> str:
    """The logical id of the one Lambda function an integration Uri (or a target's Arn) refers to."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            get_att = node.get("Fn::GetAtt")
            if isinstance(get_att, list) and get_att[0] in function_ids:
                found.append(get_att[0])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(uri)
    (function_id,) = found
    return function_id


def template_routes(synthesized: Synthesized) -> set[tuple[str, str, str, bool]]:
    """(method, path, function logical id, public) for every API Gateway method in the template."""
    paths = resource_paths(synthesized)
    function_ids = set(synthesized.function_ids.values())
    routes = set()
    for method in synthesized.resources("AWS::ApiGateway::Method").values():
        properties = method["Properties"]
        resource = properties["ResourceId"]
        path = paths[resource["Ref"]] if "Ref" in resource else "/"
        function_id = integrated_function(properties["Integration"]["Uri"], function_ids)
        public = properties["AuthorizationType"] == "NONE"
        routes.add((properties["HttpMethod"], path, function_id, public))
    return routes


def test_api_methods_are_exactly_the_declared_routes(synthesized: Synthesized) -> None:
    declared = {
        (route.method, route.path, synthesized.function_ids[route.function], route.public)
        for route in DEPLOYMENT.routes
    }
    assert template_routes(synthesized) == declared


def template_schedules(synthesized: Synthesized) -> list[tuple[str, str, str]]:
    """(expression, description, target function logical id) for every target of a scheduled rule."""
    function_ids = set(synthesized.function_ids.values())
    schedules = []
    for rule in synthesized.resources("AWS::Events::Rule").values():
        properties = rule["Properties"]
        if "ScheduleExpression" not in properties:
            continue
        for target in properties["Targets"]:
            function_id = integrated_function(target["Arn"], function_ids)
            schedules.append((properties["ScheduleExpression"], properties["Description"], function_id))
    return schedules


def test_schedule_rules_are_exactly_the_declared_schedules(synthesized: Synthesized) -> None:
    declared = [
        (schedule.expression, schedule.description, synthesized.function_ids[schedule.function])
        for schedule in DEPLOYMENT.schedules
    ]
    assert sorted(template_schedules(synthesized)) == sorted(declared)


def test_template_table_matches_the_local_table_definition(synthesized: Synthesized) -> None:
    table = synthesized.template_json["Resources"][DEPLOYMENT.table.logical_id]["Properties"]
    local = table_definition(DEPLOYMENT)
    assert table["KeySchema"] == local["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(local["AttributeDefinitions"], key=str)
    assert table["GlobalSecondaryIndexes"] == local["GlobalSecondaryIndexes"]
    assert table["BillingMode"] == local["BillingMode"]


@pytest.fixture
def moto_resources(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        create_local_resources(DEPLOYMENT)
        yield


@pytest.mark.usefixtures("moto_resources")
def test_local_stack_creates_the_template_table(synthesized: Synthesized) -> None:
    template_table = synthesized.template_json["Resources"][DEPLOYMENT.table.logical_id]["Properties"]
    dynamodb = boto3.client("dynamodb")
    described = dynamodb.describe_table(TableName=DEPLOYMENT.table.local_name)["Table"]
    assert described["KeySchema"] == template_table["KeySchema"]
    assert sorted(described["AttributeDefinitions"], key=str) == sorted(
        template_table["AttributeDefinitions"], key=str
    )
    assert [
        {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
        for index in described["GlobalSecondaryIndexes"]
    ] == template_table["GlobalSecondaryIndexes"]
    backups = dynamodb.describe_continuous_backups(TableName=DEPLOYMENT.table.local_name)
    recovery = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert recovery["PointInTimeRecoveryStatus"] == "ENABLED"
    assert template_table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


@pytest.mark.usefixtures("moto_resources")
def test_local_stack_creates_the_template_bucket(synthesized: Synthesized) -> None:
    template_bucket = synthesized.template_json["Resources"][DEPLOYMENT.bucket.logical_id]["Properties"]
    s3 = boto3.client("s3")
    versioning = s3.get_bucket_versioning(Bucket=DEPLOYMENT.bucket.local_name)
    assert versioning["Status"] == template_bucket["VersioningConfiguration"]["Status"] == "Enabled"
    assert template_bucket["NotificationConfiguration"]["EventBridgeConfiguration"] == {
        "EventBridgeEnabled": True
    }
    # moto's GetBucketNotificationConfiguration omits EventBridge, so prove it by delivery instead.
    assert "Object Created" in s3_events_delivered(DEPLOYMENT.bucket.local_name)


def s3_events_delivered(bucket: str) -> list[str]:
    """Detail types that reach a default-bus rule (and its SQS target) when an object is written."""
    sqs = boto3.client("sqs")
    events = boto3.client("events")
    queue_url = sqs.create_queue(QueueName="s3-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    pattern = {"source": ["aws.s3"], "detail": {"bucket": {"name": [bucket]}}}
    events.put_rule(Name="s3-events", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="s3-events", Targets=[{"Id": "queue", "Arn": queue_arn}])
    boto3.client("s3").put_object(Bucket=bucket, Key="probe.onnx", Body=b"probe")
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"])["detail-type"] for message in messages]


@pytest.mark.parametrize("spec", DEPLOYMENT.functions, ids=lambda spec: spec.name)
def test_function_environment_names_match_the_declaration(synthesized: Synthesized, spec: Any) -> None:
    function = synthesized.template_json["Resources"][synthesized.function_ids[spec.name]]
    declared = function_environment(spec, GrantTargets(**{field.name: "" for field in fields(GrantTargets)}))
    local = LocalResources.declared().environment(spec)
    assert set(function["Properties"]["Environment"]["Variables"]) == set(declared) == set(local)


@pytest.mark.usefixtures("moto_resources")
def test_local_stack_creates_the_template_topic_and_schedules(synthesized: Synthesized) -> None:
    topics = [topic["TopicArn"] for topic in boto3.client("sns").list_topics()["Topics"]]
    assert [arn.rsplit(":", 1)[1] for arn in topics] == [DEPLOYMENT.alerts_topic.local_name]
    assert DEPLOYMENT.alerts_topic.logical_id in synthesized.resources("AWS::SNS::Topic")

    resources = create_local_resources(DEPLOYMENT)
    create_functions_and_state_machines(resources, DEPLOYMENT)
    events = boto3.client("events")
    local = {
        (rule["ScheduleExpression"], target["Arn"].rsplit(":", 1)[1])
        for rule in events.list_rules()["Rules"]
        if "ScheduleExpression" in rule
        for target in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    }
    function_names = {logical_id: name for name, logical_id in synthesized.function_ids.items()}
    in_template = {
        (rule["Properties"]["ScheduleExpression"], function_names[target["Arn"]["Fn::GetAtt"][0]])
        for rule in synthesized.resources("AWS::Events::Rule").values()
        if "ScheduleExpression" in rule["Properties"]
        for target in rule["Properties"]["Targets"]
    }
    assert (
        local
        == in_template
        == {(schedule.expression, schedule.function) for schedule in DEPLOYMENT.schedules}
    )


@pytest.mark.usefixtures("moto_resources")
def test_local_stack_creates_the_template_state_machines(synthesized: Synthesized) -> None:
    resources = create_local_resources(DEPLOYMENT)
    create_functions_and_state_machines(resources, DEPLOYMENT)
    local = {
        machine["name"] for machine in boto3.client("stepfunctions").list_state_machines()["stateMachines"]
    }
    in_template = {
        machine["Properties"]["StateMachineName"]
        for machine in synthesized.resources("AWS::StepFunctions::StateMachine").values()
    }
    declared = {spec.name for spec in DEPLOYMENT.state_machines}
    assert local == declared
    assert in_template == {f"{synthesized.stack.stack_name}-{name}" for name in declared}


@pytest.mark.usefixtures("moto_resources")
def test_local_stack_creates_the_template_upload_rule(synthesized: Synthesized) -> None:
    """Both match the declared pattern, each on its own bucket, and invoke the declared function."""
    resources = create_local_resources(DEPLOYMENT)
    create_functions_and_state_machines(resources, DEPLOYMENT)
    upload = DEPLOYMENT.dataset_upload
    events = boto3.client("events")
    [local] = [rule for rule in events.list_rules()["Rules"] if "EventPattern" in rule]
    assert json.loads(local["EventPattern"]) == upload.event_pattern(resources.bucket_name)
    [local_target] = events.list_targets_by_rule(Rule=local["Name"])["Targets"]
    assert local_target["Arn"].rsplit(":", 1)[1] == upload.function

    function_ids = set(synthesized.function_ids.values())
    [(pattern, function_id)] = [
        (rule["Properties"]["EventPattern"], integrated_function(target["Arn"], function_ids))
        for rule in synthesized.resources("AWS::Events::Rule").values()
        if "EventPattern" in rule["Properties"]
        for target in rule["Properties"]["Targets"]
    ]
    declared = upload.event_pattern("<bucket>")
    declared["detail"]["bucket"]["name"] = [{"Ref": DEPLOYMENT.bucket.logical_id}]
    assert pattern == declared
    assert function_id == synthesized.function_ids[upload.function]
