"""What SageMaker jobs run with (their role, the trainer's source, the training image) and the rule that
starts a training run when a dataset's manifest is uploaded."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sqs as sqs
from aws_cdk import region_info
from constructs import Construct

from infra.components.functions import RUNTIME, construct_name, policy_statement, wildcard_acknowledgments
from infra.components.schedules import invoke_asynchronously, retry_then_dead_letter
from lambdaops_tools.deployment import DatasetUploadSpec, TrainerSpec
from lambdaops_tools.grants import GrantTargets
from lambdaops_tools.trainer_source import trainer_archive

SOURCE_ARCHIVE = "sourcedir.tar.gz"
"""The name SageMaker's script mode gives the trainer's source archive."""


@jsii.implements(cdk.ILocalBundling)
class TrainerArchiveBundling:
    """Writes the trainer's `sourcedir.tar.gz` on the host (`trainer_archive`, as the local stack does)."""

    def __init__(self, source: Path) -> None:
        self.source = source

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: Any) -> bool:
        """Always bundles here: the archive is plain Python, so there is never a Docker fallback."""
        (Path(output_dir) / SOURCE_ARCHIVE).write_bytes(trainer_archive(self.source))
        return True


class Training(Construct):
    """The SageMaker execution role, the reference trainer's source as an asset, and the training image's
    repository in the stack's region.

    Built before the functions, whose environment names all three; the role's statements come from the
    grant targets the functions build (`grant_job_access`), which name this role in turn.
    """

    def __init__(self, scope: Construct, construct_id: str, *, trainer: TrainerSpec) -> None:
        super().__init__(scope, construct_id)
        self._trainer = trainer
        stack = cdk.Stack.of(self)
        self.source = s3_assets.Asset(
            self,
            "TrainerSource",
            path=str(trainer.source),
            # The archive is deterministic, so hashing it changes the object key only when the code changes.
            asset_hash_type=cdk.AssetHashType.OUTPUT,
            bundling=cdk.BundlingOptions(
                image=RUNTIME.bundling_image,
                local=TrainerArchiveBundling(trainer.source),
                # The one file is uploaded as it is, not zipped again. Its key ends in `.gz` (the synthesizer
                # keeps the last suffix), which SageMaker ignores: it reads the object as a tar.gz.
                output_type=cdk.BundlingOutput.ARCHIVED,
            ),
        )
        self.role = iam.Role(
            self,
            "SageMakerRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Runs lambdaops' SageMaker training and tuning jobs",
        )
        # The AWS Deep Learning Containers registry account differs by region; CDK knows each one.
        registry = stack.regional_fact(region_info.FactName.DLC_REPOSITORY_ACCOUNT)
        self.image_repository = (
            f"{registry}.dkr.ecr.{stack.region}.{stack.url_suffix}/{trainer.image_repository}"
        )
        self.image_repository_arn = stack.format_arn(
            service="ecr", account=registry, resource="repository", resource_name=trainer.image_repository
        )

    def grant_job_access(self, targets: GrantTargets) -> None:
        """The role's statements: the trainer's declared grants over this stack's resources."""
        for grant in self._trainer.role:
            for statement in grant.statements(targets):
                self.role.add_to_policy(policy_statement(statement))
        cdk.Validations.of(self.role).acknowledge(
            *wildcard_acknowledgments(self._trainer.role, targets, cdk.Stack.of(self).resolve)
        )


class DatasetUploads(Construct):
    """The rule that invokes the training function for each dataset manifest written to the bucket.

    Delivered like the schedules: asynchronously, with the same retries, into the same dead-letter queue
    (and its alarm); the function is idempotent per manifest version, so a redelivery starts nothing new.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: DatasetUploadSpec,
        bucket: s3.IBucket,
        functions: Mapping[str, lambda_.IFunction],
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        function = functions[spec.function]
        retry_then_dead_letter(function, dead_letter_queue)
        # The bucket notifies EventBridge natively (`Storage`); the declared pattern is the whole match.
        pattern = {
            key.replace("-", "_"): value for key, value in spec.event_pattern(bucket.bucket_name).items()
        }
        self.rule = events.Rule(
            self,
            f"{construct_name(spec.name)}Rule",
            description=spec.description,
            event_pattern=events.EventPattern(**pattern),
            targets=[invoke_asynchronously(function, dead_letter_queue)],
        )
