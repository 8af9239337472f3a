"""What the synthesized template must say about each resource, checked against `DEPLOYMENT`."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from lambdaops_tools.deployment import DEPLOYMENT, PYTHON_RUNTIME, FunctionSpec, function_environment
from lambdaops_tools.grants import (
    GrantTargets,
    PublishesAlerts,
    PublishesEvents,
    ReadsArtifacts,
    ReadsPredictionMetrics,
    ReadsTable,
    ReadsTrainingJobs,
    StartsRollouts,
    StartsTraining,
    WritesCaptures,
    WritesDriftResults,
    WritesObjects,
    WritesTable,
    WritesTrainedModels,
)
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
    return synthesized.role_statements(
        function_resource(synthesized, spec)["Properties"]["Role"]["Fn::GetAtt"][0]
    )


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
    [encryption] = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["BucketKeyEnabled"] is True
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    key_id = encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]["Fn::GetAtt"][0]
    key = synthesized.template_json["Resources"][key_id]
    assert (key["Type"], key["Properties"]["EnableKeyRotation"]) == ("AWS::KMS::Key", True)
    # Retained with the bucket: the retained objects are unreadable without it.
    assert key["DeletionPolicy"] == "Retain"
    assert (
        key_id
        != synthesized.template_json["Resources"][DEPLOYMENT.alerts_topic.logical_id]["Properties"][
            "KmsMasterKeyId"
        ]["Fn::GetAtt"][0]
    )
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


def test_every_method_but_the_public_ones_requires_iam_and_all_validate_requests(
    synthesized: Synthesized,
) -> None:
    methods = synthesized.resources("AWS::ApiGateway::Method")
    assert len(methods) == len(DEPLOYMENT.routes)
    (validator_id,) = synthesized.resources("AWS::ApiGateway::RequestValidator")
    public = {(route.method, route.path) for route in DEPLOYMENT.routes if route.public}
    assert public == {("GET", "/openapi.json"), ("GET", "/docs")}
    paths = method_paths(synthesized)
    for logical_id, method in methods.items():
        properties = method["Properties"]
        expected = "NONE" if paths[logical_id] in public else "AWS_IAM"
        assert properties["AuthorizationType"] == expected, logical_id
        # Without `-c api_keys=true` no method asks for a key.
        assert properties.get("ApiKeyRequired", False) is False, logical_id
        assert properties["RequestValidatorId"] == {"Ref": validator_id}, logical_id
        assert properties["Integration"]["Type"] == "AWS_PROXY", logical_id
    synthesized.template.has_resource_properties(
        "AWS::ApiGateway::RequestValidator",
        {"ValidateRequestBody": True, "ValidateRequestParameters": True},
    )


def method_paths(synthesized: Synthesized) -> dict[str, tuple[str, str]]:
    """Logical id of each method -> (HTTP method, full path)."""
    from tests.infra.test_declarations_agree import resource_paths

    paths = resource_paths(synthesized)
    return {
        logical_id: (
            method["Properties"]["HttpMethod"],
            paths[method["Properties"]["ResourceId"]["Ref"]]
            if "Ref" in method["Properties"]["ResourceId"]
            else "/",
        )
        for logical_id, method in synthesized.resources("AWS::ApiGateway::Method").items()
    }


def test_public_routes_acknowledge_their_missing_authorization_with_the_reason(
    synthesized: Synthesized,
) -> None:
    for logical_id, (http_method, path) in method_paths(synthesized).items():
        metadata = synthesized.template_json["Resources"][logical_id].get("Metadata", {})
        rules = {rule["id"]: rule["reason"] for rule in metadata["cdk_nag"]["rules_to_suppress"]}
        if path in ("/openapi.json", "/docs"):
            assert set(rules) == {"AwsSolutions-APIG4", "AwsSolutions-COG4"}, path
            assert all("no data" in reason for reason in rules.values()), rules
        else:
            assert set(rules) == {"AwsSolutions-COG4"}, (http_method, path)


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


PLACEHOLDERS = GrantTargets(**{field.name: f"<{field.name}>" for field in fields(GrantTargets)})
"""Targets whose every value names its field, so a declared environment shows which target it uses."""


def state_machine_arn(synthesized: Synthesized, name: str) -> dict[str, Any]:
    """The ARN a function knows the machine by: built from its explicit name."""
    machine = synthesized.template_json["Resources"][synthesized.machine_ids[name]]
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":states:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":stateMachine:{machine['Properties']['StateMachineName']}",
            ],
        ]
    }


def trainer_source_uri(synthesized: Synthesized) -> dict[str, Any]:
    """`s3://<CDK assets bucket>/<key>` of the file asset staged from the trainer's folder."""
    manifest = json.loads((synthesized.outdir / f"{synthesized.stack.artifact_id}.assets.json").read_text())
    [destination] = [
        destination
        for asset in manifest["files"].values()
        if asset["source"]["path"] == str(DEPLOYMENT.trainer.source)
        for destination in asset["destinations"].values()
    ]
    return {"Fn::Sub": f"s3://{destination['bucketName']}/{destination['objectKey']}"}


def template_values(synthesized: Synthesized) -> dict[str, Any]:
    """What each placeholder target must be in the template: this stack's resources."""
    [sagemaker_role] = [
        logical_id
        for logical_id, role in synthesized.resources("AWS::IAM::Role").items()
        if role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        == {"Service": "sagemaker.amazonaws.com"}
    ]
    return {
        "<table_name>": {"Ref": DEPLOYMENT.table.logical_id},
        "<bucket_name>": {"Ref": DEPLOYMENT.bucket.logical_id},
        "<event_bus_name>": DEPLOYMENT.event_bus_name,
        "<alerts_topic_arn>": {"Ref": DEPLOYMENT.alerts_topic.logical_id},
        "<rollout_state_machine_arn>": state_machine_arn(synthesized, "canary-rollout"),
        "<training_state_machine_arn>": state_machine_arn(synthesized, "train-and-register"),
        "<sagemaker_role_arn>": {"Fn::GetAtt": [sagemaker_role, "Arn"]},
        "<training_image_repository>": {
            "Fn::Join": [
                "",
                [
                    {"Fn::FindInMap": ["DlcRepositoryAccountMap", {"Ref": "AWS::Region"}, "value"]},
                    ".dkr.ecr.",
                    {"Ref": "AWS::Region"},
                    ".",
                    {"Ref": "AWS::URLSuffix"},
                    f"/{DEPLOYMENT.trainer.image_repository}",
                ],
            ]
        },
        "<trainer_source_uri>": trainer_source_uri(synthesized),
    }


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_function_environment_points_at_this_stack(synthesized: Synthesized, spec: FunctionSpec) -> None:
    variables = function_resource(synthesized, spec)["Properties"]["Environment"]["Variables"]
    declared = function_environment(spec, PLACEHOLDERS, {"lambdaops:preload-models": PRELOAD_MODELS})
    in_stack = template_values(synthesized)
    assert variables == {name: in_stack.get(value, value) for name, value in declared.items()}


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
    assert spec.declares(ReadsTable)
    assert "dynamodb:Query" in actions
    assert ("dynamodb:PutItem" in actions) is spec.declares(WritesTable)
    assert ("s3:GetObject" in actions) is spec.declares(ReadsArtifacts)
    assert ("events:PutEvents" in actions) is spec.declares(PublishesEvents)
    assert ("sns:Publish" in actions) is spec.declares(PublishesAlerts)
    assert ("states:StartExecution" in actions) is (
        spec.declares(StartsRollouts) or spec.declares(StartsTraining)
    )
    assert ("sagemaker:DescribeTrainingJob" in actions) is spec.declares(ReadsTrainingJobs)
    # Starting jobs is the training machine's (RunsTrainingJobs), never a function's.
    assert not {"sagemaker:CreateTrainingJob", "iam:PassRole"} & actions
    assert ("cloudwatch:GetMetricData" in actions) is spec.declares(ReadsPredictionMetrics)
    bucket_key = synthesized.stack.resolve(synthesized.stack.storage.bucket_key.key_arn)
    on_bucket_key = {
        action
        for statement in role_statements(synthesized, spec)
        if statement["Resource"] == bucket_key
        for action in as_list(statement["Action"])
    }
    # Reading SSE-KMS objects decrypts, writing them (one PutObject each) asks for a data key.
    expected_on_key = {"kms:Decrypt"} if spec.declares(ReadsArtifacts) else set()
    if any(isinstance(grant, WritesObjects) for grant in spec.grants):
        expected_on_key.add("kms:GenerateDataKey")
    assert on_bucket_key == expected_on_key
    # The one wildcard action: SNS documents kms:GenerateDataKey* for publishers to an SSE-KMS topic.
    allowed_wildcards = {"kms:GenerateDataKey*"} if spec.declares(PublishesAlerts) else set()
    assert {action for action in actions if action.endswith("*")} == allowed_wildcards, sorted(actions)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# Statements other constructs add to a function's role: its log group, active tracing, the schedule's DLQ.
NOT_FROM_GRANTS = ("logs:", "xray:", "sqs:")


def dead_letter_key_arn(synthesized: Synthesized) -> dict[str, Any]:
    key: dict[str, Any] = synthesized.stack.resolve(synthesized.stack.schedules.dead_letter_key.key_arn)
    return key


def from_grants(synthesized: Synthesized, statement: dict[str, Any]) -> bool:
    """Not what the log group, tracing or the dead-letter queue (and its key) add to a role."""
    if statement["Resource"] == dead_letter_key_arn(synthesized):
        return False
    return not all(action.startswith(NOT_FROM_GRANTS) for action in as_list(statement["Action"]))


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_function_role_holds_exactly_its_grants_statements(
    synthesized: Synthesized, spec: FunctionSpec
) -> None:
    resolve = synthesized.stack.resolve
    targets = synthesized.stack.functions.grant_targets
    declared = [
        (
            sorted(statement.actions),
            [resolve(resource) for resource in statement.resources],
            statement.conditions,
        )
        for grant in spec.grants
        for statement in grant.statements(targets)
    ]
    on_role = [
        (sorted(as_list(statement["Action"])), as_list(statement["Resource"]), statement.get("Condition", {}))
        for statement in role_statements(synthesized, spec)
        if from_grants(synthesized, statement)
    ]
    assert all(statement["Effect"] == "Allow" for statement in role_statements(synthesized, spec))
    assert on_role == declared


def bucket_object_keys(resource: Any) -> str:
    """`drift/*` from `Fn::Join ["", [GetAtt <artifacts bucket>.Arn, "/drift/*"]]`."""
    bucket_arn, keys = resource["Fn::Join"][1]
    assert bucket_arn == {"Fn::GetAtt": [DEPLOYMENT.bucket.logical_id, "Arn"]}, resource
    assert isinstance(keys, str) and keys.startswith("/"), resource
    return keys.removeprefix("/")


def statement_resources(statement: dict[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def allowed(statement: dict[str, Any], action: str) -> bool:
    actions = statement["Action"]
    return statement["Effect"] == "Allow" and action in ([actions] if isinstance(actions, str) else actions)


def put_object_keys(synthesized: Synthesized, spec: FunctionSpec) -> set[str]:
    """The artifacts-bucket keys (patterns) the function's role may s3:PutObject."""
    return {
        bucket_object_keys(resource)
        for statement in role_statements(synthesized, spec)
        if allowed(statement, "s3:PutObject")
        for resource in statement_resources(statement)
    }


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_functions_put_objects_only_under_their_declared_prefixes(
    synthesized: Synthesized, spec: FunctionSpec
) -> None:
    expected = set()
    if spec.declares(WritesCaptures):
        expected.add("captures/*")
    if spec.declares(WritesDriftResults):
        expected |= {"models/*/baselines/*", "drift/*"}
    if spec.declares(WritesTrainedModels):
        expected.add("models/*/training/*")
    assert put_object_keys(synthesized, spec) == expected


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_functions_that_publish_alerts_may_publish_to_the_topic_and_use_its_key(
    synthesized: Synthesized, spec: FunctionSpec
) -> None:
    topic = synthesized.template_json["Resources"][DEPLOYMENT.alerts_topic.logical_id]
    key = topic["Properties"]["KmsMasterKeyId"]
    statements = role_statements(synthesized, spec)
    published = [r for s in statements if allowed(s, "sns:Publish") for r in statement_resources(s)]
    # On the topic's key: the bucket's key is the artifact grants' (checked with the permissions above).
    on_key = [s for s in statements if statement_resources(s) == [key]]
    encrypted = [r for s in on_key if allowed(s, "kms:GenerateDataKey*") for r in statement_resources(s)]
    decrypted = [r for s in on_key if allowed(s, "kms:Decrypt") for r in statement_resources(s)]
    if spec.declares(PublishesAlerts):
        assert published == [{"Ref": DEPLOYMENT.alerts_topic.logical_id}]
        assert encrypted == decrypted == [key]
    else:
        assert published == encrypted == decrypted == []


def test_drift_function_puts_only_baselines_and_reports_and_publishes_alerts(
    synthesized: Synthesized,
) -> None:
    drift = DEPLOYMENT.function("drift")
    assert put_object_keys(synthesized, drift) == {"models/*/baselines/*", "drift/*"}
    assert {"sns:Publish", "s3:GetObject"} <= granted_actions(synthesized, drift)


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
        assert len(resources) == int(spec.declares(PublishesEvents))
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


def test_lambdaops_layer_ships_the_package_and_nothing_of_the_tools(synthesized: Synthesized) -> None:
    staged = synthesized.outdir / _asset_source(synthesized, "lambdaops")
    package = staged / "python" / "lambdaops"
    assert (package / "registry" / "catalog.py").is_file()
    assert [path.name for path in (staged / "python").iterdir()] == ["lambdaops"]
    assert not list(staged.rglob("__pycache__"))
    assert not list(staged.rglob("*.egg-info"))


def requirement_names(dependency_set: str) -> set[str]:
    """Package names a dependency set's requirements file pins (normalized as pip does)."""
    lines = DEPLOYMENT.dependency_set(dependency_set).requirements.read_text().splitlines()
    return {
        re.split(r"[=<>~!\[; ]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")
        for line in lines
        if line.strip() and not line.lstrip().startswith("#")
    }


def test_onnx_and_stats_layers_never_share_a_function(synthesized: Synthesized) -> None:
    """Together (~150 MB and ~170 MB unzipped) they would pass Lambda's 250 MB limit for code and layers."""
    onnx, stats = {"Ref": synthesized.layer_ids["onnx"]}, {"Ref": synthesized.layer_ids["stats"]}
    for spec in FUNCTIONS:
        layers = function_resource(synthesized, spec)["Properties"]["Layers"]
        assert not (onnx in layers and stats in layers), spec.name
    predict = function_resource(synthesized, DEPLOYMENT.function("predict"))["Properties"]["Layers"]
    drift = function_resource(synthesized, DEPLOYMENT.function("drift"))["Properties"]["Layers"]
    assert onnx in predict and stats not in predict
    assert stats in drift and onnx not in drift


def test_onnx_and_stats_requirements_keep_apart() -> None:
    onnx, stats = requirement_names("onnx"), requirement_names("stats")
    assert "onnxruntime" in onnx and "scipy" not in onnx
    assert "scipy" in stats and "onnxruntime" not in stats


@pytest.mark.parametrize("dependency_set", DEPLOYMENT.dependency_sets, ids=lambda dep: dep.name)
def test_tests_never_bundle_dependency_layers(synthesized: Synthesized, dependency_set: Any) -> None:
    """With bundling skipped CDK points the asset at its source folder; a bundled one is staged in outdir."""
    assert _asset_source(synthesized, dependency_set.name) == str(dependency_set.requirements.parent)


def test_the_predict_function_preloads_the_models_named_in_context(synthesized: Synthesized) -> None:
    variables = function_resource(synthesized, DEPLOYMENT.function("predict"))["Properties"]["Environment"]
    assert variables["Variables"]["LAMBDAOPS_PRELOAD_MODELS"] == PRELOAD_MODELS
