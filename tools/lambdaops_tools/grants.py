"""What a function may touch, one class per capability: its IAM statements, its environment, and why.

A function declares the grants it needs (`FunctionSpec.grants`). Each grant says, in one place, which IAM
statements its role needs, which environment variables tell the function's settings where those resources
are, and why a wildcard in its statements is acceptable (the reason of cdk-nag's acknowledgment). Grants are
plain data over `GrantTargets` and import no aws_cdk: CDK hands in its resources' tokens, the local stack
its moto names, and both read the same declarations.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from lambdaops.training.jobs import JOB_PREFIX


@dataclass(frozen=True)
class Statement:
    """One IAM allow statement; `reason` says why a wildcard in its actions or resources is acceptable."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]
    reason: str | None = None
    conditions: dict[str, dict[str, str]] = field(default_factory=dict, compare=False)
    """IAM condition block (`{"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}`)."""

    def __post_init__(self) -> None:
        if self.has_wildcard and not self.reason:
            raise ValueError(f"{self.actions} on {self.resources}: a wildcard needs a reason")

    @property
    def has_wildcard(self) -> bool:
        return any("*" in part for part in (*self.actions, *self.resources))


@dataclass(frozen=True)
class GrantTargets:
    """The resources grants point at where the functions run: names for environments, ARNs for statements.

    CDK fills it with its resources' tokens, the local stack with its moto names and ARNs. What is the same
    everywhere (an event source, a service name) is a field of the grant instead.
    """

    table_name: str
    table_arn: str
    bucket_name: str
    bucket_arn: str
    event_bus_name: str
    event_bus_arn: str
    alerts_topic_arn: str
    alerts_key_arn: str | None
    """The KMS key the alerts topic is encrypted with; None where it is not (the local stack's)."""
    rollout_state_machine_arn: str
    rollout_executions_arn: str
    """Every execution of the rollout state machine: `arn:...:execution:<machine name>:*`."""
    training_state_machine_arn: str
    training_executions_arn: str
    sagemaker_arn_prefix: str
    """`arn:<partition>:sagemaker:<region>:<account>:`: jobs' ARNs are this plus `training-job/<name>`."""
    sagemaker_role_arn: str
    """The role SageMaker jobs run as (`iam:PassRole` by the training machine)."""
    training_image_repository: str
    """The PyTorch training image's repository URI in the stack's region (no tag)."""
    training_image_repository_arn: str
    trainer_source_uri: str
    """`s3://...tar.gz`: the reference trainer's source, SageMaker's `sagemaker_submit_directory`."""
    trainer_source_object_arn: str
    bucket_key_arn: str | None = None
    """The KMS key the artifacts bucket is encrypted with; None where it is not (the local stack's)."""

    def bucket_key_statements(self, actions: tuple[str, ...]) -> tuple[Statement, ...]:
        """`actions` on the bucket's key, where it has one: reading an SSE-KMS object decrypts its data key
        (kms:Decrypt), writing one asks for a new data key (kms:GenerateDataKey)."""
        if self.bucket_key_arn is None:
            return ()
        return (Statement(actions, (self.bucket_key_arn,)),)

    def job_arns(self, resource: str) -> str:
        """Every job of a kind (`training-job`, `hyper-parameter-tuning-job`) that lambdaops names."""
        return f"{self.sagemaker_arn_prefix}{resource}/{JOB_PREFIX}*"


class Grant(ABC):
    """A capability a function declares: the statements its role needs and the variables that locate them."""

    @abstractmethod
    def statements(self, targets: GrantTargets) -> tuple[Statement, ...]:
        """The IAM statements the function's role needs for this capability."""

    @abstractmethod
    def environment(self, targets: GrantTargets) -> dict[str, str]:
        """Variables (settings fields) telling the function where this capability's resources are."""


@dataclass(frozen=True)
class ReadsTable(Grant):
    """Reads models, versions and traffic splits: the predict function routes by them and writes nothing."""

    def statements(self, targets: GrantTargets) -> tuple[Statement, ...]:
        return (
            Statement(("dynamodb:GetItem", "dynamodb:Query"), (targets.table_arn,)),
            Statement(
                ("dynamodb:Query",),
                (f"{targets.table_arn}/index/*",),
                reason="Queries on the registry table's GSIs: the grant covers this one table's indexes "
                "(<table arn>/index/*), not other tables.",
            ),
        )

    def environment(self, targets: GrantTargets) -> dict[str, str]:
        return {"LAMBDAOPS_TABLE_NAME": targets.table_name}


@dataclass(frozen=True)
class WritesTable(ReadsTable):
    """Reads and writes the registry table: items, conditional updates and transactions over them.

    TransactWriteItems is authorized per item, by the Put, Update and ConditionCheck actions it performs.
    """

    def statements(self, targets: GrantTargets) -> tuple[Statement, ...]:
        writes = Statement(
            (
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:ConditionCheckItem",
            ),
            (targets.table_arn,),
        )
        return (*super().statements(targets), writes)


@dataclass(frozen=True)
class ReadsArtifacts(Grant):
    """Reads objects of the artifacts bucket: model artifacts, baselines, drift data and captures.

    Exactly what `S3ArtifactStore.fetch` and the drift scan call; ListBucket turns a missing key into 404
    (not 403) and lets the scan list captures.
    """

    def statements(self, targets: GrantTargets) -> tuple[Statement, ...]:
        return (
            Statement(
                ("s3:GetObject", "s3:GetObjectVersion"),
                (f"{targets.bucket_arn}/*",),
                reason="Model artifacts are read by the key given at registration, so GetObject covers the "
                "objects of this one artifacts bucket (<bucket arn>/*).",
            ),
            Statement(("s3:ListBucket",), (targets.bucket_arn,)),
            *targets.bucket_key_statements(("kms:Decrypt",)),
        )

    def environment(self, targets: GrantTargets) -> dict[str, str]:
        return {"LAMBDAOPS_BUCKET_NAME": targets.bucket_name}


@dataclass(frozen=True)
class WritesObjects(Grant):
    """Puts new objects under `keys` of the artifacts bucket; each subclass names its keys and why."""

    keys: ClassVar[tuple[str, ...]]
    """Object key patterns, relative to the bucket."""
    reason: ClassVar[str]
    """Why these keys need their wildcards."""

    def statements(self, targets: GrantTargets) -> tuple[Statement, ...]:
        resources = tuple(f"{targets.bucket_arn}/{keys}" for keys in self.keys)
        # One PutObject per object (never multipart), which needs a data key and no kms:Decrypt.
        return (
            Statement(("s3:PutObject",), resources, reason=self.reason),
            *targets.bucket_key_statements(("kms:GenerateDataKey",)),
        )

    def environment(self, targets: GrantTargets) -> dict[str, str]:
        return {"LAMBDAOPS_BUCKET_NAME": targets.bucket_name}


@dataclass(frozen=True)
class WritesCaptures(WritesObjects):
    """Captures sampled requests and predictions under `captures/`, where the drift scan reads them."""

    keys = ("captures/*",)
    reason = (
        "Captured predictions are written as new objects under captures/<model>/dt=.../ of this one bucket; "
        "their keys are made per request."
    )


@dataclass(frozen=True)
class WritesDriftResults(WritesObjects):
    """Puts baselines beside their model (`models/<name>/baselines/`) and drift reports under `drift/`."""

    keys = ("models/*/baselines/*", "drift/*")
    reason = (
        "Baselines (models/<model>/baselines/<version>...) and drift reports (drift/<model>/...) are new "
        "objects of this one bucket, keyed per model and scan."
    )


@dataclass(frozen=True)
class PublishesEvents(Grant):
    """Publishes lambdaops events (VersionRegistered, StageChanged, RetrainingRequested) to the bus."""

    source: str
    """The `source` the events carry, which rules match on."""

    def statements(self, targets: GrantTargets) -> tuple[Statement, ...]:
        return (Statement(("events:PutEvents",), (targets.event_bus_arn,)),)

    def environment(self, targets: GrantTargets) -> dict[str, str]:
        return {"LAMBDAOPS_EVENT_BUS_NAME": targets.event_bus_name, "LAMBDAOPS_EVENT_SOURCE": self.source}


@dataclass(frozen=True)
class PublishesAlerts(Grant):
    """Publishes drift and data-quality findings to the alerts topic, using its KMS key where it has one."""

    def statements(self, targets: GrantTargets) -> tuple[Statement, ...]:
        publish = Statement(("sns:Publish",), (targets.alerts_topic_arn,))
        if targets.alerts_key_arn is None:
            return (publish,)
        encrypt = Statement(
            ("kms:Decrypt", "kms:GenerateDataKey*"),
            (targets.alerts_key_arn,),
            reason="Publishing to the SSE-KMS alerts topic needs kms:GenerateDataKey* and kms:Decrypt "
            "(as SNS documents and grant_publish grants), on the topic's own key only.",
        )
        return (publish, encrypt)

    def environment(self, targets: GrantTargets) -> dict[str, str]:
        return {"LAMBDAOPS_ALERTS_TOPIC_ARN": targets.alerts_topic_arn}


@dataclass(frozen=True)
class StartsRollouts(Grant):
    """Starts canary rollouts (`POST /models/{name}/canary`) and follows their executions."""

    def statements(self, targets: GrantTargets) -> tuple[Statement, ...]:
        return (
            Statement(
                ("states:StartExecution", "states:ListExecutions"), (targets.rollout_state_machine_arn,)
            ),
            Statement(
                ("states:DescribeExecution",),
                (targets.rollout_executions_arn,),
                reason="DescribeExecution on the executions of this one state machine, whose names Step "
                "Functions generates per rollout.",
            ),
        )

    def environment(self, targets: GrantTargets) -> dict[str, str]:
        return {"LAMBDAOPS_ROLLOUT_STATE_MACHINE_ARN": targets.rollout_state_machine_arn}


@dataclass(frozen=True)
class ReadsPredictionMetrics(Grant):
    """Reads the predict function's CloudWatch metrics, by which the canary judges a rollout's arms."""

    service: str
    """The predict function's Powertools service name: the `service` dimension of the metrics read."""

    def statements(self, targets: GrantTargets) -> tuple[Statement, ...]:
        return (
            Statement(
                ("cloudwatch:GetMetricData",),
                ("*",),
                reason="cloudwatch:GetMetricData (canary judgement) supports no resource-level permissions, "
                "so its resource must be '*'.",
            ),
        )

    def environment(self, targets: GrantTargets) -> dict[str, str]:
        return {"LAMBDAOPS_PREDICTION_SERVICE": self.service}


@dataclass(frozen=True)
class ReadsPlatformMetrics(ReadsPredictionMetrics):
    """Reads every lambdaops series (`GET /metrics`): lists them and reads their statistics; the
    prediction series among them are the `service`'s, as the canary reads them."""

    def statements(self, targets: GrantTargets) -> tuple[Statement, ...]:
        return (
            Statement(
                ("cloudwatch:GetMetricData", "cloudwatch:ListMetrics"),
                ("*",),
                reason="cloudwatch:GetMetricData and cloudwatch:ListMetrics (GET /metrics) support no "
                "resource-level permissions, so their resource must be '*'.",
            ),
        )


@dataclass(frozen=True)
class ChecksBucket(Grant):
    """Asks whether the artifacts bucket answers (`GET /health`: HeadBucket), reading none of its objects."""

    def statements(self, targets: GrantTargets) -> tuple[Statement, ...]:
        return (Statement(("s3:ListBucket",), (targets.bucket_arn,)),)

    def environment(self, targets: GrantTargets) -> dict[str, str]:
        return {"LAMBDAOPS_BUCKET_NAME": targets.bucket_name}


@dataclass(frozen=True)
class StartsTraining(Grant):
    """Starts training runs (`POST /training`, an upload, a drift alert): one named execution per run."""

    def statements(self, targets: GrantTargets) -> tuple[Statement, ...]:
        return (
            Statement(("states:StartExecution",), (targets.training_state_machine_arn,)),
            Statement(
                ("states:DescribeExecution",),
                (targets.training_executions_arn,),
                reason="DescribeExecution on the executions of the training state machine, named per run.",
            ),
        )

    def environment(self, targets: GrantTargets) -> dict[str, str]:
        return {"LAMBDAOPS_TRAINING_STATE_MACHINE_ARN": targets.training_state_machine_arn}


_JOB_REASON = (
    "SageMaker jobs are named per run (lambdaops-<run id>, trials lambdaops-<run id>-NNN-<hex>); the grant "
    "covers only jobs with lambdaops' name prefix."
)


@dataclass(frozen=True)
class ReadsTrainingJobs(Grant):
    """Reads a run's jobs: a running job's epoch and metrics, a tuning job's trials."""

    def statements(self, targets: GrantTargets) -> tuple[Statement, ...]:
        return (
            Statement(
                (
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:DescribeHyperParameterTuningJob",
                    "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
                ),
                (targets.job_arns("training-job"), targets.job_arns("hyper-parameter-tuning-job")),
                reason=_JOB_REASON,
            ),
        )

    def environment(self, targets: GrantTargets) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class PlansTrainingJobs(Grant):
    """Plans the SageMaker jobs the training machine starts: their role, image and trainer source.

    No statements: the function only names them; the machine's role passes the role (`RunsTrainingJobs`).
    """

    image_version: str
    """The image tag around the device: `2.10.0` and `py313` give `2.10.0-gpu-py313`."""
    python_tag: str

    def statements(self, targets: GrantTargets) -> tuple[Statement, ...]:
        return ()

    def environment(self, targets: GrantTargets) -> dict[str, str]:
        return {
            "LAMBDAOPS_SAGEMAKER_ROLE_ARN": targets.sagemaker_role_arn,
            "LAMBDAOPS_TRAINING_IMAGE_REPOSITORY": targets.training_image_repository,
            "LAMBDAOPS_TRAINER_SOURCE_URI": targets.trainer_source_uri,
            "LAMBDAOPS_TRAINING_IMAGE_VERSION": self.image_version,
            "LAMBDAOPS_TRAINING_IMAGE_PYTHON": self.python_tag,
        }


@dataclass(frozen=True)
class WritesTrainedModels(WritesObjects):
    """Puts a run's ONNX file beside its model (`models/<name>/training/<run id>/`), where it registers."""

    keys = ("models/*/training/*",)
    reason = "A run's model is a new object under models/<model>/training/<run id>/ of this one bucket."


_MANAGED_RULES = (
    "StepFunctionsGetEventsForSageMakerTrainingJobsRule",
    "StepFunctionsGetEventsForSageMakerTuningJobsRule",
)


@dataclass(frozen=True)
class RunsTrainingJobs(Grant):
    """What the training machine's `.sync` SageMaker tasks need, as Step Functions documents it."""

    def statements(self, targets: GrantTargets) -> tuple[Statement, ...]:
        rule_arn = targets.event_bus_arn.rsplit(":", 1)[0] + ":rule/"
        return (
            Statement(
                (
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:CreateHyperParameterTuningJob",
                    "sagemaker:DescribeHyperParameterTuningJob",
                    "sagemaker:StopHyperParameterTuningJob",
                    "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
                    "sagemaker:AddTags",
                    "sagemaker:ListTags",
                ),
                (targets.job_arns("training-job"), targets.job_arns("hyper-parameter-tuning-job")),
                reason=_JOB_REASON,
            ),
            Statement(
                ("iam:PassRole",),
                (targets.sagemaker_role_arn,),
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
            Statement(
                ("events:PutTargets", "events:PutRule", "events:DescribeRule"),
                tuple(rule_arn + rule for rule in _MANAGED_RULES),
            ),
        )

    def environment(self, targets: GrantTargets) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class TrainingJobAccess(Grant):
    """The SageMaker execution role: read the datasets and the trainer, write outputs and checkpoints,
    pull the training image, write its logs and metrics."""

    def statements(self, targets: GrantTargets) -> tuple[Statement, ...]:
        bucket = targets.bucket_arn
        return (
            Statement(
                ("s3:GetObject",),
                (f"{bucket}/datasets/*", targets.trainer_source_object_arn),
                reason="Training reads the dataset files under datasets/<model>/<dataset_id>/ of this one "
                "bucket, whose keys are chosen per upload.",
            ),
            Statement(
                ("s3:PutObject", "s3:GetObject"),
                (f"{bucket}/training/*",),
                reason="Model archives and checkpoints are written (and resumed) under training/<run id>/ of "
                "this one bucket.",
            ),
            Statement(("s3:ListBucket",), (bucket,)),
            # SageMaker uploads archives and checkpoints in parts, and a multipart upload to an SSE-KMS
            # bucket decrypts its data key for each part.
            *targets.bucket_key_statements(("kms:Decrypt", "kms:GenerateDataKey")),
            Statement(
                ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"),
                (targets.training_image_repository_arn,),
            ),
            Statement(
                ("ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"),
                ("*",),
                reason="ecr:GetAuthorizationToken and cloudwatch:PutMetricData (training metrics) support no "
                "resource-level permissions.",
            ),
            Statement(
                (
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ),
                (
                    targets.sagemaker_arn_prefix.replace(":sagemaker:", ":logs:")
                    + "log-group:/aws/sagemaker/TrainingJobs*",
                ),
                reason="Training jobs log to SageMaker's own group /aws/sagemaker/TrainingJobs, one stream "
                "per job.",
            ),
        )

    def environment(self, targets: GrantTargets) -> dict[str, str]:
        return {}


def merge_environments(parts: Iterable[tuple[str, Mapping[str, str]]]) -> dict[str, str]:
    """One environment from (who sets it, variables) parts; two parts setting a variable must agree."""
    merged: dict[str, str] = {}
    set_by: dict[str, str] = {}
    for origin, variables in parts:
        for name, value in variables.items():
            if name in merged and merged[name] != value:
                raise ValueError(f"{name} is {merged[name]!r} for {set_by[name]} but {value!r} for {origin}")
            merged[name] = value
            set_by.setdefault(name, origin)
    return merged
