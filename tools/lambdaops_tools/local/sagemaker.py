"""moto's SageMaker records training and tuning jobs but runs none; this runs them on this machine.

`install_sagemaker` patches moto's `SageMakerModelBackend` (and `SageMakerResponse`, which drops
`Environment` and `RetryStrategy` and lacks three actions) so that:

- a training job runs its script-mode program as local processes, one per instance (`algo-1..N`), each in a
  directory standing in for `/opt/ml`, under SageMaker's contract: the code from `sagemaker_submit_directory`,
  the channels from S3, the `SM_*` variables, every other hyperparameter as `--name value`. Its output goes to
  CloudWatch Logs (`/aws/sagemaker/TrainingJobs`, a stream per instance), the caller's `MetricDefinitions`
  become a live `FinalMetricDataList`, checkpoints sync with S3 while it runs, and it ends `Completed`
  (`model.tar.gz` in S3), `Failed` (`FailureReason`) or `Stopped` (`StopTrainingJob`, `MaxRuntimeInSeconds`);
- a hyperparameter tuning job is validated as SageMaker does and runs its trials as such jobs, at most
  `MaxParallelTrainingJobs` (and this machine's cores) at a time. Random and Grid choose hyperparameters as
  SageMaker defines them; Bayesian and Hyperband are approximated with Optuna (see `_OptunaSearch`).

S3 and CloudWatch Logs are reached through moto's backends in this process, so a job runs the same under
moto's decorator and behind its server, and never reaches AWS.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import functools
import io
import itertools
import json
import logging
import math
import os
import random
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess  # nosec B404 # fixed argument lists, never a shell
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, Protocol

import botocore.session
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import camelcase_to_underscores, utcnow
from moto.logs.models import logs_backends
from moto.s3.models import FakeKey, s3_backends
from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.models import FakeTrainingJob, HyperParameterTuningJob, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse
from moto.utilities.utils import get_partition

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
_STOP_GRACE_S = 5.0  # SageMaker waits 120 s after SIGTERM; a local trainer gets 5 to save its state
_POLL_S = 0.05
_CHECKPOINT_SYNC_S = 0.5
_REASON_LIMIT = 1024  # SageMaker keeps the first 1024 characters of a failure
_STRATEGIES = ("Bayesian", "Random", "Hyperband", "Grid")
_SCALINGS = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
# Where Hyperband finds MaxResource when its config has none (SageMaker's documented keys).
_EPOCH_HYPERPARAMETERS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
# moto's `FakeTrainingJob` fields, as `CreateTrainingJob` names them.
_MOTO_TRAINING_FIELDS = (
    "TrainingJobName",
    "HyperParameters",
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "VpcConfig",
    "StoppingCondition",
    "Tags",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "DebugHookConfig",
    "DebugRuleConfigurations",
    "TensorBoardOutputConfig",
    "ExperimentConfig",
)
_BOOLEAN_FIELDS = (
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
)

_log = logging.getLogger(__name__)


@functools.cache
def _service_model() -> Any:
    return botocore.session.Session().get_service_model("sagemaker")


def training_instance_types() -> frozenset[str]:
    """SageMaker's training instance types: the API's own enum, from botocore's service model."""
    return frozenset(_service_model().shape_for("TrainingInstanceType").enum)


@functools.cache
def _gpu_count() -> int:
    """GPUs a trainer may use: SageMaker counts the instance's; locally only a real one counts."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        listed = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10, check=False).stdout  # nosec B603 # argument list built here from fixed parts, no shell
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in listed.splitlines() if line.startswith("GPU "))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _decode(value: Any) -> Any:
    """A hyperparameter as the training toolkit reads it: JSON when it parses, else the raw string."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _argument(value: Any) -> str:
    """A decoded hyperparameter on the command line, rendered as sagemaker-training's `to_cmd_args` does."""
    if isinstance(value, Mapping):
        return ",".join(f"{key}={item}" for key, item in sorted(value.items()))
    return str(value)


def _truncate(reason: str) -> str:
    return reason if len(reason) <= _REASON_LIMIT else reason[: _REASON_LIMIT - 3] + "..."


class _JobFailure(Exception):
    """A reason the job fails, worded as SageMaker reports it (`ClientError: ...`, `AlgorithmError: ...`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Uri:
        if not uri.startswith("s3://") or not uri[5:].split("/", 1)[0]:
            raise _JobFailure(f"ClientError: {uri!r} is not an S3 URI (s3://bucket/key)")
        bucket, _, key = uri[5:].partition("/")
        return cls(bucket, key)

    def join(self, *parts: str) -> str:
        """The key of `parts` under this prefix."""
        return "/".join(part.strip("/") for part in (self.key, *parts) if part.strip("/"))


class _LocalS3:
    """S3 as a training instance sees it: moto's backend in this process."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region

    def _backend(self) -> Any:
        return s3_backends[self.account_id][get_partition(self.region)]

    def read(self, uri: str) -> bytes:
        location = S3Uri.parse(uri)
        key = self._backend().get_object(location.bucket, location.key)
        if not isinstance(key, FakeKey):
            raise _JobFailure(f"ClientError: {uri} does not exist")
        return bytes(key.value)

    def download(self, uri: str, destination: Path, shard: tuple[int, int] = (0, 1)) -> int:
        """Copy every object under the prefix `uri` (this shard's share of them) into `destination`; returns
        how many objects the prefix holds."""
        location = S3Uri.parse(uri)
        bucket = self._backend().get_bucket(location.bucket)
        listed = sorted(
            (name, key)
            for name, key in bucket.keys.items()
            if name.startswith(location.key) and isinstance(key, FakeKey) and not name.endswith("/")
        )
        index, count = shard
        root = destination.resolve()
        for name, key in listed[index::count]:
            relative = name[len(location.key) :].lstrip("/") or name.rsplit("/", 1)[-1]
            target = (destination / relative).resolve()
            if not target.is_relative_to(root):
                raise _JobFailure(f"ClientError: the S3 key {name!r} would be written outside {destination}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(key.value)
        return len(listed)

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self._backend().put_object(bucket, key, data)


class _JobLog:
    """A job's output in CloudWatch Logs, a stream per instance, as SageMaker writes it."""

    _group_lock = threading.Lock()

    def __init__(self, account_id: str, region: str, job_name: str, hosts: Iterable[str]) -> None:
        self._backend = logs_backends[account_id][region]
        started = int(time.time())
        self.streams = {host: f"{job_name}/{host}-{started}" for host in hosts}
        self._lock = threading.Lock()
        with _JobLog._group_lock:
            if LOG_GROUP not in self._backend.groups:
                self._backend.create_log_group(LOG_GROUP, {})
            for stream in self.streams.values():
                self._backend.create_log_stream(LOG_GROUP, stream)

    def write(self, host: str, line: str) -> None:
        event = {"timestamp": int(time.time() * 1000), "message": line}
        with self._lock:
            self._backend.put_log_events(LOG_GROUP, self.streams[host], [event])


class TrialObserver(Protocol):
    """What a tuning job hears from its trials: each metric value as it is printed, and each end."""

    def on_metric(self, job: LocalTrainingJob, name: str, value: float) -> None: ...

    def on_end(self, job: LocalTrainingJob) -> None: ...


class LocalTrainingJob(FakeTrainingJob):
    """moto's record of a training job, kept up to date by its local run (moto's is Completed at once)."""

    def __init__(
        self,
        *,
        environment: Mapping[str, str] | None,
        retry_strategy: Mapping[str, Any] | None,
        tuning_job_arn: str | None,
        **moto_fields: Any,
    ) -> None:
        algorithm = copy.deepcopy(moto_fields["algorithm_specification"] or {})
        super().__init__(**moto_fields)  # replaces the caller's MetricDefinitions; restored below
        now = utcnow()
        self.algorithm_specification = algorithm
        self.environment = dict(environment) if environment else None
        self.retry_strategy = retry_strategy
        self.tuning_job_arn = tuning_job_arn
        self.training_job_status = "InProgress"
        self.secondary_status = "Starting"
        self.secondary_status_transitions = [
            {"Status": "Starting", "StartTime": now, "StatusMessage": "Preparing the instances for training"}
        ]
        self.creation_time = self.last_modified_time = now
        self.final_metric_data_list: list[dict[str, Any]] = []
        self.model_artifacts: dict[str, str] = {}  # none until uploaded; left out of the response
        self.failure_reason: str | None = None
        self.training_start_time: Any = None
        self.training_end_time: Any = None
        self.training_time_in_seconds: int | None = None
        self.billable_time_in_seconds: int | None = None
        self._lock = threading.Lock()
        self._run: _TrainingRun | None = None

    @property
    def response_object(self) -> dict[str, Any]:
        with self._lock:
            fields = {
                self.camelCase(name): value
                for name, value in vars(self).items()
                if not name.startswith("_") and value is not None and value not in ([None], {})
            }
            fields = copy.deepcopy(fields)
        fields["TrainingJobArn"] = fields.pop("Arn")
        return fields

    @property
    def metric_names(self) -> list[str]:
        return [
            definition["Name"] for definition in self.algorithm_specification.get("MetricDefinitions") or []
        ]

    def metric(self, name: str) -> float | None:
        """The latest value of a metric, as `FinalMetricDataList` shows it."""
        with self._lock:
            return next((m["Value"] for m in self.final_metric_data_list if m["MetricName"] == name), None)

    def record_metric(self, name: str, value: float) -> None:
        now = utcnow()
        with self._lock:
            latest = {metric["MetricName"]: metric for metric in self.final_metric_data_list}
            latest[name] = {"MetricName": name, "Value": value, "Timestamp": now}
            self.final_metric_data_list = [latest[n] for n in self.metric_names if n in latest]

    def advance(self, secondary: str, message: str) -> None:
        """Enter a secondary status (closing the one before), as `SecondaryStatusTransitions` records them."""
        with self._lock:
            self._enter(secondary, message)

    def _enter(self, secondary: str, message: str, status: str | None = None, final: bool = False) -> None:
        now = utcnow()
        transitions = list(self.secondary_status_transitions)
        if transitions and "EndTime" not in transitions[-1]:
            transitions[-1] = {**transitions[-1], "EndTime": now}
        entry = {"Status": secondary, "StartTime": now, "StatusMessage": message}
        if final:
            entry["EndTime"] = now
        self.secondary_status_transitions = [*transitions, entry]
        self.secondary_status = secondary
        self.last_modified_time = now
        if status is not None:
            self.training_job_status = status
        if secondary == "Downloading":
            self.training_start_time = now

    def request_stop(self) -> bool:
        """Mark a running job Stopping; False when it has already ended."""
        with self._lock:
            if self.training_job_status != "InProgress":
                return False
            self._enter("Stopping", "Stopping the training job", status="Stopping")
            return True

    def end(self, status: str, secondary: str, message: str, failure_reason: str | None = None) -> None:
        with self._lock:
            end = utcnow()
            started = self.training_start_time or self.creation_time
            seconds = max(1, round((end - started).total_seconds()))
            self.training_end_time = end
            self.training_time_in_seconds = self.billable_time_in_seconds = seconds
            self.failure_reason = _truncate(failure_reason) if failure_reason else None
            self._enter(secondary, message, status=status, final=True)

    def set_model_artifacts(self, uri: str) -> None:
        with self._lock:
            self.model_artifacts = {"S3ModelArtifacts": uri}


@dataclass
class _Instance:
    """One training instance: its `/opt/ml` stand-in, its process and what it printed last on stderr."""

    host: str
    root: Path
    process: subprocess.Popen[str] | None = None
    command: list[str] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list)
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    synced: dict[Path, tuple[int, int]] = field(default_factory=dict)

    @property
    def code(self) -> Path:
        return self.root / "code"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def output_data(self) -> Path:
        return self.root / "output" / "data"

    @property
    def input_data(self) -> Path:
        return self.root / "input" / "data"

    @property
    def input_config(self) -> Path:
        return self.root / "input" / "config"

    def local_path(self, container_path: str) -> Path:
        """Where a container path (`/opt/ml/...`) lives in this instance's directory."""
        relative = container_path.removeprefix("/opt/ml/") if container_path.startswith("/opt/ml/") else None
        return self.root / relative if relative else self.root / "fs" / container_path.lstrip("/")

    def make_directories(self, checkpoints: Path) -> None:
        for directory in (
            self.code,
            self.model,
            self.output_data,
            self.input_data,
            self.input_config,
            checkpoints,
        ):
            directory.mkdir(parents=True, exist_ok=True)


_active_runs: set[_TrainingRun] = set()
_active_tunings: set[_TuningRun] = set()
_registry_lock = threading.Lock()


class _TrainingRun:
    """Runs one training job on this machine, in a thread of its own, keeping its record up to date."""

    def __init__(
        self, job: LocalTrainingJob, account_id: str, region: str, observer: TrialObserver | None
    ) -> None:
        self.job = job
        self.account_id = account_id
        self.region = region
        self.observer = observer
        self.s3 = _LocalS3(account_id, region)
        self._stop = threading.Event()
        self._metrics = [
            (definition["Name"], re.compile(definition["Regex"]))
            for definition in job.algorithm_specification.get("MetricDefinitions") or []
        ]
        self._thread = threading.Thread(
            target=self._run, name=f"sagemaker-{job.training_job_name}", daemon=True
        )
        self._log: _JobLog | None = None

    def start(self) -> None:
        with _registry_lock:
            _active_runs.add(self)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout_s: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        root = Path(tempfile.mkdtemp(prefix=f"sagemaker-{self.job.training_job_name}-"))
        try:
            self._execute(root)
        except _JobFailure as failure:
            self.job.end("Failed", "Failed", "Training job failed", failure.reason)
        except ServiceException as error:  # a moto S3 or Logs error: the job's data or setup is wrong
            self.job.end(
                "Failed", "Failed", "Training job failed", f"ClientError: {error.code}: {error.message}"
            )
        except Exception as error:
            _log.exception("local training job %s crashed", self.job.training_job_name)
            self.job.end("Failed", "Failed", "Training job failed", f"InternalServerError: {error!r}")
        finally:
            shutil.rmtree(root, ignore_errors=True)
            with _registry_lock:
                _active_runs.discard(self)
            if self.observer is not None:
                self.observer.on_end(self.job)

    def _execute(self, root: Path) -> None:
        job = self.job
        job.advance("Downloading", "Downloading input data")
        max_runtime = (job.stopping_condition or {}).get("MaxRuntimeInSeconds")
        deadline = time.monotonic() + float(max_runtime) if max_runtime else None
        hosts = [f"algo-{index}" for index in range(1, int(job.resource_config.get("InstanceCount", 1)) + 1)]
        instances = [_Instance(host, root / host) for host in hosts]
        self._log = _JobLog(self.account_id, self.region, job.training_job_name, hosts)
        self._prepare(instances)
        if self._stop.is_set():
            job.end("Stopped", "Stopped", "Training job stopped")
            return
        job.advance("Training", "Training image download completed. Training in progress.")
        outcome, failed = self._train(instances, hosts, deadline)
        master = instances[0]
        if outcome == "completed":
            job.advance("Uploading", "Uploading generated training model")
            self._upload_outputs(master, always=True)
            job.end("Completed", "Completed", "Training job completed")
        elif outcome == "failed" and failed is not None:
            job.end("Failed", "Failed", "Training job failed", self._failure_reason(failed, instances))
        else:
            self._upload_outputs(master, always=False)
            if outcome == "max_runtime":
                job.end("Stopped", "MaxRuntimeExceeded", "Job stopped because max run time exceeded")
            else:
                job.end("Stopped", "Stopped", "Training job stopped")

    @functools.cached_property
    def hyperparameters(self) -> dict[str, Any]:
        return {name: _decode(value) for name, value in (self.job.hyper_parameters or {}).items()}

    @functools.cached_property
    def user_hyperparameters(self) -> dict[str, Any]:
        return {
            name: value for name, value in self.hyperparameters.items() if not name.startswith("sagemaker_")
        }

    @functools.cached_property
    def arguments(self) -> list[str]:
        arguments = []
        for name, value in sorted(self.user_hyperparameters.items()):
            arguments += [f"--{name}" if len(name) > 1 else f"-{name}", _argument(value)]
        return arguments

    @property
    def checkpoint_uri(self) -> str | None:
        return (self.job.checkpoint_config or {}).get("S3Uri")

    def _checkpoint_dir(self, instance: _Instance) -> Path:
        local_path = (self.job.checkpoint_config or {}).get("LocalPath") or "/opt/ml/checkpoints"
        return instance.local_path(local_path)

    def _prepare(self, instances: list[_Instance]) -> None:
        program = self.hyperparameters.get("sagemaker_program")
        source = self.hyperparameters.get("sagemaker_submit_directory")
        if not isinstance(program, str) or not program or not isinstance(source, str):
            raise _JobFailure(
                "ClientError: the local SageMaker runs script-mode jobs only: set the hyperparameters "
                "sagemaker_program (the entry point) and sagemaker_submit_directory (s3://.../sourcedir.tar.gz)"
            )
        code = self._code(source)
        channels = self._channels()
        for index, instance in enumerate(instances):
            checkpoints = self._checkpoint_dir(instance)
            instance.make_directories(checkpoints)
            code(instance.code)
            if not (instance.code / program).is_file():
                raise _JobFailure(f"ClientError: the entry point {program} is not in {source}")
            for name, uri, sharded in channels:
                shard = (index, len(instances)) if sharded else (0, 1)
                if self.s3.download(uri, instance.input_data / name, shard) == 0:
                    raise _JobFailure(
                        f'ClientError: Data download failed: No S3 objects found under S3 URL "{uri}" '
                        "given in input data source. Please ensure that the bucket exists in the selected "
                        f"region ({self.region}), that objects exist under that S3 prefix, and that the role "
                        "has access."
                    )
            if self.checkpoint_uri:
                self.s3.download(self.checkpoint_uri, checkpoints)
                instance.synced = _signatures(checkpoints)
            self._write_config(instance, [host.host for host in instances])

    def _code(self, source: str) -> Callable[[Path], object]:
        """A function that puts the job's source directory into an instance's code directory."""
        if source.startswith("s3://"):
            archive = self.s3.read(source)
            return functools.partial(_extract, archive)
        local = Path(source.removeprefix("file://"))
        if local.is_dir():
            return lambda target: shutil.copytree(local, target, dirs_exist_ok=True)
        if local.is_file():
            return functools.partial(_extract, local.read_bytes())
        raise _JobFailure(f"ClientError: sagemaker_submit_directory {source} does not exist")

    def _channels(self) -> list[tuple[str, str, bool]]:
        channels = []
        for channel in self.job.input_data_config or []:
            name = channel["ChannelName"]
            source = (channel.get("DataSource") or {}).get("S3DataSource")
            if source is None:
                raise _JobFailure(
                    f"ClientError: channel {name}: the local SageMaker reads S3 data sources only"
                )
            if source.get("S3DataType", "S3Prefix") != "S3Prefix":
                raise _JobFailure(
                    f"ClientError: channel {name}: the local SageMaker reads S3Prefix data only"
                )
            if channel.get("InputMode", "File") == "Pipe":
                raise _JobFailure(f"ClientError: channel {name}: the local SageMaker has no Pipe input mode")
            sharded = source.get("S3DataDistributionType") == "ShardedByS3Key"
            channels.append((name, source["S3Uri"], sharded))
        return channels

    def _write_config(self, instance: _Instance, hosts: list[str]) -> None:
        """The files SageMaker writes to `/opt/ml/input/config`, where the toolkit reads the `SM_*` values."""
        config = instance.input_config
        (config / "hyperparameters.json").write_text(json.dumps(self.job.hyper_parameters or {}))
        (config / "resourceconfig.json").write_text(json.dumps(self._resource_config(instance, hosts)))
        (config / "inputdataconfig.json").write_text(json.dumps(self._input_data_config()))

    def _resource_config(self, instance: _Instance, hosts: list[str]) -> dict[str, Any]:
        return {"current_host": instance.host, "hosts": hosts, "network_interface_name": "lo"}

    def _input_data_config(self) -> dict[str, Any]:
        return {
            channel["ChannelName"]: {
                "TrainingInputMode": channel.get("InputMode", "File"),
                "S3DistributionType": channel["DataSource"]["S3DataSource"].get(
                    "S3DataDistributionType", "FullyReplicated"
                ),
                "RecordWrapperType": channel.get("RecordWrapperType", "None"),
            }
            for channel in self.job.input_data_config or []
        }

    def _environment(self, instance: _Instance, hosts: list[str], port: int) -> dict[str, str]:
        channels = {
            channel["ChannelName"]: str(instance.input_data / channel["ChannelName"])
            for channel in self.job.input_data_config or []
        }
        program = str(self.hyperparameters["sagemaker_program"])
        module_dir = str(self.hyperparameters.get("sagemaker_submit_directory"))
        resource_config = self._resource_config(instance, hosts)
        paths = {
            "SM_MODEL_DIR": str(instance.model),
            "SM_OUTPUT_DIR": str(instance.output),
            "SM_OUTPUT_DATA_DIR": str(instance.output_data),
            "SM_INPUT_DIR": str(instance.root / "input"),
            "SM_INPUT_CONFIG_DIR": str(instance.input_config),
            "SM_CHECKPOINT_DIR": str(self._checkpoint_dir(instance)),
        }
        training_env = {
            "job_name": self.job.training_job_name,
            "hosts": hosts,
            "current_host": instance.host,
            "master_hostname": hosts[0],
            "is_master": instance.host == hosts[0],
            "hyperparameters": self.user_hyperparameters,
            "channel_input_dirs": channels,
            "num_gpus": _gpu_count(),
            "num_cpus": os.cpu_count() or 1,
            "user_entry_point": program,
            "module_dir": module_dir,
            "resource_config": resource_config,
            "input_data_config": self._input_data_config(),
            **{name.removeprefix("SM_").lower(): path for name, path in paths.items()},
        }
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(self.job.environment or {})}
        environment.update(paths)
        environment.update(
            {
                "SM_HOSTS": json.dumps(hosts),
                "SM_CURRENT_HOST": instance.host,
                "SM_NUM_GPUS": str(_gpu_count()),
                "SM_NUM_CPUS": str(os.cpu_count() or 1),
                "SM_CHANNELS": json.dumps(sorted(channels)),
                "SM_HPS": json.dumps(self.user_hyperparameters),
                "SM_USER_ARGS": json.dumps(self.arguments),
                "SM_USER_ENTRY_POINT": program,
                "SM_MODULE_DIR": module_dir,
                "SM_RESOURCE_CONFIG": json.dumps(resource_config),
                "SM_INPUT_DATA_CONFIG": json.dumps(training_env["input_data_config"]),
                "SM_TRAINING_ENV": json.dumps(training_env),
                "TRAINING_JOB_NAME": self.job.training_job_name,
                "TRAINING_JOB_ARN": self.job.arn,
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(port),
            }
        )
        environment.update({f"SM_CHANNEL_{name.upper()}": path for name, path in channels.items()})
        environment.update(
            {
                f"SM_HP_{name.upper()}": value if isinstance(value, str) else json.dumps(value)
                for name, value in self.user_hyperparameters.items()
            }
        )
        return environment

    def _train(
        self, instances: list[_Instance], hosts: list[str], deadline: float | None
    ) -> tuple[str, _Instance | None]:
        port = _free_port()
        program = str(self.hyperparameters["sagemaker_program"])
        interpreter = ["/bin/sh"] if program.endswith(".sh") else [sys.executable]
        next_sync = time.monotonic() + _CHECKPOINT_SYNC_S
        try:
            for instance in instances:
                instance.command = [*interpreter, program, *self.arguments]
                instance.process = subprocess.Popen(  # nosec B603 # argument list built here from fixed parts, no shell
                    instance.command,
                    cwd=instance.code,
                    env=self._environment(instance, hosts, port),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    encoding="utf-8",
                    errors="replace",
                    bufsize=1,
                    start_new_session=True,  # its own process group, so a stop reaches what it started
                )
                for stream, is_stderr in ((instance.process.stdout, False), (instance.process.stderr, True)):
                    reader = threading.Thread(
                        target=self._read, args=(instance, stream, is_stderr), daemon=True
                    )
                    reader.start()
                    instance.readers.append(reader)
            while True:
                codes = [instance.process.poll() if instance.process else 0 for instance in instances]
                failed = next(
                    (i for i, code in zip(instances, codes, strict=True) if code not in (None, 0)), None
                )
                if failed is not None:
                    return "failed", failed
                if all(code == 0 for code in codes):
                    return "completed", None
                if self._stop.is_set():
                    return "stopped", None
                if deadline is not None and time.monotonic() >= deadline:
                    return "max_runtime", None
                if self.checkpoint_uri and time.monotonic() >= next_sync:
                    self._sync_checkpoints(instances)
                    next_sync = time.monotonic() + _CHECKPOINT_SYNC_S
                self._stop.wait(_POLL_S)
        finally:
            _terminate([instance.process for instance in instances if instance.process is not None])
            for instance in instances:
                for reader in instance.readers:
                    reader.join(_STOP_GRACE_S)
            if self.checkpoint_uri:
                self._sync_checkpoints(instances)

    def _read(self, instance: _Instance, stream: IO[str] | None, is_stderr: bool) -> None:
        assert stream is not None  # a pipe  # nosec B101 # narrows a type for mypy; nothing runs with -O
        for raw in stream:
            line = raw.rstrip("\n")
            if is_stderr:
                instance.stderr_tail.append(line)
            try:
                if self._log is not None:
                    self._log.write(instance.host, line)
                self._match_metrics(line)
            except Exception:  # the pipe must keep draining, or the trainer blocks on a full pipe
                _log.exception("reading %s/%s failed", self.job.training_job_name, instance.host)

    def _match_metrics(self, line: str) -> None:
        for name, pattern in self._metrics:
            match = pattern.search(line)
            if match is None or not match.groups():
                continue
            try:
                value = float(match.group(1))
            except (TypeError, ValueError):
                continue
            if not math.isfinite(value):
                continue
            self.job.record_metric(name, value)
            if self.observer is not None:
                self.observer.on_metric(self.job, name, value)

    def _sync_checkpoints(self, instances: list[_Instance]) -> None:
        """Upload new and changed checkpoint files, as SageMaker syncs the checkpoint directory to S3."""
        assert self.checkpoint_uri is not None  # nosec B101 # narrows a type for mypy; nothing runs with -O
        target = S3Uri.parse(self.checkpoint_uri)
        for instance in instances:
            directory = self._checkpoint_dir(instance)
            for path, signature in _signatures(directory).items():
                if instance.synced.get(path) == signature:
                    continue
                try:
                    data = path.read_bytes()
                except OSError:
                    continue  # removed while being listed
                self.s3.put(target.bucket, target.join(path.relative_to(directory).as_posix()), data)
                instance.synced[path] = signature

    def _upload_outputs(self, master: _Instance, always: bool) -> None:
        """The model (and output data) of rank 0, where SageMaker puts them under `S3OutputPath`."""
        output = S3Uri.parse(self.job.output_data_config["S3OutputPath"])
        name = self.job.training_job_name
        if always or any(master.model.iterdir()):
            key = output.join(name, "output", "model.tar.gz")
            self.s3.put(output.bucket, key, _archive(master.model))
            self.job.set_model_artifacts(f"s3://{output.bucket}/{key}")
        if any(master.output_data.iterdir()):
            self.s3.put(
                output.bucket, output.join(name, "output", "output.tar.gz"), _archive(master.output_data)
            )

    def _failure_reason(self, failed: _Instance, instances: list[_Instance]) -> str:
        for instance in [failed, *instances]:
            failure = instance.output / "failure"
            if failure.is_file():
                text = failure.read_text(errors="replace").strip()
                if text:
                    return f"AlgorithmError: {text}"
        assert failed.process is not None  # nosec B101 # narrows a type for mypy; nothing runs with -O
        tail = "\n".join(failed.stderr_tail)[-600:]
        command = " ".join(shlex.quote(part) for part in failed.command)
        return (
            f"AlgorithmError: ExecuteUserScriptError:\nExitCode {failed.process.returncode}\n"
            f'ErrorMessage "{tail}"\nCommand "{command}"'
        )


def _signatures(directory: Path) -> dict[Path, tuple[int, int]]:
    signatures = {}
    for path in sorted(directory.rglob("*")):
        try:
            if path.is_file():
                stat = path.stat()
                signatures[path] = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            continue
    return signatures


def _extract(archive: bytes, target: Path) -> None:
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
            tar.extractall(target, filter="data")
    except tarfile.TarError as error:
        raise _JobFailure(f"ClientError: sagemaker_submit_directory is not a tar archive: {error}") from error


def _archive(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for child in sorted(directory.iterdir()):
            tar.add(child, arcname=child.name)
    return buffer.getvalue()


def _terminate(processes: list[subprocess.Popen[str]]) -> None:
    """SIGTERM the process groups still running, then SIGKILL what is left of them after the grace period,
    as SageMaker stops an instance."""
    running = [process for process in processes if process.poll() is None]
    for process in running:
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_GRACE_S
    for process in running:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(max(0.0, deadline - time.monotonic()))
        _signal_group(process, signal.SIGKILL)  # the leader's children, or the leader itself
        process.wait()


def _signal_group(process: subprocess.Popen[str], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _validate_training_request(backend: Any, fields: Mapping[str, Any]) -> None:
    name = fields["training_job_name"]
    if name in backend.training_jobs:
        arn = FakeTrainingJob.arn_formatter(name, backend.account_id, backend.region_name)
        raise ResourceInUseException(
            "Training job names must be unique within an AWS account and region, and a training job with "
            f"this name already exists ({arn})"
        )
    _validate_resource_config(fields.get("resource_config"))
    output = (fields.get("output_data_config") or {}).get("S3OutputPath", "")
    if not str(output).startswith("s3://"):
        raise ValidationError(f"OutputDataConfig.S3OutputPath must be an s3:// URI, not {output!r}")
    for definition in (fields.get("algorithm_specification") or {}).get("MetricDefinitions") or []:
        try:
            re.compile(definition["Regex"])
        except re.error as error:
            raise ValidationError(
                f"MetricDefinitions {definition['Name']}: invalid Regex: {error}"
            ) from error
    stopping = fields.get("stopping_condition") or {}
    if fields.get("enable_managed_spot_training"):
        wait, runtime = stopping.get("MaxWaitTimeInSeconds"), stopping.get("MaxRuntimeInSeconds", 86400)
        if wait is None or wait < runtime:
            raise ValidationError(
                "Invalid MaxWaitTimeInSeconds. It must be present and be greater than or equal to "
                "MaxRuntimeInSeconds for managed spot training"
            )


def _validate_resource_config(resource_config: Mapping[str, Any] | None) -> None:
    instance_type = (resource_config or {}).get("InstanceType")
    allowed = training_instance_types()
    if instance_type not in allowed:
        raise ValidationError(
            f"1 validation error detected: Value '{instance_type}' at 'resourceConfig.instanceType' failed "
            f"to satisfy constraint: Member must satisfy enum value set: [{', '.join(sorted(allowed))}]"
        )
    if int((resource_config or {}).get("InstanceCount", 1)) < 1:
        raise ValidationError("ResourceConfig.InstanceCount must be at least 1")


def _create_training_job(
    backend: Any,
    *,
    observer: TrialObserver | None = None,
    tuning_job_arn: str | None = None,
    environment: Mapping[str, str] | None = None,
    retry_strategy: Mapping[str, Any] | None = None,
    **fields: Any,
) -> LocalTrainingJob:
    """Record a training job in moto and give it a run (not yet started)."""
    moto_fields = {camelcase_to_underscores(name): None for name in _MOTO_TRAINING_FIELDS} | fields
    for name in _BOOLEAN_FIELDS:
        key = camelcase_to_underscores(name)
        moto_fields[key] = bool(moto_fields[key])
    moto_fields["hyper_parameters"] = {
        name: value if isinstance(value, str) else json.dumps(value)
        for name, value in (moto_fields["hyper_parameters"] or {}).items()
    }
    moto_fields["resource_config"] = moto_fields["resource_config"] or {}
    moto_fields["algorithm_specification"] = copy.deepcopy(moto_fields["algorithm_specification"] or {})
    _validate_training_request(backend, moto_fields)
    job = LocalTrainingJob(
        account_id=backend.account_id,
        region_name=backend.region_name,
        environment=environment,
        retry_strategy=retry_strategy,
        tuning_job_arn=tuning_job_arn,
        **moto_fields,
    )
    job._run = _TrainingRun(job, backend.account_id, backend.region_name, observer)
    backend.training_jobs[job.training_job_name] = job
    return job


def _backend_create_training_job(self: Any, **fields: Any) -> LocalTrainingJob:
    job = _create_training_job(self, **fields)
    assert job._run is not None  # nosec B101 # narrows a type for mypy; nothing runs with -O
    job._run.start()
    return job


def _backend_stop_training_job(self: Any, training_job_name: str) -> None:
    job = self.training_jobs.get(training_job_name)
    if job is None:
        raise ResourceNotFound(f"Could not find training job '{training_job_name}'.")
    if not isinstance(job, LocalTrainingJob) or job._run is None or not job.request_stop():
        raise ValidationError(
            f"The request was rejected because the training job is in status {job.training_job_status}."
        )
    job._run.stop()


@dataclass(frozen=True)
class _Range:
    """A tuned hyperparameter's range, as `ParameterRanges` declares it (Auto scaling resolved to Linear)."""

    name: str
    kind: str  # Integer | Continuous | Categorical
    low: float = 0.0
    high: float = 0.0
    scaling: str = "Linear"
    values: tuple[str, ...] = ()

    def draw(self, rng: random.Random) -> str:
        """An independent draw on the range's scale, as SageMaker's Random strategy makes."""
        if self.kind == "Categorical":
            return rng.choice(self.values)
        # Integers are drawn over [low - 0.5, high + 0.5] and rounded, so each integer is equally likely.
        low, high = (self.low - 0.5, self.high + 0.5) if self.kind == "Integer" else (self.low, self.high)
        if self.scaling == "Logarithmic":  # low > 0: validated, and an integer range starts at 1 or more
            value = math.exp(rng.uniform(math.log(low), math.log(high)))
        elif self.scaling == "ReverseLogarithmic":  # log-uniform in 1 - x, dense near 1
            value = 1 - math.exp(rng.uniform(math.log(1 - self.high), math.log(1 - self.low)))
        else:
            value = rng.uniform(low, high)
        return self.render(value)

    def render(self, value: float) -> str:
        if self.kind == "Integer":
            return str(min(int(self.high), max(int(self.low), round(value))))
        return repr(min(self.high, max(self.low, float(value))))

    def distribution(self) -> Any:
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "Categorical":
            return CategoricalDistribution(list(self.values))
        if self.kind == "Integer":
            return IntDistribution(int(self.low), int(self.high), log=self.scaling == "Logarithmic")
        if self.scaling == "ReverseLogarithmic":
            return FloatDistribution(1 - self.high, 1 - self.low, log=True)
        return FloatDistribution(self.low, self.high, log=self.scaling == "Logarithmic")

    def from_optuna(self, value: Any) -> str:
        if self.kind == "Categorical":
            return str(value)
        return self.render(1 - value if self.scaling == "ReverseLogarithmic" else value)


def _bound(text: Any, kind: str, name: str, which: str) -> float:
    try:
        value = float(int(str(text))) if kind == "Integer" else float(str(text))
    except ValueError:
        raise ValidationError(
            f"The {which} {text!r} of the {kind.lower()} hyperparameter {name!r} is not "
            + ("an integer." if kind == "Integer" else "a number.")
        ) from None
    if not math.isfinite(value):
        raise ValidationError(f"The {which} of the hyperparameter {name!r} must be finite.")
    return value


def _parse_ranges(ranges: Mapping[str, Any], strategy: str) -> list[_Range]:
    parsed: list[_Range] = []
    for kind in ("Integer", "Continuous"):
        for spec in ranges.get(f"{kind}ParameterRanges") or []:
            name, scaling = spec["Name"], spec.get("ScalingType", "Auto")
            if strategy == "Grid":
                raise ValidationError(
                    "The Grid strategy takes categorical parameter ranges only; "
                    f"{name!r} is a {kind.lower()} range."
                )
            if scaling not in _SCALINGS:
                raise ValidationError(
                    f"ScalingType {scaling!r} of {name!r} is not one of {', '.join(_SCALINGS)}."
                )
            low = _bound(spec["MinValue"], kind, name, "MinValue")
            high = _bound(spec["MaxValue"], kind, name, "MaxValue")
            if low > high:
                raise ValidationError(
                    f"The MinValue {spec['MinValue']!r} of the hyperparameter {name!r} is greater than its "
                    f"MaxValue {spec['MaxValue']!r}."
                )
            if scaling == "Logarithmic" and low <= 0:
                raise ValidationError(
                    "Logarithmic scaling works only for ranges that have values greater than 0; "
                    f"{name!r} starts at {spec['MinValue']}."
                )
            if scaling == "ReverseLogarithmic" and (kind == "Integer" or not 0 <= low <= high < 1):
                raise ValidationError(
                    "Reverse logarithmic scaling works only for continuous ranges entirely within "
                    f"0 <= x < 1.0; {name!r} is not one."
                )
            parsed.append(_Range(name, kind, low, high, "Linear" if scaling == "Auto" else scaling))
    for spec in ranges.get("CategoricalParameterRanges") or []:
        values = tuple(str(value) for value in spec.get("Values") or ())
        if not values:
            raise ValidationError(f"The categorical hyperparameter {spec['Name']!r} has no Values.")
        parsed.append(_Range(spec["Name"], "Categorical", values=values))
    names = [r.name for r in parsed]
    if not parsed:
        raise ValidationError("ParameterRanges must declare at least one hyperparameter range.")
    if len(set(names)) != len(names):
        raise ValidationError(f"A hyperparameter is declared in more than one range: {sorted(names)}.")
    return parsed


@dataclass(frozen=True)
class _Plan:
    """A validated tuning job: what to search, how, and within which limits."""

    strategy: str
    definition: dict[str, Any]
    ranges: list[_Range]
    maximize: bool
    metric: str
    total: int
    parallel: int
    early_stopping: str
    seed: int | None
    hyperband: tuple[int, int] | None
    max_runtime_s: float | None
    target: float | None
    not_improving: int | None


def _plan(config: Mapping[str, Any], definition: Mapping[str, Any] | None, definitions: Any) -> _Plan:
    strategy = config.get("Strategy")
    if strategy not in _STRATEGIES:
        raise ValidationError(f"Strategy {strategy!r} is not one of {', '.join(_STRATEGIES)}.")
    if definition is None:
        raise ValidationError(
            "The local SageMaker tunes one TrainingJobDefinition; TrainingJobDefinitions (several "
            "algorithms) are not supported."
            if definitions
            else "TrainingJobDefinition is required."
        )
    objective = config.get("HyperParameterTuningJobObjective") or definition.get("TuningObjective") or {}
    if objective.get("Type") not in ("Maximize", "Minimize"):
        raise ValidationError("HyperParameterTuningJobObjective.Type must be Maximize or Minimize.")
    metric_names = [
        d["Name"] for d in (definition.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
    ]
    if objective.get("MetricName") not in metric_names:
        raise ValidationError(
            f"The objective metric {objective.get('MetricName')!r} is not one of the training job "
            f"definition's MetricDefinitions ({', '.join(metric_names) or 'none'})."
        )
    ranges = _parse_ranges(
        config.get("ParameterRanges") or definition.get("HyperParameterRanges") or {}, strategy
    )
    static = definition.get("StaticHyperParameters") or {}
    if clash := sorted({r.name for r in ranges} & set(static)):
        raise ValidationError(f"Hyperparameters cannot be both static and tunable: {', '.join(clash)}.")
    _validate_resource_config(definition.get("ResourceConfig"))
    limits = config.get("ResourceLimits") or {}
    parallel = limits.get("MaxParallelTrainingJobs")
    if not isinstance(parallel, int) or parallel < 1:
        raise ValidationError("ResourceLimits.MaxParallelTrainingJobs must be at least 1.")
    early_stopping = config.get("TrainingJobEarlyStoppingType", "Off")
    if early_stopping not in ("Off", "Auto"):
        raise ValidationError("TrainingJobEarlyStoppingType must be Off or Auto.")
    hyperband = None
    if strategy == "Hyperband":
        if early_stopping != "Off":
            raise ValidationError("TrainingJobEarlyStoppingType must be Off for the Hyperband strategy.")
        hyperband = _hyperband_resources(config, static)
    completion = config.get("TuningJobCompletionCriteria") or {}
    target = completion.get("TargetObjectiveMetricValue")
    not_improving = (completion.get("BestObjectiveNotImproving") or {}).get(
        "MaxNumberOfTrainingJobsNotImproving"
    )
    return _Plan(
        strategy=strategy,
        definition=copy.deepcopy(dict(definition)),
        ranges=ranges,
        maximize=objective["Type"] == "Maximize",
        metric=objective["MetricName"],
        total=_trial_count(strategy, ranges, limits.get("MaxNumberOfTrainingJobs")),
        parallel=parallel,
        early_stopping=early_stopping,
        seed=config.get("RandomSeed"),
        hyperband=hyperband,
        max_runtime_s=limits.get("MaxRuntimeInSeconds"),
        target=float(target) if target is not None else None,
        not_improving=not_improving,
    )


def _trial_count(strategy: str, ranges: list[_Range], max_jobs: Any) -> int:
    if strategy == "Grid":
        combinations = math.prod(len(r.values) for r in ranges)
        if max_jobs is not None and max_jobs != combinations:  # SageMaker: it must equal the combinations
            raise ValidationError(
                f"For the Grid strategy, MaxNumberOfTrainingJobs ({max_jobs}) must equal the number of "
                f"distinct categorical combinations ({combinations}), or be left out."
            )
        return combinations
    if not isinstance(max_jobs, int) or max_jobs < 1:
        raise ValidationError(
            f"ResourceLimits.MaxNumberOfTrainingJobs is required for the {strategy} strategy."
        )
    return max_jobs


def _hyperband_resources(config: Mapping[str, Any], static: Mapping[str, str]) -> tuple[int, int]:
    settings = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig") or {}
    max_resource = settings.get("MaxResource")
    if max_resource is None:
        inferred = next((static[key] for key in _EPOCH_HYPERPARAMETERS if key in static), None)
        decoded = _decode(inferred)
        if not isinstance(decoded, int):
            raise ValidationError(
                "HyperbandStrategyConfig.MaxResource is not given and cannot be inferred from the static "
                f"hyperparameters ({', '.join(_EPOCH_HYPERPARAMETERS)})."
            )
        max_resource = decoded
    min_resource = settings.get("MinResource", 1)
    if not 1 <= min_resource <= max_resource:
        raise ValidationError("HyperbandStrategyConfig needs 1 <= MinResource <= MaxResource.")
    return int(min_resource), int(max_resource)


class _Search(Protocol):
    """Chooses each trial's hyperparameters and, for Hyperband, says when to stop one early."""

    def propose(self, number: int) -> tuple[dict[str, str], Any]: ...

    def report(self, handle: Any, step: int, value: float) -> bool: ...

    def finish(self, handle: Any, value: float | None, outcome: str) -> None: ...


class _RandomSearch:
    """SageMaker's Random strategy: every range drawn independently, on its own scale, for each trial."""

    def __init__(self, ranges: list[_Range], seed: int | None) -> None:
        self._ranges = ranges
        self._rng = random.Random(seed)  # nosec B311 # random search over hyperparameters, not security

    def propose(self, number: int) -> tuple[dict[str, str], Any]:
        return {r.name: r.draw(self._rng) for r in self._ranges}, None

    def report(self, handle: Any, step: int, value: float) -> bool:
        return False

    def finish(self, handle: Any, value: float | None, outcome: str) -> None:
        return None


class _GridSearch(_RandomSearch):
    """SageMaker's Grid strategy: each combination of the categorical values, once, in declaration order."""

    def __init__(self, ranges: list[_Range]) -> None:
        super().__init__(ranges, None)
        self._grid = list(itertools.product(*(r.values for r in ranges)))

    def propose(self, number: int) -> tuple[dict[str, str], Any]:
        return dict(zip((r.name for r in self._ranges), self._grid[number], strict=True)), None


class _OptunaSearch:
    """Approximations of SageMaker's Bayesian and Hyperband strategies, whose own algorithms are unpublished.

    Bayesian: Optuna's TPE sampler (the first half of the trials, at most 10, are random draws it learns
    from). Hyperband: random draws, with Optuna's Hyperband pruner (reduction factor 3 between MinResource
    and MaxResource) stopping trials whose intermediate objective (each value the trial prints, one per
    epoch) falls behind the others of their bracket before they have had MaxResource epochs. SageMaker's
    Hyperband also stops a trial at MaxResource; here a trial runs the epochs its hyperparameters ask for.
    """

    def __init__(self, name: str, plan: _Plan) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)  # its per-trial INFO lines would flood the stack
        self._ranges = plan.ranges
        self._max_resource = plan.hyperband[1] if plan.hyperband is not None else None
        if plan.hyperband is not None:
            sampler: Any = optuna.samplers.RandomSampler(seed=plan.seed)
            low, high = plan.hyperband
            pruner: Any = optuna.pruners.HyperbandPruner(
                min_resource=low, max_resource=high, reduction_factor=3
            )
        else:
            startup = min(10, max(1, plan.total // 2))
            sampler = optuna.samplers.TPESampler(seed=plan.seed, n_startup_trials=startup)
            pruner = optuna.pruners.NopPruner()
        direction: Literal["maximize", "minimize"] = "maximize" if plan.maximize else "minimize"
        self._study = optuna.create_study(
            study_name=name, direction=direction, sampler=sampler, pruner=pruner
        )
        self._distributions = {r.name: r.distribution() for r in plan.ranges}
        self._lock = threading.Lock()

    def propose(self, number: int) -> tuple[dict[str, str], Any]:
        with self._lock:
            trial = self._study.ask(self._distributions)
        return {r.name: r.from_optuna(trial.params[r.name]) for r in self._ranges}, trial

    def report(self, handle: Any, step: int, value: float) -> bool:
        if self._max_resource is None:
            return False
        with self._lock:
            handle.report(value, step)
            # a trial that has had MaxResource epochs is done: stopping it then would save nothing
            return step < self._max_resource and bool(handle.should_prune())

    def finish(self, handle: Any, value: float | None, outcome: str) -> None:
        from optuna.trial import TrialState

        with self._lock:
            if outcome == "Completed" and value is not None:
                self._study.tell(handle, value, skip_if_finished=True)
            elif outcome == "Pruned":
                self._study.tell(handle, state=TrialState.PRUNED, skip_if_finished=True)
            else:
                self._study.tell(handle, state=TrialState.FAIL, skip_if_finished=True)


def _search_for(name: str, plan: _Plan) -> _Search:
    if plan.strategy == "Random":
        return _RandomSearch(plan.ranges, plan.seed)
    if plan.strategy == "Grid":
        return _GridSearch(plan.ranges)
    return _OptunaSearch(name, plan)


class LocalTuningJob(HyperParameterTuningJob):
    """moto's record of a tuning job, kept up to date by its local run (moto's is Completed, best faked)."""

    def __init__(self, **moto_fields: Any) -> None:
        super().__init__(**moto_fields)
        self.hyper_parameter_tuning_job_status = "InProgress"
        self.hyper_parameter_tuning_end_time: Any = None
        # moto's types: an empty value stands for none, and `describe` leaves it out
        self.best_training_job: dict[str, object] = {}
        self.OverallBestTrainingJob: dict[str, object] = {}
        self.failure_reason = ""
        self.tuning_job_completion_details: dict[str, object] = {}
        self.consumed_resources: dict[str, int] = {}
        self.training_job_status_counters = dict.fromkeys(
            ("Completed", "InProgress", "RetryableError", "NonRetryableError", "Stopped"), 0
        )
        self.objective_status_counters = dict.fromkeys(("Succeeded", "Pending", "Failed"), 0)
        self._lock = threading.Lock()
        self._run: _TuningRun | None = None

    def describe(self) -> dict[str, Any]:
        with self._lock:
            described = copy.deepcopy(super().describe())
        return {key: value for key, value in described.items() if value not in (None, "", {})}

    def summary(self) -> dict[str, Any]:
        with self._lock:
            summarized = copy.deepcopy(super().summary())
        return {key: value for key, value in summarized.items() if value not in (None, "", {})}

    def set_fields(self, **values: Any) -> None:
        with self._lock:
            for name, value in values.items():
                setattr(self, name, value)
            self.last_modified_time = utcnow()


@dataclass
class _Trial:
    job: LocalTrainingJob
    tuned: dict[str, str]
    handle: Any
    values: list[float] = field(default_factory=list)
    stopped_early: bool = False
    ended: bool = False


class _TuningRun:
    """Runs a tuning job's trials as local training jobs, within its limits, keeping its record up to date."""

    def __init__(self, backend: Any, tuning: LocalTuningJob, plan: _Plan) -> None:
        self.backend = backend
        self.tuning = tuning
        self.plan = plan
        self.search = _search_for(tuning.hyper_parameter_tuning_job_name, plan)
        self.limit = min(plan.parallel, os.cpu_count() or 1)
        self.trials: dict[str, _Trial] = {}
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._not_improving = 0
        self._thread = threading.Thread(
            target=self._orchestrate,
            name=f"sagemaker-tuning-{tuning.hyper_parameter_tuning_job_name}",
            daemon=True,
        )

    def start(self) -> None:
        with _registry_lock:
            _active_tunings.add(self)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stop.set()
            running = [t.job for t in self.trials.values() if not t.ended]
            self._cond.notify_all()
        for job in running:
            if job.request_stop() and job._run is not None:
                job._run.stop()

    def join(self, timeout_s: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def on_metric(self, job: LocalTrainingJob, name: str, value: float) -> None:
        if name != self.plan.metric:
            return
        with self._cond:
            trial = self.trials.get(job.training_job_name)
            if trial is None or trial.stopped_early:
                return
            trial.values.append(value)
            step = len(trial.values)
            stop = self.search.report(trial.handle, step, value) or (
                self.plan.early_stopping == "Auto" and self._worse_than_median(trial, step, value)
            )
            trial.stopped_early = stop
        if stop and job._run is not None and job.request_stop():
            job._run.stop()

    def _worse_than_median(self, trial: _Trial, step: int, value: float) -> bool:
        """SageMaker's documented early-stopping rule: worse than the median of the earlier trials' running
        averages of the objective up to the same epoch (here: once one earlier trial has reached it)."""
        averages = [
            statistics.fmean(other.values[:step])
            for other in self.trials.values()
            if other is not trial and other.ended and len(other.values) >= step
        ]
        if not averages:
            return False
        median = statistics.median(averages)
        return value < median if self.plan.maximize else value > median

    def on_end(self, job: LocalTrainingJob) -> None:
        with self._cond:
            trial = self.trials[job.training_job_name]
            trial.ended = True
            value = job.metric(self.plan.metric)
            status = job.training_job_status
            outcome = "Pruned" if trial.stopped_early and status == "Stopped" else status
            self.search.finish(trial.handle, value, outcome)
            best_before = self._best()
            self._refresh()
            improved = self._best() is not best_before
            self._not_improving = 0 if improved else self._not_improving + 1
            self._cond.notify_all()

    def _running(self) -> int:
        return sum(1 for trial in self.trials.values() if not trial.ended)

    def _out_of_time(self) -> bool:
        limit = self.plan.max_runtime_s
        return limit is not None and time.monotonic() - self._started >= limit

    def _criteria_met(self) -> bool:
        best = self._best()
        if best is not None and self.plan.target is not None:
            value = best.job.metric(self.plan.metric)
            assert value is not None  # nosec B101 # narrows a type for mypy; nothing runs with -O
            if value >= self.plan.target if self.plan.maximize else value <= self.plan.target:
                return True
        return self.plan.not_improving is not None and self._not_improving >= self.plan.not_improving

    def _orchestrate(self) -> None:
        try:
            launched = 0
            while True:
                with self._cond:
                    while (
                        self._running() >= self.limit and not self._stop.is_set() and not self._out_of_time()
                    ):
                        self._cond.wait(0.5)
                    if self._out_of_time():
                        self._stop.set()
                    if self._stop.is_set() or launched >= self.plan.total or self._criteria_met():
                        break
                    tuned, handle = self.search.propose(launched)
                    launched += 1
                    job = self._create_trial(launched, tuned)
                    self.trials[job.training_job_name] = _Trial(job, tuned, handle)
                    self._refresh()
                assert job._run is not None  # nosec B101 # narrows a type for mypy; nothing runs with -O
                job._run.start()
            while True:  # the running trials end on their own, or when the tuning job stops
                if self._stop.is_set():
                    self.stop()
                with self._cond:
                    if not self._running():
                        break
                    if self._out_of_time():
                        self._stop.set()
                    else:
                        self._cond.wait(0.5)
            self._finish()
        except Exception as error:
            _log.exception("local tuning job %s crashed", self.tuning.hyper_parameter_tuning_job_name)
            self.stop()
            self._finish(f"InternalServerError: {error!r}")
        finally:
            with _registry_lock:
                _active_tunings.discard(self)

    def _create_trial(self, number: int, tuned: dict[str, str]) -> LocalTrainingJob:
        definition = self.plan.definition
        name = f"{self.tuning.hyper_parameter_tuning_job_name}-{number:03d}-{uuid.uuid4().hex[:8]}"
        return _create_training_job(
            self.backend,
            observer=self,
            tuning_job_arn=self.tuning.arn,
            environment=definition.get("Environment"),
            retry_strategy=definition.get("RetryStrategy"),
            training_job_name=name,
            hyper_parameters={
                **(definition.get("StaticHyperParameters") or {}),
                **tuned,
                "_tuning_objective_metric": self.plan.metric,
            },
            algorithm_specification=copy.deepcopy(definition["AlgorithmSpecification"]),
            role_arn=definition.get("RoleArn"),
            input_data_config=copy.deepcopy(definition.get("InputDataConfig")),
            output_data_config=copy.deepcopy(definition["OutputDataConfig"]),
            resource_config=copy.deepcopy(definition.get("ResourceConfig")),
            vpc_config=copy.deepcopy(definition.get("VpcConfig")),
            stopping_condition=copy.deepcopy(definition.get("StoppingCondition")),
            enable_network_isolation=definition.get("EnableNetworkIsolation", False),
            enable_inter_container_traffic_encryption=definition.get(
                "EnableInterContainerTrafficEncryption", False
            ),
            enable_managed_spot_training=definition.get("EnableManagedSpotTraining", False),
            checkpoint_config=copy.deepcopy(definition.get("CheckpointConfig")),
        )

    def _best(self) -> _Trial | None:
        completed = [
            (value, trial)
            for trial in self.trials.values()
            if trial.job.training_job_status == "Completed"
            and (value := trial.job.metric(self.plan.metric)) is not None
        ]
        if not completed:
            return None
        pick = max if self.plan.maximize else min
        best_value = pick(value for value, _ in completed)
        return next(trial for value, trial in completed if value == best_value)

    def summary(self, trial: _Trial) -> dict[str, Any]:
        """The trial as `HyperParameterTrainingJobSummary` describes it."""
        described = trial.job.response_object
        status = described["TrainingJobStatus"]
        # An early-stopped trial's objective counts (the tuning used it), a failed one's does not.
        value = trial.job.metric(self.plan.metric) if status in ("Completed", "Stopped") else None
        summary: dict[str, Any] = {
            "TrainingJobName": described["TrainingJobName"],
            "TrainingJobArn": described["TrainingJobArn"],
            "TuningJobName": self.tuning.hyper_parameter_tuning_job_name,
            "CreationTime": described["CreationTime"],
            "TrainingJobStatus": status,
            "TunedHyperParameters": dict(trial.tuned),
            "ObjectiveStatus": "Pending" if not trial.ended else "Failed" if value is None else "Succeeded",
        }
        for key in ("TrainingStartTime", "TrainingEndTime", "FailureReason"):
            if key in described:
                summary[key] = described[key]
        if trial.ended and value is not None:
            summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
                "Type": "Maximize" if self.plan.maximize else "Minimize",
                "MetricName": self.plan.metric,
                "Value": value,
            }
        return summary

    def _refresh(self) -> None:
        """Counters and best trial, as `DescribeHyperParameterTuningJob` shows them while the job runs."""
        statuses = dict.fromkeys(
            ("Completed", "InProgress", "RetryableError", "NonRetryableError", "Stopped"), 0
        )
        objectives = dict.fromkeys(("Succeeded", "Pending", "Failed"), 0)
        for trial in self.trials.values():
            summary = self.summary(trial)
            status = summary["TrainingJobStatus"]
            statuses[{"Failed": "NonRetryableError", "Stopping": "InProgress"}.get(status, status)] += 1
            objectives[summary["ObjectiveStatus"]] += 1
        best = self._best()
        self.tuning.set_fields(
            training_job_status_counters=statuses,
            objective_status_counters=objectives,
            best_training_job=self.summary(best) if best is not None else {},
        )

    def _finish(self, crash: str | None = None) -> None:
        with self._cond:
            self._refresh()
            statuses = [trial.job.training_job_status for trial in self.trials.values()]
        reason = crash
        if crash is not None:
            status = "Failed"
        elif self._stop.is_set():
            status = "Stopped"
        elif statuses and all(s == "Failed" for s in statuses):
            status = "Failed"
            reason = (
                f"No training job succeeded after {len(statuses)} attempts. Please take a look at the "
                "training job failures to get more details."
            )
        else:
            status = "Completed"
        self.tuning.set_fields(
            hyper_parameter_tuning_job_status=status,
            failure_reason=reason or "",
            hyper_parameter_tuning_end_time=utcnow(),
            consumed_resources={"RuntimeInSeconds": max(1, round(time.monotonic() - self._started))},
        )


def _backend_create_tuning_job(
    self: Any,
    hyper_parameter_tuning_job_name: str,
    hyper_parameter_tuning_job_config: dict[str, Any],
    training_job_definition: dict[str, Any] | None,
    training_job_definitions: list[dict[str, Any]] | None,
    warm_start_config: dict[str, Any] | None,
    tags: list[dict[str, str]] | None,
    autotune: dict[str, Any] | None,
) -> str:
    if hyper_parameter_tuning_job_name in self.hyper_parameter_tuning_jobs:
        raise ResourceInUseException(
            "Resource Already Exists: Hyper Parameter Tuning Job with name "
            f"{hyper_parameter_tuning_job_name} already exists. Choose a different name."
        )
    plan = _plan(hyper_parameter_tuning_job_config, training_job_definition, training_job_definitions)
    if warm_start_config or autotune:
        _log.warning(
            "the local SageMaker ignores WarmStartConfig and Autotune: %s starts cold", plan.strategy
        )
    tuning = LocalTuningJob(
        hyper_parameter_tuning_job_name=hyper_parameter_tuning_job_name,
        hyper_parameter_tuning_job_config=hyper_parameter_tuning_job_config,
        region_name=self.region_name,
        account_id=self.account_id,
        training_job_definition=training_job_definition,
        training_job_definitions=training_job_definitions,
        warm_start_config=warm_start_config,
        tags=tags,
        autotune=autotune,
    )
    self.hyper_parameter_tuning_jobs[hyper_parameter_tuning_job_name] = tuning
    tuning._run = _TuningRun(self, tuning, plan)
    tuning._run.start()
    return str(tuning.arn)


def _tuning_run(backend: Any, name: str) -> _TuningRun:
    tuning = backend.hyper_parameter_tuning_jobs.get(name)
    if not isinstance(tuning, LocalTuningJob) or tuning._run is None:
        raise ResourceNotFound(f"Could not find hyper parameter tuning job '{name}'.")
    return tuning._run


def _backend_stop_tuning_job(self: Any, hyper_parameter_tuning_job_name: str) -> None:
    run = _tuning_run(self, hyper_parameter_tuning_job_name)
    status = run.tuning.hyper_parameter_tuning_job_status
    if status != "InProgress":
        raise ValidationError(f"The request was rejected because the tuning job is in status {status}.")
    run.tuning.set_fields(hyper_parameter_tuning_job_status="Stopping")
    run.stop()


_SORT_BY = ("Name", "CreationTime", "Status", "FinalObjectiveMetricValue")
_TRAINING_STATUSES = ("InProgress", "Completed", "Failed", "Stopping", "Stopped")


def _backend_list_trials(
    self: Any,
    hyper_parameter_tuning_job_name: str,
    next_token: str | None = None,
    max_results: int | None = None,
    status_equals: str | None = None,
    sort_by: str | None = None,
    sort_order: str | None = None,
) -> dict[str, Any]:
    """`ListTrainingJobsForHyperParameterTuningJob`, with the API's defaults (Name, Ascending, 10 a page)."""
    run = _tuning_run(self, hyper_parameter_tuning_job_name)
    sort_by, sort_order, max_results = sort_by or "Name", sort_order or "Ascending", max_results or 10
    if sort_by not in _SORT_BY:
        raise ValidationError(f"SortBy {sort_by!r} is not one of {', '.join(_SORT_BY)}.")
    if sort_order not in ("Ascending", "Descending"):
        raise ValidationError(f"SortOrder {sort_order!r} is not Ascending or Descending.")
    if status_equals is not None and status_equals not in _TRAINING_STATUSES:
        raise ValidationError(
            f"StatusEquals {status_equals!r} is not one of {', '.join(_TRAINING_STATUSES)}."
        )
    if not 1 <= max_results <= 100:
        raise ValidationError("MaxResults must be between 1 and 100.")
    with run._cond:
        summaries = [run.summary(trial) for trial in run.trials.values()]
    if status_equals is not None:
        summaries = [s for s in summaries if s["TrainingJobStatus"] == status_equals]
    keys: dict[str, Any] = {
        "Name": lambda s: s["TrainingJobName"],
        "CreationTime": lambda s: s["CreationTime"],
        "Status": lambda s: s["TrainingJobStatus"],
        "FinalObjectiveMetricValue": lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
    }
    if sort_by == "FinalObjectiveMetricValue":  # the API lists only trials that reported the objective
        summaries = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
    summaries.sort(key=keys[sort_by], reverse=sort_order == "Descending")
    try:
        start = int(next_token or 0)
    except ValueError:
        raise ValidationError(f"Invalid NextToken {next_token!r}.") from None
    page = summaries[start : start + max_results]
    result: dict[str, Any] = {"TrainingJobSummaries": page}
    if start + max_results < len(summaries):
        result["NextToken"] = str(start + max_results)
    return result


def _response_create_training_job(self: Any) -> ActionResult:
    """moto's handler, also passing `Environment` and `RetryStrategy` (which it drops)."""
    fields = {
        camelcase_to_underscores(name): self._get_param(name, False if name in _BOOLEAN_FIELDS else None)
        for name in _MOTO_TRAINING_FIELDS
    }
    job = self.sagemaker_backend.create_training_job(
        **fields, environment=self._get_param("Environment"), retry_strategy=self._get_param("RetryStrategy")
    )
    return ActionResult({"TrainingJobArn": job.arn})


def _response_stop_training_job(self: Any) -> ActionResult:
    self.sagemaker_backend.stop_training_job(self._get_param("TrainingJobName"))
    return EmptyResult()


def _response_stop_tuning_job(self: Any) -> ActionResult:
    self.sagemaker_backend.stop_hyper_parameter_tuning_job(self._get_param("HyperParameterTuningJobName"))
    return EmptyResult()


def _response_list_trials(self: Any) -> ActionResult:
    return ActionResult(
        self.sagemaker_backend.list_training_jobs_for_hyper_parameter_tuning_job(
            hyper_parameter_tuning_job_name=self._get_param("HyperParameterTuningJobName"),
            next_token=self._get_param("NextToken"),
            max_results=self._get_int_param("MaxResults"),
            status_equals=self._get_param("StatusEquals"),
            sort_by=self._get_param("SortBy"),
            sort_order=self._get_param("SortOrder"),
        )
    )


def install_sagemaker() -> None:
    """Make moto's SageMaker run training and tuning jobs on this machine (see the module docstring)."""
    if getattr(SageMakerModelBackend, "_lambdaops_local_training", False):
        return
    backend_methods = {
        "create_training_job": _backend_create_training_job,
        "stop_training_job": _backend_stop_training_job,
        "create_hyper_parameter_tuning_job": _backend_create_tuning_job,
        "stop_hyper_parameter_tuning_job": _backend_stop_tuning_job,
        "list_training_jobs_for_hyper_parameter_tuning_job": _backend_list_trials,
    }
    response_methods = {
        "create_training_job": _response_create_training_job,
        "stop_training_job": _response_stop_training_job,
        "stop_hyper_parameter_tuning_job": _response_stop_tuning_job,
        "list_training_jobs_for_hyper_parameter_tuning_job": _response_list_trials,
    }
    for name, method in backend_methods.items():
        setattr(SageMakerModelBackend, name, method)
    for name, method in response_methods.items():  # moto dispatches an action to the method of its name
        setattr(SageMakerResponse, name, method)
    atexit.register(stop_local_training, 2 * _STOP_GRACE_S)
    setattr(SageMakerModelBackend, "_lambdaops_local_training", True)  # noqa: B010


def stop_local_training(timeout_s: float = 30.0) -> None:
    """Stop every local training and tuning job and wait for them to end: call it before the moto that holds
    their records goes away (a test's mock, the local stack's server), so no trainer outlives it."""
    with _registry_lock:
        tunings, runs = list(_active_tunings), list(_active_runs)
    for tuning in tunings:
        tuning.stop()
    for run in runs:
        run.job.request_stop()
        run.stop()
    deadline = time.monotonic() + timeout_s
    for tuning in tunings:
        tuning.join(max(0.0, deadline - time.monotonic()))
    for run in runs:
        run.join(max(0.0, deadline - time.monotonic()))
