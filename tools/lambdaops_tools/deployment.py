"""What lambdaops deploys, declared once.

The CDK app (`infra/`) and the local stack (`lambdaops_tools.local`) both build their resources from these
declarations, so the API routes, each function's grants and environment, and the table schema cannot drift
apart between the cloud and a laptop. `tests/infra/test_declarations_agree.py` proves the synthesized
template matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdaops_tools.grants import (
    ChecksBucket,
    Grant,
    GrantTargets,
    PlansTrainingJobs,
    PublishesAlerts,
    PublishesEvents,
    ReadsArtifacts,
    ReadsPlatformMetrics,
    ReadsPredictionMetrics,
    ReadsTable,
    ReadsTrainingJobs,
    RunsTrainingJobs,
    StartsRollouts,
    StartsTraining,
    TrainingJobAccess,
    WritesCaptures,
    WritesDriftResults,
    WritesTable,
    WritesTrainedModels,
    merge_environments,
)

# Declarations describe the source tree they sit in (function folders, ASL files, layers); they are
# read by CDK and the local stack, and never shipped to Lambda.
PROJECT_ROOT = Path(__file__).resolve().parents[2]

PYTHON_RUNTIME = "python3.13"


@dataclass(frozen=True)
class KeySpec:
    partition_key: str
    sort_key: str


@dataclass(frozen=True)
class IndexSpec:
    name: str
    keys: KeySpec


@dataclass(frozen=True)
class TableSpec:
    """A DynamoDB table: string keys only, on-demand, point-in-time recovery on."""

    logical_id: str
    local_name: str
    keys: KeySpec
    indexes: tuple[IndexSpec, ...] = ()

    @property
    def attribute_names(self) -> list[str]:
        names = [self.keys.partition_key, self.keys.sort_key]
        for index in self.indexes:
            names += [index.keys.partition_key, index.keys.sort_key]
        return sorted(set(names))


@dataclass(frozen=True)
class BucketSpec:
    """An S3 bucket: versioned, private, SSL only, notifying EventBridge."""

    logical_id: str
    local_name: str


@dataclass(frozen=True)
class DependencySet:
    """A Lambda layer of third-party packages, pinned in its own requirements file."""

    name: str
    requirements: Path
    description: str


@dataclass(frozen=True)
class ContextSetting:
    """A function setting chosen per deployment: `cdk deploy -c <context_key>=<value>` sets it, and locally
    (or when the context leaves it unset) it is `default`."""

    variable: str
    context_key: str
    default: str = ""


@dataclass(frozen=True)
class FunctionSpec:
    """A Lambda function: its code folder, handler, what it may touch (`grants`) and its other settings."""

    name: str
    handler: str
    dependency_sets: tuple[str, ...]
    memory_mb: int
    timeout_s: int
    grants: tuple[Grant, ...]
    context_settings: tuple[ContextSetting, ...] = ()
    description: str = ""

    def declares(self, grant: type[Grant]) -> bool:
        """Whether one of its grants is a `grant` (a `WritesTable` is also a `ReadsTable`)."""
        return any(isinstance(declared, grant) for declared in self.grants)

    @property
    def service_name(self) -> str:
        """Its POWERTOOLS_SERVICE_NAME: the `service` dimension of its metrics and field of its logs."""
        return service_name(self.name)

    @property
    def code_dir(self) -> Path:
        return PROJECT_ROOT / "functions" / self.name

    @property
    def module_file(self) -> Path:
        module, _, _ = self.handler.rpartition(".")
        return self.code_dir / f"{module}.py"

    @property
    def handler_attribute(self) -> str:
        return self.handler.rpartition(".")[2]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    public: bool = False
    """Callable unsigned (no IAM auth, no API key): only for what holds the API's shape and no data."""

    @property
    def path_segments(self) -> tuple[str, ...]:
        return tuple(segment for segment in self.path.split("/") if segment)


@dataclass(frozen=True)
class StateMachineSpec:
    """An ASL file; `${<Name>FunctionArn}` placeholders are filled with the named functions' ARNs, and each
    of `resources` (placeholder -> `GrantTargets` field) with that resource. Its role gets `grants`."""

    name: str
    definition: Path
    functions: tuple[str, ...]
    resources: tuple[tuple[str, str], ...] = ()
    grants: tuple[Grant, ...] = ()

    @staticmethod
    def substitution_key(function: str) -> str:
        return f"{function.capitalize()}FunctionArn"

    def substitutions(self, function_arns: Mapping[str, str], targets: GrantTargets) -> dict[str, str]:
        """Every placeholder of the definition with its value, for CDK and the local stack alike."""
        functions = {self.substitution_key(f): function_arns[f] for f in self.functions}
        return functions | {key: str(getattr(targets, field)) for key, field in self.resources}

    def definition_with(self, substitutions: Mapping[str, str]) -> str:
        definition = self.definition.read_text()
        for key, value in substitutions.items():
            definition = definition.replace(f"${{{key}}}", value)
        return definition


@dataclass(frozen=True)
class DatasetUploadSpec:
    """An EventBridge rule on the bucket's "Object Created" events for dataset manifests, invoking a
    function asynchronously (with retries and a DLQ)."""

    name: str
    function: str
    key_pattern: str
    description: str

    def event_pattern(self, bucket_name: str) -> dict[str, Any]:
        return {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {
                "bucket": {"name": [bucket_name]},
                "object": {"key": [{"wildcard": self.key_pattern}]},
            },
        }


@dataclass(frozen=True)
class TrainerSpec:
    """The reference trainer: a script-mode source folder SageMaker runs in its PyTorch training image."""

    source: Path
    program: str
    image_repository: str
    """Repository name in the Deep Learning Containers registry of the stack's region."""
    local_key: str
    """Where the local stack puts the source archive in its bucket (CDK uses an asset)."""
    role: tuple[Grant, ...] = (TrainingJobAccess(),)


@dataclass(frozen=True)
class ScheduleSpec:
    """An EventBridge schedule that invokes a function asynchronously (with retries and a DLQ)."""

    name: str
    expression: str
    function: str
    description: str


@dataclass(frozen=True)
class TopicSpec:
    """An SNS topic: encrypted, SSL only."""

    logical_id: str
    local_name: str


@dataclass(frozen=True)
class Deployment:
    table: TableSpec
    bucket: BucketSpec
    dependency_sets: tuple[DependencySet, ...]
    functions: tuple[FunctionSpec, ...]
    routes: tuple[Route, ...]
    state_machines: tuple[StateMachineSpec, ...]
    schedules: tuple[ScheduleSpec, ...]
    alerts_topic: TopicSpec
    trainer: TrainerSpec
    dataset_upload: DatasetUploadSpec
    api_throttle_rate: float
    api_throttle_burst: int
    package_layer: Path = PROJECT_ROOT / "layers" / "lambdaops"
    """The `lambdaops` package's layer folder (it holds `python/lambdaops`)."""
    event_bus_name: str = "default"

    def function(self, name: str) -> FunctionSpec:
        return next(spec for spec in self.functions if spec.name == name)

    def state_machine(self, name: str) -> StateMachineSpec:
        return next(spec for spec in self.state_machines if spec.name == name)

    def dependency_set(self, name: str) -> DependencySet:
        return next(dep for dep in self.dependency_sets if dep.name == name)


METRICS_NAMESPACE = "lambdaops"

EVENT_SOURCE = "lambdaops.registry"
"""The `source` of every event lambdaops publishes."""


def service_name(function: str) -> str:
    """The Powertools service name of the function named `function`."""
    return f"lambdaops-{function}"


def function_environment(
    spec: FunctionSpec, targets: GrantTargets, context: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment a function runs with, in AWS and locally; keys are its `Settings` fields.

    What every function names (metrics namespace, service), what each grant adds (where its resources
    are), and each context setting: its value in `context` (by context key), else its default.
    """
    context = context or {}
    every_function = {
        "LAMBDAOPS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_SERVICE_NAME": spec.service_name,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    }
    settings = {
        setting.variable: context.get(setting.context_key, setting.default)
        for setting in spec.context_settings
    }
    return merge_environments(
        [
            ("every function", every_function),
            *((repr(grant), grant.environment(targets)) for grant in spec.grants),
            ("context settings", settings),
        ]
    )


_LAYERS = PROJECT_ROOT / "layers"

DEPLOYMENT = Deployment(
    table=TableSpec(
        logical_id="RegistryTable",
        local_name="lambdaops-registry",
        keys=KeySpec("PK", "SK"),
        indexes=(IndexSpec("GSI1", KeySpec("GSI1PK", "GSI1SK")),),
    ),
    bucket=BucketSpec(logical_id="ArtifactsBucket", local_name="lambdaops-artifacts"),
    dependency_sets=(
        DependencySet("base", _LAYERS / "base" / "requirements.txt", "Powertools and pydantic"),
        DependencySet("onnx", _LAYERS / "onnx" / "requirements.txt", "onnxruntime and numpy"),
        DependencySet("stats", _LAYERS / "stats" / "requirements.txt", "numpy and scipy (drift statistics)"),
    ),
    functions=(
        FunctionSpec(
            name="registry",
            handler="handler.lambda_handler",
            dependency_sets=("base", "onnx"),
            memory_mb=1024,
            timeout_s=60,
            grants=(WritesTable(), ReadsArtifacts(), PublishesEvents(source=EVENT_SOURCE)),
            description="Models and versions: create, register (with artifact checks), list, compare",
        ),
        FunctionSpec(
            name="promotion",
            handler="handler.lambda_handler",
            dependency_sets=("base",),
            memory_mb=512,
            timeout_s=15,
            grants=(WritesTable(), PublishesEvents(source=EVENT_SOURCE), StartsRollouts()),
            description="Stage changes with promotion gates, rollback, history, traffic splits, canaries",
        ),
        FunctionSpec(
            name="predict",
            handler="handler.lambda_handler",
            dependency_sets=("base", "onnx"),
            memory_mb=2048,
            timeout_s=30,
            grants=(ReadsTable(), ReadsArtifacts(), WritesCaptures()),
            # `cdk deploy -c lambdaops:preload-models=churn,fraud` warms those models at init.
            context_settings=(ContextSetting("LAMBDAOPS_PRELOAD_MODELS", "lambdaops:preload-models"),),
            description="ONNX inference: production, a named version, or the traffic split's pick",
        ),
        FunctionSpec(
            name="canary",
            handler="handler.lambda_handler",
            dependency_sets=("base",),
            memory_mb=512,
            timeout_s=30,
            grants=(
                WritesTable(),
                PublishesEvents(source=EVENT_SOURCE),
                ReadsPredictionMetrics(service=service_name("predict")),
            ),
            description="Steps of a canary rollout: set weight, judge metrics, restore or promote",
        ),
        FunctionSpec(
            name="drift",
            handler="handler.lambda_handler",
            dependency_sets=("base", "stats"),
            # Checks hold whole columns in memory: 1,000,000 rows of 25 features fit well within this.
            memory_mb=2048,
            timeout_s=300,
            grants=(
                WritesTable(),
                ReadsArtifacts(),
                WritesDriftResults(),
                PublishesAlerts(),
                StartsTraining(),  # retrain_on_drift: a run on the model's newest dataset
            ),
            description="Baselines, drift and data-quality checks, and the scheduled scan of captured data",
        ),
        FunctionSpec(
            name="training",
            handler="handler.lambda_handler",
            dependency_sets=("base",),
            memory_mb=512,
            timeout_s=30,
            grants=(WritesTable(), ReadsArtifacts(), StartsTraining(), ReadsTrainingJobs()),
            description="Training runs: start (API, dataset upload), list and follow them",
        ),
        FunctionSpec(
            name="pipeline",
            handler="handler.lambda_handler",
            dependency_sets=("base", "onnx"),
            # Evaluation holds the holdout rows and two models in memory.
            memory_mb=3008,
            timeout_s=600,
            grants=(
                WritesTable(),
                ReadsArtifacts(),
                WritesTrainedModels(),
                PublishesEvents(source=EVENT_SOURCE),
                ReadsTrainingJobs(),
                # SageMaker's newest PyTorch training image when written: pytorch-training:2.10.0-*-py313.
                PlansTrainingJobs(image_version="2.10.0", python_tag="py313"),
            ),
            context_settings=(
                ContextSetting(
                    "LAMBDAOPS_DEFAULT_INSTANCE_TYPE", "lambdaops:training-instance-type", "ml.g5.xlarge"
                ),
                ContextSetting("LAMBDAOPS_DEFAULT_SPOT", "lambdaops:training-spot", "true"),
                ContextSetting(
                    "LAMBDAOPS_DEFAULT_MAX_RUNTIME_SECONDS", "lambdaops:training-max-runtime", "3600"
                ),
            ),
            description="Steps of a training run: validate, evaluate, register, promote, record failures",
        ),
        FunctionSpec(
            name="operations",
            handler="handler.lambda_handler",
            dependency_sets=("base",),
            memory_mb=512,
            timeout_s=30,
            grants=(ReadsTable(), ChecksBucket(), ReadsPlatformMetrics(service=service_name("predict"))),
            description="Operations: GET /health (dependency checks) and GET /metrics (Prometheus format)",
        ),
    ),
    routes=(
        Route("POST", "/models", "registry"),
        Route("GET", "/models", "registry"),
        Route("GET", "/models/{name}", "registry"),
        Route("POST", "/models/{name}/versions", "registry"),
        Route("GET", "/models/{name}/versions", "registry"),
        Route("GET", "/models/{name}/versions/{version}", "registry"),
        Route("PATCH", "/models/{name}/versions/{version}", "registry"),
        Route("GET", "/models/{name}/compare", "registry"),
        Route("GET", "/openapi.json", "registry", public=True),
        Route("GET", "/docs", "registry", public=True),
        Route("POST", "/models/{name}/versions/{version}/stage", "promotion"),
        Route("POST", "/models/{name}/rollback", "promotion"),
        Route("GET", "/models/{name}/history", "promotion"),
        Route("GET", "/models/{name}/traffic", "promotion"),
        Route("PUT", "/models/{name}/traffic", "promotion"),
        Route("POST", "/models/{name}/canary", "promotion"),
        Route("GET", "/models/{name}/canary", "promotion"),
        Route("POST", "/models/{name}/predict", "predict"),
        Route("GET", "/health/predict", "predict"),
        Route("POST", "/models/{name}/versions/{version}/baseline", "drift"),
        Route("POST", "/models/{name}/drift", "drift"),
        Route("GET", "/models/{name}/drift", "drift"),
        Route("POST", "/training", "training"),
        Route("GET", "/training", "training"),
        Route("GET", "/training/{run_id}", "training"),
        Route("GET", "/health", "operations"),
        Route("GET", "/metrics", "operations"),
    ),
    state_machines=(
        StateMachineSpec(
            name="canary-rollout",
            definition=PROJECT_ROOT / "statemachines" / "canary_rollout.asl.json",
            functions=("canary",),
        ),
        StateMachineSpec(
            name="train-and-register",
            definition=PROJECT_ROOT / "statemachines" / "train_and_register.asl.json",
            functions=("pipeline", "drift"),
            resources=(("AlertsTopicArn", "alerts_topic_arn"),),
            grants=(RunsTrainingJobs(), PublishesAlerts()),
        ),
    ),
    schedules=(
        ScheduleSpec(
            name="drift-scan",
            expression="rate(1 hour)",
            function="drift",
            description="Checks each production version's captured traffic since the last scan for drift",
        ),
    ),
    alerts_topic=TopicSpec(logical_id="AlertsTopic", local_name="lambdaops-alerts"),
    trainer=TrainerSpec(
        source=PROJECT_ROOT / "training",
        program="train.py",
        image_repository="pytorch-training",
        local_key="code/trainer/sourcedir.tar.gz",
    ),
    dataset_upload=DatasetUploadSpec(
        name="dataset-upload",
        function="training",
        key_pattern="datasets/*/manifest.json",
        description="A dataset's manifest.json, written last, starts one training run for it",
    ),
    api_throttle_rate=100.0,
    api_throttle_burst=200,
)
