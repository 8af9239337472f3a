"""What the synthesized template must say about each resource, checked against `DEPLOYMENT`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from lambdaops.deployment import DEPLOYMENT, PYTHON_RUNTIME, FunctionSpec, function_environment
from tests.infra.conftest import PRELOAD_MODELS, Synthesized

FUNCTIONS = DEPLOYMENT.functions
BLOCK_ALL = {
    "BlockPublicAcls": True,
    "BlockPublicPolicy": True,
    "IgnorePublicAcls": True,
    "RestrictPublicBuckets": True,
}


def key_schema(partition_key: str, sort_key: str) -> list[dict[str, str]]:
    return [
        {"AttributeName": partition_key, "KeyType": "HASH"},
        {"AttributeName": sort_key, "KeyType": "RANGE"},
    ]


def function_resource(synthesized: Synthesized, spec: FunctionSpec) -> dict[str, Any]:
    resource: dict[str, Any] = synthesized.template_json["Resources"][synthesized.function_ids[spec.name]]
    return resource


def role_statements(synthesized: Synthesized, spec: FunctionSpec) -> list[dict[str, Any]]:
    """Every statement of the inline policies on the function's role."""
    role_id = function_resource(synthesized, spec)["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def granted_actions(synthesized: Synthesized, spec: FunctionSpec) -> set[str]:
    actions: set[str] = set()
    for statement in role_statements(synthesized, spec):
        action = statement["Action"]
        actions.update([action] if isinstance(action, str) else action)
    return actions


def test_table_schema_billing_recovery_and_protection(template: Template) -> None:
    table = DEPLOYMENT.table
    template.resource_count_is("AWS::DynamoDB::Table", 1)
    template.resource_count_is("AWS::DynamoDB::GlobalTable", 0)
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "KeySchema": key_schema(table.keys.partition_key, table.keys.sort_key),
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": index.name,
                        "KeySchema": key_schema(index.keys.partition_key, index.keys.sort_key),
                        "Projection": {"ProjectionType": "ALL"},
                    }
                    for index in table.indexes
                ],
                "BillingMode": "PAY_PER_REQUEST",
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "SSESpecification": {"SSEEnabled": True},
                "DeletionProtectionEnabled": True,
            },
        },
    )


def test_table_keeps_its_declared_logical_id(synthesized: Synthesized) -> None:
    assert list(synthesized.resources("AWS::DynamoDB::Table")) == [DEPLOYMENT.table.logical_id]


def test_artifacts_bucket_is_versioned_private_logged_and_notifies_eventbridge(
    synthesized: Synthesized,
) -> None:
    bucket = synthesized.template_json["Resources"][DEPLOYMENT.bucket.logical_id]
    assert bucket["Type"] == "AWS::S3::Bucket"
    assert bucket["DeletionPolicy"] == "Retain"
    properties = bucket["Properties"]
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["PublicAccessBlockConfiguration"] == BLOCK_ALL
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert properties["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    log_bucket_id = properties["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
    assert log_bucket_id != DEPLOYMENT.bucket.logical_id
    log_bucket = synthesized.template_json["Resources"][log_bucket_id]
    assert log_bucket["Properties"]["PublicAccessBlockConfiguration"] == BLOCK_ALL
    assert log_bucket["DeletionPolicy"] == "Retain"


def test_eventbridge_notifications_need_no_custom_resource(template: Template) -> None:
    """The native bucket property replaces CDK's notification-handler Lambda function."""
    template.resource_count_is("Custom::S3BucketNotifications", 0)
    template.resource_count_is("AWS::Lambda::Function", len(FUNCTIONS))


def test_every_bucket_denies_requests_without_tls(synthesized: Synthesized) -> None:
    buckets = synthesized.resources("AWS::S3::Bucket")
    assert len(buckets) == 2
    for bucket_id in buckets:
        policies = [
            policy["Properties"]["PolicyDocument"]["Statement"]
            for policy in synthesized.resources("AWS::S3::BucketPolicy").values()
            if policy["Properties"]["Bucket"] == {"Ref": bucket_id}
        ]
        assert any(
            statement["Effect"] == "Deny"
            and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for statements in policies
            for statement in statements
        ), f"{bucket_id} has no aws:SecureTransport deny"


def test_every_method_requires_iam_and_validates_requests(synthesized: Synthesized) -> None:
    methods = synthesized.resources("AWS::ApiGateway::Method")
    assert len(methods) == len(DEPLOYMENT.routes)
    (validator_id,) = synthesized.resources("AWS::ApiGateway::RequestValidator")
    for logical_id, method in methods.items():
        properties = method["Properties"]
        assert properties["AuthorizationType"] == "AWS_IAM", logical_id
        assert properties["RequestValidatorId"] == {"Ref": validator_id}, logical_id
        assert properties["Integration"]["Type"] == "AWS_PROXY", logical_id
    synthesized.template.has_resource_properties(
        "AWS::ApiGateway::RequestValidator",
        {"ValidateRequestBody": True, "ValidateRequestParameters": True},
    )


def test_stage_is_throttled_logged_traced_and_measured(template: Template) -> None:
    template.resource_count_is("AWS::ApiGateway::Stage", 1)
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "v1",
            "TracingEnabled": True,
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
            "MethodSettings": [
                Match.object_like(
                    {
                        "HttpMethod": "*",
                        "ResourcePath": "/*",
                        "ThrottlingRateLimit": DEPLOYMENT.api_throttle_rate,
                        "ThrottlingBurstLimit": DEPLOYMENT.api_throttle_burst,
                        "LoggingLevel": "INFO",
                        "MetricsEnabled": True,
                        "DataTraceEnabled": False,
                    }
                )
            ],
        },
    )


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_function_runtime_sizing_and_tracing(synthesized: Synthesized, spec: FunctionSpec) -> None:
    properties = function_resource(synthesized, spec)["Properties"]
    assert properties["Runtime"] == PYTHON_RUNTIME == "python3.13"
    assert properties["Architectures"] == ["x86_64"]
    assert properties["Handler"] == spec.handler
    assert properties["MemorySize"] == spec.memory_mb
    assert properties["Timeout"] == spec.timeout_s
    assert properties["TracingConfig"] == {"Mode": "Active"}
    log_group_id = properties["LoggingConfig"]["LogGroup"]["Ref"]
    assert synthesized.template_json["Resources"][log_group_id]["Properties"]["RetentionInDays"] > 0


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_function_environment_points_at_this_stack(synthesized: Synthesized, spec: FunctionSpec) -> None:
    variables = function_resource(synthesized, spec)["Properties"]["Environment"]["Variables"]
    expected: dict[str, Any] = function_environment(
        spec,
        table_name="<table>",
        bucket_name="<bucket>",
        event_bus_name="default",
        rollout_state_machine_arn=variables.get("LAMBDAOPS_ROLLOUT_STATE_MACHINE_ARN"),
        preload_models=PRELOAD_MODELS,
    )
    expected["LAMBDAOPS_TABLE_NAME"] = {"Ref": DEPLOYMENT.table.logical_id}
    expected["LAMBDAOPS_BUCKET_NAME"] = {"Ref": DEPLOYMENT.bucket.logical_id}
    assert variables == expected


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_function_layers_are_lambdaops_then_its_dependency_sets(
    synthesized: Synthesized, spec: FunctionSpec
) -> None:
    layers = function_resource(synthesized, spec)["Properties"]["Layers"]
    assert len(layers) == 1 + len(spec.dependency_sets)
    assert layers == [{"Ref": synthesized.layer_ids[name]} for name in ("lambdaops", *spec.dependency_sets)]


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_function_permissions_follow_the_declaration(synthesized: Synthesized, spec: FunctionSpec) -> None:
    actions = granted_actions(synthesized, spec)
    assert "dynamodb:Query" in actions
    assert ("dynamodb:PutItem" in actions) is spec.writes_table
    assert ("s3:GetObject" in actions) is spec.reads_artifacts
    assert ("events:PutEvents" in actions) is spec.publishes_events
    assert not any(action.endswith("*") for action in actions), sorted(actions)


def test_function_roles_carry_no_managed_policies(synthesized: Synthesized) -> None:
    for spec in FUNCTIONS:
        role_id = function_resource(synthesized, spec)["Properties"]["Role"]["Fn::GetAtt"][0]
        role = synthesized.template_json["Resources"][role_id]
        assert "ManagedPolicyArns" not in role["Properties"], spec.name


def test_events_go_to_the_default_bus_only(synthesized: Synthesized) -> None:
    for spec in FUNCTIONS:
        resources = [
            json.dumps(statement["Resource"])
            for statement in role_statements(synthesized, spec)
            if statement["Action"] == "events:PutEvents"
        ]
        assert len(resources) == int(spec.publishes_events)
        assert all(resource.endswith(':event-bus/default"]]}') for resource in resources), resources


def test_every_log_group_expires(synthesized: Synthesized) -> None:
    log_groups = synthesized.resources("AWS::Logs::LogGroup")
    # one per function, one per state machine, one for API access logs
    assert len(log_groups) == len(FUNCTIONS) + len(DEPLOYMENT.state_machines) + 1
    for logical_id, log_group in log_groups.items():
        assert log_group["Properties"].get("RetentionInDays"), logical_id


def _asset_source(synthesized: Synthesized, layer_name: str) -> str:
    layer = synthesized.template_json["Resources"][synthesized.layer_ids[layer_name]]
    asset_hash = layer["Properties"]["Content"]["S3Key"].removesuffix(".zip")
    manifest = json.loads((synthesized.outdir / f"{synthesized.stack.artifact_id}.assets.json").read_text())
    path: str = manifest["files"][asset_hash]["source"]["path"]
    return path


def test_lambdaops_layer_ships_the_package_without_the_local_stack(synthesized: Synthesized) -> None:
    staged = synthesized.outdir / _asset_source(synthesized, "lambdaops")
    package = staged / "python" / "lambdaops"
    assert (package / "deployment.py").is_file()
    assert not (package / "local").exists()
    assert not list(staged.rglob("__pycache__"))
    assert not list(staged.rglob("*.egg-info"))


@pytest.mark.parametrize("dependency_set", DEPLOYMENT.dependency_sets, ids=lambda dep: dep.name)
def test_tests_never_bundle_dependency_layers(synthesized: Synthesized, dependency_set: Any) -> None:
    """With bundling skipped CDK points the asset at its source folder; a bundled one is staged in outdir."""
    assert _asset_source(synthesized, dependency_set.name) == str(dependency_set.requirements.parent)


def test_the_predict_function_preloads_the_models_named_in_context(synthesized: Synthesized) -> None:
    variables = function_resource(synthesized, DEPLOYMENT.function("predict"))["Properties"]["Environment"]
    assert variables["Variables"]["LAMBDAOPS_PRELOAD_MODELS"] == PRELOAD_MODELS
