"""The local SageMaker (`sagemaker`) and its Step Functions `.sync` tasks (`sync_tasks`) on moto: each test
drives boto3 against moto and a tiny script-mode trainer, so these fail loudly when moto's internals move."""

from __future__ import annotations

import io
import itertools
import json
import re
import shutil
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from lambdaops_tools.local.sagemaker import LOG_GROUP, install_sagemaker, stop_local_training
from lambdaops_tools.local.sync_tasks import StateTaskServiceSageMaker, install_sagemaker_sync

BUCKET = "sagemaker-local-test"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"
METRICS = [
    {"Name": "epoch", "Regex": r"epoch=(\d+);"},
    {"Name": "train:loss", "Regex": r"train:loss=([0-9.]+);"},
    {"Name": "validation:loss", "Regex": r"validation:loss=([0-9.]+);"},
    {"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9.]+);"},
    {"Name": "resumed", "Regex": r"resumed_from=(\d+);"},
]
# A script-mode trainer: its accuracy peaks at lr = 0.1 and grows with each epoch.
TRAINER = r"""
import argparse, json, math, os, pathlib, sys, time

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--optimizer", default="sgd")
parser.add_argument("--fail", default="")
parser.add_argument("--gate", default="")
parser.add_argument("--epoch-seconds", type=float, default=0.0)
parser.add_argument("--checkpoint", type=int, default=0)
args, unknown = parser.parse_known_args()  # tuning adds --_tuning_objective_metric

if args.fail == "file":
    (pathlib.Path(os.environ["SM_OUTPUT_DIR"]) / "failure").write_text("bad input: 3 rows\n")
    sys.exit(2)
if args.fail == "raise":
    raise ValueError("the trainer broke")
state = pathlib.Path(os.environ["SM_CHECKPOINT_DIR"]) / "state.json"
first = 1
if state.exists():
    first = json.loads(state.read_text())["epoch"] + 1
    print(f"resumed_from={first - 1};")
score = 1.0 - abs(math.log10(args.lr) + 1) / 4 - (0.0 if args.optimizer == "adam" else 0.01)
for epoch in range(first, args.epochs + 1):
    accuracy = score * epoch / args.epochs
    print(f"epoch={epoch}; train:loss={1.1 - accuracy:.4f}; validation:loss={1 - accuracy:.4f}; "
          f"validation:accuracy={accuracy:.4f};", flush=True)
    if args.checkpoint:
        state.write_text(json.dumps({"epoch": epoch}))
    if args.gate and epoch == 1:
        while not pathlib.Path(args.gate).exists():
            time.sleep(0.02)
    time.sleep(args.epoch_seconds)
channels = {name: sorted(p.name for p in pathlib.Path(os.environ[f"SM_CHANNEL_{name.upper()}"]).iterdir())
            for name in json.loads(os.environ["SM_CHANNELS"])}
report = {"host": os.environ["SM_CURRENT_HOST"], "hosts": json.loads(os.environ["SM_HOSTS"]),
          "argv": sys.argv[1:], "unknown": unknown, "hps": json.loads(os.environ["SM_HPS"]),
          "channels": channels, "greeting": os.environ.get("GREETING"), "gpus": os.environ["SM_NUM_GPUS"],
          "master": [os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"]]}
(pathlib.Path(os.environ["SM_MODEL_DIR"]) / f"{report['host']}.json").write_text(json.dumps(report))
print(json.dumps(report), file=sys.stderr)
"""
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.10.0-cpu-py313"  # never pulled
T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], timeout_s: float = 30.0) -> T:
    """Poll `probe` until it returns something, or fail at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {probe}"
        time.sleep(0.05)


@dataclass
class Local:
    """The mocked account: its clients, the trainer's source in S3 and a folder for gate files."""

    sagemaker: Any
    s3: Any
    sfn: Any
    code_uri: str
    tmp: Path

    def training(self, name: str, **hyperparameters: Any) -> dict[str, Any]:
        """A CreateTrainingJob request for the trainer with these (string) hyperparameters."""
        return {
            "TrainingJobName": name,
            "RoleArn": ROLE,
            "AlgorithmSpecification": {
                "TrainingImage": IMAGE,
                "TrainingInputMode": "File",
                "MetricDefinitions": METRICS,
            },
            "HyperParameters": {
                "sagemaker_program": json.dumps("train.py"),
                "sagemaker_submit_directory": json.dumps(self.code_uri),
                **{key: str(value) for key, value in hyperparameters.items()},
            },
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/data/train"}
                    },
                }
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        }

    def ended(self, name: str, timeout_s: float = 30.0) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            described: dict[str, Any] = self.sagemaker.describe_training_job(TrainingJobName=name)
            return described if described["TrainingJobStatus"] in ("Completed", "Failed", "Stopped") else None

        return wait_for(probe, timeout_s)

    def tuning_ended(self, name: str, timeout_s: float = 45.0) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            described: dict[str, Any] = self.sagemaker.describe_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=name
            )
            done = described["HyperParameterTuningJobStatus"] in ("Completed", "Failed", "Stopped")
            return described if done else None

        return wait_for(probe, timeout_s)

    def artifact(self, uri: str) -> dict[str, bytes]:
        key = uri.removeprefix(f"s3://{BUCKET}/")
        body = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
            return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]

    def log_lines(self, job: str) -> dict[str, list[str]]:
        logs = boto3.client("logs")
        streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{job}/")[
            "logStreams"
        ]
        return {
            stream["logStreamName"]: [
                event["message"]
                for event in logs.get_log_events(
                    logGroupName=LOG_GROUP, logStreamName=stream["logStreamName"]
                )["events"]
            ]
            for stream in streams
        }

    def execute(self, definition: dict[str, Any], execution_input: dict[str, Any]) -> dict[str, Any]:
        """Run a state machine to its end; its describe_execution."""
        name = f"m{time.monotonic_ns()}"
        machine = self.sfn.create_state_machine(
            name=name, definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
        )["stateMachineArn"]
        execution = self.sfn.start_execution(
            stateMachineArn=machine, name="run", input=json.dumps(execution_input)
        )

        def probe() -> dict[str, Any] | None:
            described: dict[str, Any] = self.sfn.describe_execution(executionArn=execution["executionArn"])
            return described if described["status"] != "RUNNING" else None

        return wait_for(probe, 45.0)


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Local]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    source = io.BytesIO()
    with tarfile.open(fileobj=source, mode="w:gz") as tar:
        data = TRAINER.encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    # Keeping boto3's default session keeps its parsed service models: SageMaker's takes a second to load.
    config: Any = {"core": {"reset_boto3_session": False}, "stepfunctions": {"execute_state_machine": True}}
    with mock_aws(config=config):
        install_sagemaker()
        install_sagemaker_sync()
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="code/sourcedir.tar.gz", Body=source.getvalue())
        s3.put_object(Bucket=BUCKET, Key="data/train/rows.csv", Body=b"1,2\n3,4\n")
        try:
            yield Local(
                boto3.client("sagemaker"),
                s3,
                boto3.client("stepfunctions"),
                f"s3://{BUCKET}/code/sourcedir.tar.gz",
                tmp_path,
            )
        finally:
            stop_local_training()


def test_a_training_job_runs_the_script_mode_program(local: Local) -> None:
    request = local.training(
        "completed",
        epochs=3,
        lr=0.1,
        optimizer=json.dumps("adam"),  # JSON-encoded as the SageMaker SDK sends it: the program sees adam
        _tuning_objective_metric="validation:accuracy",
    )
    request["Environment"] = {"GREETING": "hello"}
    local.sagemaker.create_training_job(**request)
    assert (
        local.sagemaker.describe_training_job(TrainingJobName="completed")["TrainingJobStatus"]
        == "InProgress"
    )

    described = local.ended("completed")

    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("Completed", "Completed")
    assert [t["Status"] for t in described["SecondaryStatusTransitions"]] == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    assert described["CreationTime"] <= described["TrainingStartTime"] <= described["TrainingEndTime"]
    assert described["Environment"] == {"GREETING": "hello"}
    assert described["AlgorithmSpecification"]["MetricDefinitions"] == METRICS  # the caller's, not moto's
    uri = described["ModelArtifacts"]["S3ModelArtifacts"]
    assert uri == f"s3://{BUCKET}/output/completed/output/model.tar.gz"
    report = json.loads(local.artifact(uri)["algo-1.json"])
    assert report["argv"] == [
        "--_tuning_objective_metric",
        "validation:accuracy",
        "--epochs",
        "3",
        "--lr",
        "0.1",
        "--optimizer",
        "adam",
    ]
    assert report["unknown"] == ["--_tuning_objective_metric", "validation:accuracy"]
    assert report["hps"] == {
        "epochs": 3,
        "lr": 0.1,
        "optimizer": "adam",
        "_tuning_objective_metric": "validation:accuracy",
    }
    assert (report["channels"], report["greeting"]) == ({"train": ["rows.csv"]}, "hello")
    if shutil.which("nvidia-smi") is None:
        assert report["gpus"] == "0"  # an ml.m5 has none, and SM_NUM_GPUS counts only real ones here
    assert report["master"][0] == "127.0.0.1"
    metrics = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert metrics == {"epoch": 3.0, "train:loss": 0.1, "validation:loss": 0.0, "validation:accuracy": 1.0}
    [lines] = local.log_lines("completed").values()
    assert "epoch=2; train:loss=0.4333; validation:loss=0.3333; validation:accuracy=0.6667;" in lines


def test_metrics_are_live_while_the_job_runs(local: Local) -> None:
    gate = local.tmp / "gate"
    local.sagemaker.create_training_job(**local.training("live", epochs=2, gate=gate))

    def first_epoch() -> dict[str, Any] | None:
        described: dict[str, Any] = local.sagemaker.describe_training_job(TrainingJobName="live")
        metrics = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
        return described if metrics.get("epoch") == 1.0 else None

    running = wait_for(first_epoch)
    assert (running["TrainingJobStatus"], running["SecondaryStatus"]) == ("InProgress", "Training")
    gate.touch()
    finished = local.ended("live")
    assert {m["MetricName"]: m["Value"] for m in finished["FinalMetricDataList"]}["epoch"] == 2.0


def test_a_failure_file_is_the_failure_reason(local: Local) -> None:
    local.sagemaker.create_training_job(**local.training("fails", fail="file"))
    described = local.ended("fails")
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("Failed", "Failed")
    assert described["FailureReason"] == "AlgorithmError: bad input: 3 rows"
    assert "ModelArtifacts" not in described


def test_without_a_failure_file_the_reason_is_the_exit_code_and_stderr(local: Local) -> None:
    local.sagemaker.create_training_job(**local.training("crashes", fail="raise"))
    described = local.ended("crashes")
    assert described["TrainingJobStatus"] == "Failed"
    assert "ExitCode 1" in described["FailureReason"]
    assert "ValueError: the trainer broke" in described["FailureReason"]
    [lines] = local.log_lines("crashes").values()  # what a person debugging it reads
    assert "ValueError: the trainer broke" in lines


def test_a_channel_with_no_data_fails_the_job_as_a_client_error(local: Local) -> None:
    request = local.training("no-data")
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = f"s3://{BUCKET}/data/missing"
    local.sagemaker.create_training_job(**request)
    described = local.ended("no-data")
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("ClientError: Data download failed: No S3 objects found")


def test_max_runtime_stops_the_job(local: Local) -> None:
    request = local.training("too-slow", gate=local.tmp / "never")
    request["StoppingCondition"] = {"MaxRuntimeInSeconds": 1}
    local.sagemaker.create_training_job(**request)
    described = local.ended("too-slow")
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")


def test_stop_training_job_stops_it(local: Local) -> None:
    local.sagemaker.create_training_job(**local.training("stopped", gate=local.tmp / "never"))
    wait_for(lambda: local.sagemaker.describe_training_job(TrainingJobName="stopped")["FinalMetricDataList"])
    local.sagemaker.stop_training_job(TrainingJobName="stopped")
    described = local.ended("stopped")
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert "Stopping" in [t["Status"] for t in described["SecondaryStatusTransitions"]]
    with pytest.raises(ClientError, match="ValidationException"):
        local.sagemaker.stop_training_job(TrainingJobName="stopped")


def test_an_unknown_instance_type_is_refused(local: Local) -> None:
    request = local.training("bad-type")
    request["ResourceConfig"]["InstanceType"] = "ml.laptop.large"
    with pytest.raises(ClientError) as refused:
        local.sagemaker.create_training_job(**request)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "ml.m5.large" in refused.value.response["Error"]["Message"]  # the allowed set, from botocore


def test_a_duplicate_job_name_is_refused(local: Local) -> None:
    local.sagemaker.create_training_job(**local.training("twice"))
    with pytest.raises(ClientError) as refused:
        local.sagemaker.create_training_job(**local.training("twice", epochs=5))
    assert refused.value.response["Error"]["Code"] == "ResourceInUse"
    assert local.ended("twice")["HyperParameters"].get("epochs") is None  # the first job is untouched


def test_instance_count_two_runs_two_hosts(local: Local) -> None:
    request = local.training("two-hosts")
    request["ResourceConfig"]["InstanceCount"] = 2
    local.sagemaker.create_training_job(**request)
    described = local.ended("two-hosts")
    assert described["TrainingJobStatus"] == "Completed"
    files = local.artifact(described["ModelArtifacts"]["S3ModelArtifacts"])
    assert list(files) == ["algo-1.json"]  # rank 0's model directory
    streams = local.log_lines("two-hosts")
    assert sorted(name.split("/")[1].rsplit("-", 1)[0] for name in streams) == ["algo-1", "algo-2"]
    # Each host's JSON report (on stderr, read apart from stdout, so not always the last line logged).
    reports = [
        json.loads(next(line for line in lines if line.startswith('{"host"'))) for lines in streams.values()
    ]
    assert sorted(r["host"] for r in reports) == ["algo-1", "algo-2"]
    assert all(r["hosts"] == ["algo-1", "algo-2"] for r in reports)
    assert len({tuple(r["master"]) for r in reports}) == 1


def test_checkpoints_sync_to_s3_while_running_and_back_down_to_the_next_job(local: Local) -> None:
    checkpoints = {"S3Uri": f"s3://{BUCKET}/checkpoints/run", "LocalPath": "/opt/ml/checkpoints"}
    first = local.training("spot-1", epochs=4, checkpoint=1, gate=local.tmp / "never")
    first["CheckpointConfig"] = checkpoints
    first["StoppingCondition"] = {"MaxRuntimeInSeconds": 3}
    local.sagemaker.create_training_job(**first)

    def synced() -> bytes | None:
        try:
            return bytes(local.s3.get_object(Bucket=BUCKET, Key="checkpoints/run/state.json")["Body"].read())
        except ClientError:
            return None

    assert json.loads(wait_for(synced)) == {"epoch": 1}
    assert (
        local.sagemaker.describe_training_job(TrainingJobName="spot-1")["TrainingJobStatus"] == "InProgress"
    )
    assert local.ended("spot-1")["SecondaryStatus"] == "MaxRuntimeExceeded"

    second = local.training("spot-2", epochs=4, checkpoint=1)
    second["CheckpointConfig"] = checkpoints
    local.sagemaker.create_training_job(**second)
    described = local.ended("spot-2")
    metrics = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert (described["TrainingJobStatus"], metrics["resumed"], metrics["epoch"]) == ("Completed", 1.0, 4.0)
    assert json.loads(synced() or b"") == {"epoch": 4}


def tuning_request(local: Local, strategy: str, objective: str, kind: str, **limits: Any) -> dict[str, Any]:
    """A CreateHyperParameterTuningJob request over lr (log scale) and the optimizer."""
    training = local.training("unused", epochs=2, **{"epoch-seconds": 0.2})
    ranges: dict[str, Any] = {
        "ContinuousParameterRanges": [
            {"Name": "lr", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Logarithmic"}
        ],
        "CategoricalParameterRanges": [{"Name": "optimizer", "Values": ["adam", "sgd"]}],
    }
    return {
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {"Type": kind, "MetricName": objective},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2, **limits},
            "ParameterRanges": ranges,
            "TrainingJobEarlyStoppingType": "Off",
            "RandomSeed": 11,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": training["HyperParameters"],
            "AlgorithmSpecification": training["AlgorithmSpecification"],
            "RoleArn": ROLE,
            "InputDataConfig": training["InputDataConfig"],
            "OutputDataConfig": training["OutputDataConfig"],
            "ResourceConfig": training["ResourceConfig"],
            "StoppingCondition": training["StoppingCondition"],
        },
    }


def all_trials(local: Local, name: str, **options: Any) -> list[dict[str, Any]]:
    summaries: list[dict[str, Any]] = local.sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, MaxResults=100, **options
    )["TrainingJobSummaries"]
    return summaries


def most_at_once(intervals: list[tuple[Any, Any]]) -> int:
    """The most intervals open at one moment (one ending as another starts counts once)."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    return max(itertools.accumulate(change for _, change in events))


@pytest.mark.parametrize(
    ("objective", "kind"), [("validation:accuracy", "Maximize"), ("validation:loss", "Minimize")]
)
def test_random_tuning_respects_its_limits_and_picks_the_best(
    local: Local, objective: str, kind: str
) -> None:
    local.sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="random", **tuning_request(local, "Random", objective, kind)
    )
    described = local.tuning_ended("random")

    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["TrainingJobStatusCounters"]["Completed"] == 4
    assert described["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 0}
    trials = all_trials(local, "random", SortBy="CreationTime")
    assert [re.fullmatch(r"random-(\d{3})-[0-9a-f]{8}", t["TrainingJobName"]).group(1) for t in trials] == [  # type: ignore[union-attr]
        "001",
        "002",
        "003",
        "004",
    ]
    jobs = [local.sagemaker.describe_training_job(TrainingJobName=t["TrainingJobName"]) for t in trials]
    assert most_at_once([(job["CreationTime"], job["TrainingEndTime"]) for job in jobs]) <= 2
    for trial, job in zip(trials, jobs, strict=True):
        assert 0.001 <= float(trial["TunedHyperParameters"]["lr"]) <= 1
        assert trial["TunedHyperParameters"]["optimizer"] in ("adam", "sgd")
        assert job["HyperParameters"]["_tuning_objective_metric"] == objective
        assert job["HyperParameters"]["lr"] == trial["TunedHyperParameters"]["lr"]
        assert job["TuningJobArn"] == described["HyperParameterTuningJobArn"]
    values = {t["TrainingJobName"]: t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in trials}
    best = (max if kind == "Maximize" else min)(values, key=values.__getitem__)
    assert described["BestTrainingJob"]["TrainingJobName"] == best
    assert described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": kind,
        "MetricName": objective,
        "Value": values[best],
    }
    assert described["BestTrainingJob"]["TunedHyperParameters"] == next(
        t["TunedHyperParameters"] for t in trials if t["TrainingJobName"] == best
    )

    by_value = all_trials(local, "random", SortBy="FinalObjectiveMetricValue", SortOrder="Descending")
    ordered = [t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in by_value]
    assert ordered == sorted(values.values(), reverse=True)
    page = local.sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="random", MaxResults=3
    )
    rest = local.sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="random", MaxResults=3, NextToken=page["NextToken"]
    )
    names = [t["TrainingJobName"] for t in page["TrainingJobSummaries"] + rest["TrainingJobSummaries"]]
    assert names == sorted(values) and "NextToken" not in rest  # SortBy defaults to Name
    assert all_trials(local, "random", StatusEquals="Failed") == []


def test_grid_tuning_runs_every_combination(local: Local) -> None:
    request = tuning_request(local, "Grid", "validation:accuracy", "Maximize")
    config = request["HyperParameterTuningJobConfig"]
    config["ParameterRanges"] = {
        "CategoricalParameterRanges": [
            {"Name": "optimizer", "Values": ["adam", "sgd"]},
            {"Name": "lr", "Values": ["0.01", "0.1"]},
        ]
    }
    del config["ResourceLimits"]["MaxNumberOfTrainingJobs"]  # Grid runs as many as there are combinations
    local.sagemaker.create_hyper_parameter_tuning_job(HyperParameterTuningJobName="grid", **request)
    described = local.tuning_ended("grid")
    trials = all_trials(local, "grid")
    combinations = sorted(
        (t["TunedHyperParameters"]["optimizer"], t["TunedHyperParameters"]["lr"]) for t in trials
    )
    assert combinations == [("adam", "0.01"), ("adam", "0.1"), ("sgd", "0.01"), ("sgd", "0.1")]
    assert described["BestTrainingJob"]["TunedHyperParameters"] == {"optimizer": "adam", "lr": "0.1"}


def _grid_with_a_continuous_range(request: dict[str, Any]) -> None:
    request["HyperParameterTuningJobConfig"]["Strategy"] = "Grid"


def _grid_with_too_many_jobs(request: dict[str, Any]) -> None:
    config = request["HyperParameterTuningJobConfig"]
    config["Strategy"] = "Grid"
    config["ParameterRanges"] = {
        "CategoricalParameterRanges": [{"Name": "optimizer", "Values": ["adam", "sgd"]}]
    }


def _min_above_max(request: dict[str, Any]) -> None:
    request["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"][0][
        "MinValue"
    ] = "2"


def _log_scale_from_zero(request: dict[str, Any]) -> None:
    request["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"][0][
        "MinValue"
    ] = "0"


def _fractional_integer(request: dict[str, Any]) -> None:
    request["HyperParameterTuningJobConfig"]["ParameterRanges"]["IntegerParameterRanges"] = [
        {"Name": "epochs", "MinValue": "1.5", "MaxValue": "4"}
    ]


def _unknown_objective(request: dict[str, Any]) -> None:
    request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"] = "auc"


def _unknown_strategy(request: dict[str, Any]) -> None:
    request["HyperParameterTuningJobConfig"]["Strategy"] = "Genetic"


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (_grid_with_a_continuous_range, "categorical parameter ranges only"),
        (_grid_with_too_many_jobs, "must equal the number of distinct categorical combinations"),
        (_min_above_max, "greater than its MaxValue"),
        (_log_scale_from_zero, "greater than 0"),
        (_fractional_integer, "is not an integer"),
        (_unknown_objective, "not one of the training job definition's MetricDefinitions"),
        (_unknown_strategy, "is not one of Bayesian"),
    ],
)
def test_an_invalid_tuning_job_is_refused(
    local: Local, spoil: Callable[[dict[str, Any]], None], message: str
) -> None:
    request = tuning_request(local, "Random", "validation:accuracy", "Maximize")
    spoil(request)
    with pytest.raises(ClientError) as refused:
        local.sagemaker.create_hyper_parameter_tuning_job(HyperParameterTuningJobName="invalid", **request)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert message in refused.value.response["Error"]["Message"]


def test_bayesian_tuning_runs_its_trials(local: Local) -> None:
    local.sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="bayes",
        **tuning_request(local, "Bayesian", "validation:accuracy", "Maximize"),
    )
    described = local.tuning_ended("bayes")
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["TrainingJobStatusCounters"]["Completed"] == 4
    values = [t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in all_trials(local, "bayes")]
    assert described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == max(values)


def test_hyperband_stops_trials_that_fall_behind(local: Local) -> None:
    request = tuning_request(local, "Hyperband", "validation:accuracy", "Maximize", MaxNumberOfTrainingJobs=6)
    config = request["HyperParameterTuningJobConfig"]
    config["ResourceLimits"]["MaxParallelTrainingJobs"] = 1  # one at a time: the pruning is reproducible
    config["StrategyConfig"] = {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 3}}
    request["TrainingJobDefinition"]["StaticHyperParameters"].update({"epochs": "3", "epoch-seconds": "0.25"})
    local.sagemaker.create_hyper_parameter_tuning_job(HyperParameterTuningJobName="hyperband", **request)
    described = local.tuning_ended("hyperband")

    assert described["HyperParameterTuningJobStatus"] == "Completed"
    counters = described["TrainingJobStatusCounters"]
    assert counters["Stopped"] >= 1 and counters["Completed"] >= 1
    assert counters["Stopped"] + counters["Completed"] == 6
    for trial in all_trials(local, "hyperband", StatusEquals="Stopped"):
        job = local.sagemaker.describe_training_job(TrainingJobName=trial["TrainingJobName"])
        epochs = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}["epoch"]
        assert epochs < 3  # stopped early, not at the end
    assert described["BestTrainingJob"]["TrainingJobStatus"] == "Completed"


def test_auto_early_stopping_stops_trials_worse_than_the_median(local: Local) -> None:
    request = tuning_request(local, "Random", "validation:accuracy", "Maximize")
    config = request["HyperParameterTuningJobConfig"]
    config["TrainingJobEarlyStoppingType"] = "Auto"
    config["ResourceLimits"]["MaxParallelTrainingJobs"] = 1  # one at a time: the stopping is reproducible
    request["TrainingJobDefinition"]["StaticHyperParameters"].update({"epochs": "3", "epoch-seconds": "0.25"})
    local.sagemaker.create_hyper_parameter_tuning_job(HyperParameterTuningJobName="auto-stop", **request)
    described = local.tuning_ended("auto-stop")
    assert described["TrainingJobStatusCounters"]["Stopped"] >= 1
    best = described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    for trial in all_trials(local, "auto-stop", StatusEquals="Stopped"):
        assert trial["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] < best


def test_stopping_a_tuning_job_stops_its_trials(local: Local) -> None:
    request = tuning_request(local, "Random", "validation:accuracy", "Maximize")
    request["TrainingJobDefinition"]["StaticHyperParameters"]["gate"] = str(local.tmp / "never")
    local.sagemaker.create_hyper_parameter_tuning_job(HyperParameterTuningJobName="halted", **request)
    wait_for(
        lambda: len([t for t in all_trials(local, "halted") if t["TrainingJobStatus"] == "InProgress"]) == 2
    )
    local.sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="halted")
    described = local.tuning_ended("halted")
    assert described["HyperParameterTuningJobStatus"] == "Stopped"
    assert {t["TrainingJobStatus"] for t in all_trials(local, "halted")} == {"Stopped"}
    assert described["TrainingJobStatusCounters"]["Stopped"] == 2  # no trial was launched after the stop


def test_the_interpreter_routes_sagemaker_to_the_local_task() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory

    install_sagemaker_sync()
    install_sagemaker_sync()  # idempotent
    service_for = vars(state_task_factory)["state_task_service_for"]  # the name `state_task_for` calls
    assert isinstance(service_for(service_name="sagemaker"), StateTaskServiceSageMaker)
    assert type(service_for(service_name="sqs")).__name__ == "StateTaskServiceSqs"


def sync_training(resource: str = "arn:aws:states:::sagemaker:createTrainingJob.sync") -> dict[str, Any]:
    """A one-task state machine that trains with the request in `$.request`, catching a failed task."""
    return {
        "StartAt": "Train",
        "States": {
            "Train": {
                "Type": "Task",
                "Resource": resource,
                "Parameters": {"TrainingJobName.$": "$.name", "Request.$": "$.request"},
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Recover"}],
                "End": True,
            },
            "Recover": {"Type": "Pass", "End": True},
        },
    }


def task(definition: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """`definition` with the request's fields as the Train task's constant parameters."""
    fields = {key: value for key, value in request.items() if key != "TrainingJobName"}
    definition["States"]["Train"]["Parameters"] = {"TrainingJobName.$": "$.name", **fields}
    return definition


def test_create_training_job_sync_returns_the_describe(local: Local) -> None:
    execution = local.execute(
        task(sync_training(), local.training("unused", epochs=2)), {"name": "sfn-train"}
    )
    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert output["TrainingJobStatus"] == "Completed"
    assert (
        output["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://{BUCKET}/output/sfn-train/output/model.tar.gz"
    )
    assert {m["MetricName"]: m["Value"] for m in output["FinalMetricDataList"]}["epoch"] == 2.0
    assert isinstance(output["CreationTime"], int)  # epoch milliseconds, as Step Functions gives them


def test_a_failed_training_job_raises_a_catchable_task_failed(local: Local) -> None:
    execution = local.execute(
        task(sync_training(), local.training("unused", fail="file")), {"name": "sfn-fail"}
    )
    assert execution["status"] == "SUCCEEDED", execution  # Recover caught it
    error = json.loads(execution["output"])["error"]
    assert error["Error"] == "States.TaskFailed"
    cause = json.loads(error["Cause"])
    assert (cause["TrainingJobStatus"], cause["FailureReason"]) == (
        "Failed",
        "AlgorithmError: bad input: 3 rows",
    )


def test_a_stopped_training_job_raises_task_failed(local: Local) -> None:
    request = local.training("unused", gate=local.tmp / "never")
    request["StoppingCondition"] = {"MaxRuntimeInSeconds": 1}
    execution = local.execute(task(sync_training(), request), {"name": "sfn-slow"})
    error = json.loads(execution["output"])["error"]
    cause = json.loads(error["Cause"])
    assert (error["Error"], cause["TrainingJobStatus"], cause["SecondaryStatus"]) == (
        "States.TaskFailed",
        "Stopped",
        "MaxRuntimeExceeded",
    )


@pytest.mark.parametrize(
    ("spoil", "error"),
    [
        (
            lambda r: r["ResourceConfig"].update(InstanceType="ml.laptop.large"),
            "SageMaker.AmazonSageMakerException",
        ),
        (lambda r: None, "SageMaker.ResourceInUseException"),  # the job name is taken below
    ],
)
def test_a_sagemaker_api_error_is_catchable_by_its_aws_name(
    local: Local, spoil: Callable[[dict[str, Any]], None], error: str
) -> None:
    local.sagemaker.create_training_job(**local.training("taken"))
    request = local.training("unused")
    spoil(request)
    definition = task(sync_training(), request)
    definition["States"]["Train"]["Catch"] = [
        {"ErrorEquals": [error], "ResultPath": "$.error", "Next": "Recover"}
    ]
    execution = local.execute(definition, {"name": "taken" if "InUse" in error else "sfn-bad"})
    assert execution["status"] == "SUCCEEDED", execution
    caught = json.loads(execution["output"])["error"]
    assert caught["Error"] == error
    assert "Service: AmazonSageMaker" in caught["Cause"]


def test_create_hyper_parameter_tuning_job_sync_returns_the_best_training_job(local: Local) -> None:
    request = tuning_request(local, "Random", "validation:accuracy", "Maximize", MaxNumberOfTrainingJobs=2)
    definition = {
        "StartAt": "Tune",
        "States": {
            "Tune": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createHyperParameterTuningJob.sync",
                "Parameters": {"HyperParameterTuningJobName.$": "$.name", **request},
                "End": True,
            }
        },
    }
    execution = local.execute(definition, {"name": "sfn-tune"})
    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert output["HyperParameterTuningJobStatus"] == "Completed"
    best = output["BestTrainingJob"]
    assert best["TrainingJobName"].startswith("sfn-tune-")
    assert set(best["TunedHyperParameters"]) == {"lr", "optimizer"}


def test_request_response_and_aws_sdk_sagemaker_tasks_still_work(local: Local) -> None:
    request = local.training("unused", gate=local.tmp / "never")
    definition = {
        "StartAt": "Create",
        "States": {
            "Create": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createTrainingJob",
                "Parameters": {
                    "TrainingJobName.$": "$.name",
                    **{k: v for k, v in request.items() if k != "TrainingJobName"},
                },
                "ResultPath": "$.created",
                "Next": "Describe",
            },
            "Describe": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sagemaker:describeTrainingJob",
                "Parameters": {"TrainingJobName.$": "$.name"},
                "ResultSelector": {
                    "Status.$": "$.TrainingJobStatus"
                },  # its raw datetimes would not serialize
                "ResultPath": "$.described",
                "End": True,
            },
        },
    }
    execution = local.execute(definition, {"name": "sfn-plain"})
    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert output["created"] == {
        "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/sfn-plain"
    }
    assert output["described"] == {"Status": "InProgress"}


def test_wait_for_task_token_on_sagemaker_is_refused_as_aws_does(local: Local) -> None:
    definition = sync_training("arn:aws:states:::sagemaker:createTrainingJob.waitForTaskToken")
    with pytest.raises(ClientError) as refused:
        local.sfn.create_state_machine(
            name="token", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
        )
    # moto's parser reports InvalidDefinition with an empty error code; its message says what was refused
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "createTrainingJob.waitForTaskToken is not supported" in refused.value.response["Error"]["Message"]
