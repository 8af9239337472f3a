"""The SageMaker jobs a run starts, as `CreateTrainingJob` / `CreateHyperParameterTuningJob` parameters.

Planned here (typed, tested) and passed field by field by the state machine's `.sync` tasks, so the ASL
carries no logic. The reference trainer (`training/`) runs in SageMaker's PyTorch training image in script
mode: `sagemaker_program` and `sagemaker_submit_directory` name its entry point and source archive.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from lambdaops.core.errors import InvalidInput
from lambdaops.training.datasets import HOLDOUT, TRAIN, VALIDATION, DatasetLayout
from lambdaops.training.schemas import HyperparameterValue, JobSettings, RunRecord, TuningConfig

JOB_PREFIX = "lambdaops-"
"""Every job's name starts with it; the state machine's role may touch only such jobs."""

METRIC_DEFINITIONS: tuple[dict[str, str], ...] = (
    {"Name": "epoch", "Regex": r"epoch=([0-9]+);"},
    {"Name": "train:loss", "Regex": r"train:loss=([-+0-9.eE]+);"},
    {"Name": "validation:loss", "Regex": r"validation:loss=([-+0-9.eE]+);"},
    {"Name": "validation:accuracy", "Regex": r"validation:accuracy=([-+0-9.eE]+);"},
)
"""What the reference trainer prints each epoch; a tuning objective names one of them."""
OBJECTIVE_METRICS = frozenset(d["Name"] for d in METRIC_DEFINITIONS) - {"epoch"}

CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
PROGRAM = "train.py"
_ACCELERATED_FAMILIES = ("ml.g", "ml.p", "ml.trn")


@dataclass(frozen=True)
class JobEnvironment:
    """Where jobs run, from the deployment: role, image, trainer source, bucket and defaults."""

    role_arn: str
    image_repository: str
    """`<account>.dkr.ecr.<region>.amazonaws.com/pytorch-training` for the stack's region."""
    image_version: str
    """Tag prefix and suffix around the device: `2.10.0` and `py313` give `2.10.0-gpu-py313`."""
    python_tag: str
    source_uri: str
    """The trainer's source archive (tar.gz), SageMaker's `sagemaker_submit_directory`."""
    bucket: str
    default_instance_type: str
    default_max_runtime_s: int
    default_spot: bool
    volume_gb: int = 30


def job_name(run_id: str) -> str:
    """≤ 32 characters, as tuning job names must be; a tuning run's trials extend it."""
    return f"{JOB_PREFIX}{run_id}"


def image_uri(environment: JobEnvironment, instance_type: str) -> str:
    device = "gpu" if instance_type.startswith(_ACCELERATED_FAMILIES) else "cpu"
    return f"{environment.image_repository}:{environment.image_version}-{device}-{environment.python_tag}"


def check_job_settings(settings: JobSettings, known_instance_types: Collection[str]) -> None:
    if settings.instance_type is not None and settings.instance_type not in known_instance_types:
        raise InvalidInput(
            f"SageMaker has no training instance type '{settings.instance_type}'",
            field="instance_type",
            reason="unknown_instance_type",
        )


def check_objective(tuning: TuningConfig | None) -> None:
    if tuning is not None and tuning.objective.metric not in OBJECTIVE_METRICS:
        raise InvalidInput(
            f"the trainer reports no metric '{tuning.objective.metric}'; "
            f"objectives: {', '.join(sorted(OBJECTIVE_METRICS))}",
            field="tuning.objective.metric",
        )


def _text(value: HyperparameterValue) -> str:
    """SageMaker hyperparameters are strings; booleans as the trainer parses them."""
    return str(value).lower() if isinstance(value, bool) else str(value)


class JobPlanner:
    def __init__(self, environment: JobEnvironment) -> None:
        self._env = environment

    def _resolved(self, settings: JobSettings) -> tuple[str, int, bool, int]:
        env = self._env
        return (
            settings.instance_type or env.default_instance_type,
            settings.instance_count or 1,
            env.default_spot if settings.spot is None else settings.spot,
            settings.max_runtime_seconds or env.default_max_runtime_s,
        )

    def _common(self, run: RunRecord, layout: DatasetLayout, tuned: bool) -> dict[str, Any]:
        instance_type, count, spot, max_runtime = self._resolved(run.settings)
        dataset = layout.dataset
        channels = [("train", TRAIN), ("validation", VALIDATION)]
        if layout.has_holdout:
            channels.append(("holdout", HOLDOUT))
        stopping: dict[str, int] = {"MaxRuntimeInSeconds": max_runtime}
        if spot:  # waiting for spot capacity counts too: twice the runtime
            stopping["MaxWaitTimeInSeconds"] = 2 * max_runtime
        common: dict[str, Any] = {
            "AlgorithmSpecification": {
                "TrainingImage": image_uri(self._env, instance_type),
                "TrainingInputMode": "File",
                "MetricDefinitions": [dict(d) for d in METRIC_DEFINITIONS],
            },
            "RoleArn": self._env.role_arn,
            "InputDataConfig": [
                {
                    "ChannelName": channel,
                    "ContentType": "text/csv",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": dataset.file_uri(name),
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                }
                for channel, name in channels
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://{self._env.bucket}/training/{run.run_id}/output/"},
            "ResourceConfig": {
                "InstanceType": instance_type,
                "InstanceCount": count,
                "VolumeSizeInGB": self._env.volume_gb,
            },
            "StoppingCondition": stopping,
            "EnableManagedSpotTraining": spot,
        }
        if not tuned:
            # Trials of one tuning job would share (and resume) one checkpoint folder: only plain jobs.
            common["CheckpointConfig"] = {
                "S3Uri": f"s3://{self._env.bucket}/training/{run.run_id}/checkpoints/",
                "LocalPath": CHECKPOINT_LOCAL_PATH,
            }
        return common

    def _hyperparameters(self, run: RunRecord, tuned: Collection[str] = ()) -> dict[str, str]:
        values = {name: _text(value) for name, value in run.hyperparameters.items() if name not in tuned}
        assert run.label is not None, "the label is resolved before a job is planned"  # nosec B101 # narrows a type for mypy; nothing runs with -O
        return values | {
            "label": run.label,
            "sagemaker_program": PROGRAM,
            "sagemaker_submit_directory": self._env.source_uri,
        }

    def training_job(self, run: RunRecord, layout: DatasetLayout) -> dict[str, Any]:
        return {
            "TrainingJobName": job_name(run.run_id),
            "HyperParameters": self._hyperparameters(run),
            **self._common(run, layout, tuned=False),
            "Tags": [
                {"Key": "lambdaops:run", "Value": run.run_id},
                {"Key": "lambdaops:model", "Value": run.model},
            ],
        }

    def tuning_job(self, run: RunRecord, layout: DatasetLayout) -> dict[str, Any]:
        tuning = run.tuning
        assert tuning is not None  # nosec B101 # narrows a type for mypy; nothing runs with -O
        config: dict[str, Any] = {
            "Strategy": tuning.strategy,
            "HyperParameterTuningJobObjective": {
                "Type": tuning.objective.type,
                "MetricName": tuning.objective.metric,
            },
            # Grid runs every combination: SageMaker takes no MaxNumberOfTrainingJobs but their number.
            "ResourceLimits": {"MaxParallelTrainingJobs": tuning.max_parallel_jobs}
            | ({"MaxNumberOfTrainingJobs": tuning.max_jobs} if tuning.max_jobs is not None else {}),
            "ParameterRanges": _parameter_ranges(tuning),
            "TrainingJobEarlyStoppingType": tuning.early_stopping,
        }
        if tuning.strategy == "Hyperband":
            epochs = int(run.hyperparameters.get("epochs", 20))
            config["StrategyConfig"] = {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": epochs}}
        definition = self._common(run, layout, tuned=True)
        definition["StaticHyperParameters"] = self._hyperparameters(run, tuned=tuning.ranges)
        return {
            "HyperParameterTuningJobName": job_name(run.run_id),
            "HyperParameterTuningJobConfig": config,
            "TrainingJobDefinition": definition,
            "Tags": [
                {"Key": "lambdaops:run", "Value": run.run_id},
                {"Key": "lambdaops:model", "Value": run.model},
            ],
        }


def _number(value: float, integer: bool) -> str:
    return str(int(value)) if integer else repr(float(value))


def _parameter_ranges(tuning: TuningConfig) -> dict[str, list[dict[str, Any]]]:
    ranges: dict[str, list[dict[str, Any]]] = {
        "ContinuousParameterRanges": [],
        "IntegerParameterRanges": [],
        "CategoricalParameterRanges": [],
    }
    for name, spec in sorted(tuning.ranges.items()):
        if spec.type == "categorical":
            assert spec.values is not None  # nosec B101 # narrows a type for mypy; nothing runs with -O
            ranges["CategoricalParameterRanges"].append(
                {"Name": name, "Values": [_text(v) for v in spec.values]}
            )
            continue
        assert spec.min is not None and spec.max is not None  # nosec B101 # narrows a type for mypy; nothing runs with -O
        integer = spec.type == "integer"
        ranges["IntegerParameterRanges" if integer else "ContinuousParameterRanges"].append(
            {
                "Name": name,
                "MinValue": _number(spec.min, integer),
                "MaxValue": _number(spec.max, integer),
                "ScalingType": spec.scaling,
            }
        )
    return ranges
