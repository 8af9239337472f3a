"""Training: the SageMaker jobs' role, image and trainer source, what the training machine may do with
them, and the rule that starts a run when a dataset's manifest is uploaded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infra.components.training import Training
from lambdaops_tools.deployment import DEPLOYMENT
from lambdaops_tools.local.resources import LocalResources
from lambdaops_tools.trainer_source import trainer_archive
from tests.infra.conftest import Synthesized

JOB_RESOURCES = ("training-job/lambdaops-*", "hyper-parameter-tuning-job/lambdaops-*")
ONE_HOUR = 3600


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def sagemaker_role_id(synthesized: Synthesized) -> str:
    [role_id] = [
        logical_id
        for logical_id, role in synthesized.resources("AWS::IAM::Role").items()
        if role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        == {"Service": "sagemaker.amazonaws.com"}
    ]
    return role_id


def machine_statements(synthesized: Synthesized) -> list[dict[str, Any]]:
    machine = synthesized.template_json["Resources"][synthesized.machine_ids["train-and-register"]]
    return synthesized.role_statements(machine["Properties"]["RoleArn"]["Fn::GetAtt"][0])


def evaluate(value: Any, template: dict[str, Any], region: str = "us-east-1") -> str:
    """A template value as CloudFormation would make it in `region` of the `aws` partition."""
    pseudo = {"AWS::Region": region, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
    if isinstance(value, str):
        return value
    ((function, argument),) = value.items()
    if function == "Ref":
        return pseudo[argument]
    if function == "Fn::Join":
        return str(argument[0]).join(evaluate(part, template, region) for part in argument[1])
    if function == "Fn::FindInMap":
        mapping, key, attribute = argument
        return str(template["Mappings"][mapping][evaluate(key, template, region)][attribute])
    raise ValueError(f"cannot evaluate {value}")


def assets_manifest(outdir: Path, artifact_id: str) -> dict[str, Any]:
    return dict(json.loads((outdir / f"{artifact_id}.assets.json").read_text()))


def test_the_sagemaker_role_is_for_sagemaker_only(synthesized: Synthesized) -> None:
    role = synthesized.template_json["Resources"][sagemaker_role_id(synthesized)]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}
    ]
    assert "ManagedPolicyArns" not in role


def test_the_sagemaker_role_holds_exactly_the_trainers_grants(synthesized: Synthesized) -> None:
    resolve = synthesized.stack.resolve
    targets = synthesized.stack.functions.grant_targets
    declared = [
        (
            sorted(statement.actions),
            [resolve(resource) for resource in statement.resources],
            statement.conditions,
        )
        for grant in DEPLOYMENT.trainer.role
        for statement in grant.statements(targets)
    ]
    statements = synthesized.role_statements(sagemaker_role_id(synthesized))
    assert all(statement["Effect"] == "Allow" for statement in statements)
    on_role = [
        (sorted(as_list(s["Action"])), as_list(s["Resource"]), s.get("Condition", {})) for s in statements
    ]
    assert on_role == declared


def test_the_sagemaker_role_reads_datasets_and_the_trainer_and_writes_under_training(
    synthesized: Synthesized,
) -> None:
    statements = synthesized.role_statements(sagemaker_role_id(synthesized))
    bucket_arn = {"Fn::GetAtt": [DEPLOYMENT.bucket.logical_id, "Arn"]}

    def resources(action: str) -> list[Any]:
        return [r for s in statements if action in as_list(s["Action"]) for r in as_list(s["Resource"])]

    source = synthesized.stack.training.source
    trainer_object = synthesized.stack.resolve(source.bucket.arn_for_objects(source.s3_object_key))
    # The trainer's object is in the CDK assets bucket, not ours: only that object.
    assert trainer_object["Fn::Join"][1][-1] == f"/{synthesized.stack.resolve(source.s3_object_key)}"
    assert resources("s3:GetObject") == [
        {"Fn::Join": ["", [bucket_arn, "/datasets/*"]]},
        trainer_object,
        {"Fn::Join": ["", [bucket_arn, "/training/*"]]},
    ]
    assert resources("s3:PutObject") == [{"Fn::Join": ["", [bucket_arn, "/training/*"]]}]
    assert resources("s3:ListBucket") == [bucket_arn]
    # The bucket is SSE-KMS: reading datasets decrypts, and multipart uploads of outputs need both.
    bucket_key = synthesized.stack.resolve(synthesized.stack.storage.bucket_key.key_arn)
    assert resources("kms:Decrypt") == resources("kms:GenerateDataKey") == [bucket_key]
    on_everything = {a for s in statements if s["Resource"] == "*" for a in as_list(s["Action"])}
    assert on_everything == {"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"}


def test_the_sagemaker_role_pulls_only_the_training_image_repository(synthesized: Synthesized) -> None:
    [pull] = [
        statement
        for statement in synthesized.role_statements(sagemaker_role_id(synthesized))
        if "ecr:BatchGetImage" in as_list(statement["Action"])
    ]
    repository = evaluate(pull["Resource"], synthesized.template_json)
    local = LocalResources.declared().grant_targets
    assert repository == local.training_image_repository_arn
    assert repository == "arn:aws:ecr:us-east-1:763104351884:repository/pytorch-training"


def test_the_image_repository_is_the_deep_learning_containers_registry_of_each_region(
    synthesized: Synthesized,
) -> None:
    pipeline = synthesized.template_json["Resources"][synthesized.function_ids["pipeline"]]
    repository = pipeline["Properties"]["Environment"]["Variables"]["LAMBDAOPS_TRAINING_IMAGE_REPOSITORY"]
    template = synthesized.template_json
    # The local stack names us-east-1's registry; CDK's regional fact gives the same there.
    assert evaluate(repository, template) == LocalResources.declared().grant_targets.training_image_repository
    assert evaluate(repository, template, "eu-west-1") == (
        "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training"
    )
    assert evaluate(repository, template, "ap-east-1") == (
        "871362719292.dkr.ecr.ap-east-1.amazonaws.com/pytorch-training"
    )


def test_the_pipeline_function_names_the_jobs_role_image_and_trainer_source(synthesized: Synthesized) -> None:
    pipeline = synthesized.template_json["Resources"][synthesized.function_ids["pipeline"]]
    variables = pipeline["Properties"]["Environment"]["Variables"]
    assert variables["LAMBDAOPS_SAGEMAKER_ROLE_ARN"] == {
        "Fn::GetAtt": [sagemaker_role_id(synthesized), "Arn"]
    }
    assert variables["LAMBDAOPS_TRAINING_IMAGE_REPOSITORY"]["Fn::Join"][1][-1] == "/pytorch-training"
    manifest = assets_manifest(synthesized.outdir, synthesized.stack.artifact_id)
    [destination] = [
        destination
        for asset in manifest["files"].values()
        if asset["source"]["path"] == str(DEPLOYMENT.trainer.source)
        for destination in asset["destinations"].values()
    ]
    assert variables["LAMBDAOPS_TRAINER_SOURCE_URI"] == {
        "Fn::Sub": f"s3://{destination['bucketName']}/{destination['objectKey']}"
    }


def test_the_machine_starts_and_stops_only_lambdaops_jobs(synthesized: Synthesized) -> None:
    statements = machine_statements(synthesized)
    on_jobs = [s for s in statements if any(a.startswith("sagemaker:") for a in as_list(s["Action"]))]
    actions = {action for statement in on_jobs for action in as_list(statement["Action"])}
    assert {
        "sagemaker:CreateTrainingJob",
        "sagemaker:DescribeTrainingJob",
        "sagemaker:StopTrainingJob",
        "sagemaker:CreateHyperParameterTuningJob",
        "sagemaker:DescribeHyperParameterTuningJob",
        "sagemaker:StopHyperParameterTuningJob",
        "sagemaker:ListTags",
    } <= actions
    for statement in on_jobs:
        ends = [resource["Fn::Join"][1][-1] for resource in as_list(statement["Resource"])]
        assert ends == [f":{resource}" for resource in JOB_RESOURCES], statement


def test_the_machine_passes_only_the_sagemaker_role_and_only_to_sagemaker(synthesized: Synthesized) -> None:
    passes = [s for s in machine_statements(synthesized) if "iam:PassRole" in as_list(s["Action"])]
    assert passes == [
        {
            "Action": "iam:PassRole",
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [sagemaker_role_id(synthesized), "Arn"]},
        }
    ]


def test_the_machine_may_manage_only_step_functions_managed_rules(synthesized: Synthesized) -> None:
    """`.sync` waits on a rule Step Functions creates on the default bus, one per job kind."""
    [rules] = [s for s in machine_statements(synthesized) if "events:PutRule" in as_list(s["Action"])]
    assert sorted(as_list(rules["Action"])) == ["events:DescribeRule", "events:PutRule", "events:PutTargets"]
    assert [resource["Fn::Join"][1][-1] for resource in rules["Resource"]] == [
        ":rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule",
        ":rule/StepFunctionsGetEventsForSageMakerTuningJobsRule",
    ]


def upload_rule(synthesized: Synthesized) -> tuple[str, dict[str, Any]]:
    [(rule_id, rule)] = [
        (rule_id, rule["Properties"])
        for rule_id, rule in synthesized.resources("AWS::Events::Rule").items()
        if "EventPattern" in rule["Properties"]
    ]
    return rule_id, rule


def test_a_manifest_upload_invokes_the_training_function(synthesized: Synthesized) -> None:
    _, rule = upload_rule(synthesized)
    upload = DEPLOYMENT.dataset_upload
    assert rule["Description"] == upload.description
    assert rule["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [{"Ref": DEPLOYMENT.bucket.logical_id}]},
            "object": {"key": [{"wildcard": "datasets/*/manifest.json"}]},
        },
    }
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [synthesized.function_ids[upload.function], "Arn"]}


def test_the_upload_is_retried_then_dead_lettered_like_the_schedules(synthesized: Synthesized) -> None:
    rule_id, rule = upload_rule(synthesized)
    [target] = rule["Targets"]
    [queue_id] = synthesized.resources("AWS::SQS::Queue")
    queue_arn = {"Fn::GetAtt": [queue_id, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": ONE_HOUR}
    assert target["DeadLetterConfig"] == {"Arn": queue_arn}
    function_id = synthesized.function_ids[DEPLOYMENT.dataset_upload.function]
    [config] = [
        config["Properties"]
        for config in synthesized.resources("AWS::Lambda::EventInvokeConfig").values()
        if config["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert config["MaximumRetryAttempts"] == 1
    assert config["MaximumEventAgeInSeconds"] == ONE_HOUR
    assert config["DestinationConfig"] == {"OnFailure": {"Destination": queue_arn}}
    # The queue is KMS-encrypted: the function's role may use its key for sending, and only for that.
    queue_key = synthesized.template_json["Resources"][queue_id]["Properties"]["KmsMasterKeyId"]
    role_id = synthesized.template_json["Resources"][function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    on_queue_key = [s for s in synthesized.role_statements(role_id) if s["Resource"] == queue_key]
    assert [sorted(s["Action"]) for s in on_queue_key] == [["kms:Decrypt", "kms:GenerateDataKey"]]
    rule_arn = {"Fn::GetAtt": [rule_id, "Arn"]}
    assert any(
        permission["Properties"]
        == {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [function_id, "Arn"]},
            "Principal": "events.amazonaws.com",
            "SourceArn": rule_arn,
        }
        for permission in synthesized.resources("AWS::Lambda::Permission").values()
    )
    assert any(
        statement.get("Principal") == {"Service": "events.amazonaws.com"}
        and statement["Condition"] == {"ArnEquals": {"aws:SourceArn": rule_arn}}
        for policy in synthesized.resources("AWS::SQS::QueuePolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    )
    # The one dead-letter alarm watches this queue.
    [alarm] = [
        alarm["Properties"]
        for alarm in synthesized.resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("Namespace") == "AWS/SQS"
    ]
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]


def test_the_stack_outputs_the_training_machine(synthesized: Synthesized) -> None:
    outputs = synthesized.template_json["Outputs"]
    assert outputs["TrainingStateMachineArn"]["Value"] == {
        "Ref": synthesized.machine_ids["train-and-register"]
    }


def synthesize_trainer_source(outdir: Path) -> tuple[dict[str, Any], Any]:
    """The trainer's asset in a stack of its own, bundled (the session's synthesis skips bundling)."""
    import aws_cdk as cdk

    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "TrainerSource")
    training = Training(stack, "Training", trainer=DEPLOYMENT.trainer)
    cdk.CfnOutput(stack, "SourceUri", value=training.source.s3_object_url)
    cdk.CfnOutput(stack, "ImageRepository", value=training.image_repository)
    app.synth()
    [asset] = [
        asset
        for asset in assets_manifest(outdir, stack.artifact_id)["files"].values()
        if not asset["source"]["path"].endswith(".template.json")
    ]
    return asset, stack.resolve(training.source.s3_object_url)


def test_the_trainer_source_is_uploaded_as_the_archive_itself(tmp_path: Path) -> None:
    """One `sourcedir.tar.gz`, built on the host by `trainer_archive`, uploaded as is (not zipped again)."""
    asset, uri = synthesize_trainer_source(tmp_path / "first")
    assert asset["source"]["packaging"] == "file"
    staged = tmp_path / "first" / asset["source"]["path"]
    assert staged.name.endswith(".tar.gz")
    assert staged.read_bytes() == trainer_archive(DEPLOYMENT.trainer.source)
    [destination] = asset["destinations"].values()
    # The synthesizer keys a file asset by its last suffix; SageMaker reads the object as a tar.gz anyway.
    assert destination["objectKey"].endswith(".gz")
    assert uri == {"Fn::Sub": f"s3://{destination['bucketName']}/{destination['objectKey']}"}
    # The archive is deterministic and the asset is named by it: the same code gives the same object.
    again, _ = synthesize_trainer_source(tmp_path / "second")
    assert again["destinations"] == asset["destinations"]
