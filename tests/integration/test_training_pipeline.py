"""The training machine's steps, invoked one by one as the machine invokes them (moto, no execution)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from lambdaops_tools.demo.sample_models import TrainedModel, train_logistic_regression

from .conftest import Api, deploy_without_upload_trigger
from .training_data import model_archive, put, upload_event, write_dataset

NAME = "churn"
MANIFEST = {"label": "churned", "hyperparameters": {"epochs": 4, "learning_rate": 0.01}}


@pytest.fixture
def weak() -> TrainedModel:
    return train_logistic_regression(2, dropped_features=("tenure_months", "support_tickets"))


def with_production(api: Api, production: TrainedModel | None, **model: Any) -> None:
    deploy_without_upload_trigger(api.resources)
    assert api.call("POST", "/models", {"name": NAME, **model})[0] == 201
    if production is None:
        return
    assert api.register(NAME, "1.0.0", production)[0] == 201
    for stage in ("staging", "production"):
        assert api.call("POST", f"/models/{NAME}/versions/1.0.0/stage", {"stage": stage})[0] == 200


def step(api: Api, action: str, state: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return api.functions["pipeline"].invoke({"action": action, "state": state, **extra})


def start(api: Api, **body: Any) -> tuple[str, dict[str, Any]]:
    uri = write_dataset(api.resources, NAME, manifest=MANIFEST)
    status, started = api.call("POST", "/training", {"model": NAME, "dataset_uri": uri, **body})
    assert status == 202, started
    run_id = started["run_id"]
    return run_id, step(api, "validate", {"run_id": run_id}, execution_arn=started["execution_arn"])


def run_of(api: Api, run_id: str) -> dict[str, Any]:
    status, run = api.call("GET", f"/training/{run_id}")
    assert status == 200
    return run  # type: ignore[no-any-return]


def trained_job(api: Api, state: dict[str, Any], model: TrainedModel) -> dict[str, Any]:
    """What the Train task puts at $.training once SageMaker wrote the model archive."""
    job = state["plan"]["request"]["TrainingJobName"]
    key = f"training/{state['run_id']}/output/{job}/output/model.tar.gz"
    put(api.resources, key, model_archive(model))
    return state | {
        "training": {
            "training_job": job,
            "model_artifacts": f"s3://{api.resources.bucket_name}/{key}",
            "final_metrics": [{"MetricName": "validation:accuracy", "Value": 0.91}],
        }
    }


def test_validate_plans_a_spot_training_job_with_checkpoints_channels_and_the_trainer(
    api: Api, trained: TrainedModel
) -> None:
    with_production(api, trained)
    run_id, state = start(api)
    request = state["plan"]["request"]
    bucket = api.resources.bucket_name

    assert request["TrainingJobName"] == f"lambdaops-{run_id}" and len(request["TrainingJobName"]) <= 32
    image = request["AlgorithmSpecification"]["TrainingImage"]
    assert image == "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.10.0-gpu-py313"
    assert {d["Name"] for d in request["AlgorithmSpecification"]["MetricDefinitions"]} == {
        "epoch",
        "train:loss",
        "validation:loss",
        "validation:accuracy",
    }
    assert (
        request["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge" and request["EnableManagedSpotTraining"]
    )
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert request["CheckpointConfig"]["S3Uri"] == f"s3://{bucket}/training/{run_id}/checkpoints/"
    assert [c["ChannelName"] for c in request["InputDataConfig"]] == ["train", "validation", "holdout"]
    assert request["HyperParameters"] == {
        "epochs": "4",
        "learning_rate": "0.01",
        "label": "churned",
        "sagemaker_program": "train.py",
        "sagemaker_submit_directory": f"s3://{bucket}/code/trainer/sourcedir.tar.gz",
    }
    assert state["plan"]["evaluation_uri"].endswith("/holdout.csv")
    run = run_of(api, run_id)
    assert (run["step"], run["training_job"]) == ("Train", request["TrainingJobName"])


def test_a_tuning_run_plans_a_tuning_job_whose_trials_take_the_tuned_values(
    api: Api, trained: TrainedModel
) -> None:
    with_production(api, trained)
    tuning = {
        "strategy": "Random",
        "objective": {"metric": "validation:accuracy", "type": "Maximize"},
        "max_jobs": 6,
        "max_parallel_jobs": 2,
        "ranges": {
            "learning_rate": {"type": "continuous", "min": 0.001, "max": 0.1, "scaling": "Logarithmic"},
            "hidden_units": {"type": "categorical", "values": [16, 32]},
        },
    }
    run_id, state = start(api, tuning=tuning, instance_type="ml.m5.xlarge", spot=False)
    request = state["plan"]["request"]
    config, definition = request["HyperParameterTuningJobConfig"], request["TrainingJobDefinition"]

    assert (
        state["plan"]["kind"] == "tuning" and request["HyperParameterTuningJobName"] == f"lambdaops-{run_id}"
    )
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2}
    assert config["ParameterRanges"]["ContinuousParameterRanges"] == [
        {"Name": "learning_rate", "MinValue": "0.001", "MaxValue": "0.1", "ScalingType": "Logarithmic"}
    ]
    assert config["ParameterRanges"]["CategoricalParameterRanges"] == [
        {"Name": "hidden_units", "Values": ["16", "32"]}
    ]
    assert "learning_rate" not in definition["StaticHyperParameters"]
    assert definition["AlgorithmSpecification"]["TrainingImage"].endswith(":2.10.0-cpu-py313")
    assert "CheckpointConfig" not in definition and definition["EnableManagedSpotTraining"] is False
    assert run_of(api, run_id)["step"] == "Tune"


def test_every_step_to_a_registered_staging_version_with_lineage(
    api: Api, trained: TrainedModel, weak: TrainedModel
) -> None:
    with_production(api, weak)
    run_id, state = start(api)

    state = step(api, "evaluate", trained_job(api, state, trained))
    run = run_of(api, run_id)
    assert set(run["metrics"]) == {"accuracy", "log_loss", "f1_macro"}
    assert run["metrics"]["accuracy"] > run["production_metrics"]["accuracy"]
    assert run["job_metrics"] == {"validation:accuracy": 0.91} and run["step"] == "Register"

    state = step(api, "register", state)
    version = state["registered_version"]
    assert version == "1.1.0" and run_of(api, run_id)["step"] == "Baseline"
    record = api.call("GET", f"/models/{NAME}/versions/{version}")[1]
    assert record["metrics"] == run["metrics"] and record["stage"] == "none"
    assert record["lineage"] == {
        "dataset_uri": run["dataset_uri"],
        "training_job": f"lambdaops-{run_id}",
        "tuning_job": None,
        "execution_arn": run["execution_arn"],
        "source_commit": None,
        "parent_version": "1.0.0",
    }
    assert json.loads(record["params"]["classes"]) == ["0", "1"] and record["params"]["label"] == "churned"

    baseline = api.functions["drift"].invoke(
        {"action": "baseline", "model": NAME, "version": version, "data_uri": state["plan"]["train_uri"]}
    )
    assert baseline["rows"] == 400 and baseline["baseline_uri"].startswith("s3://")

    state = step(api, "promote", state)
    run = run_of(api, run_id)
    assert (run["promoted"], run["step"]) == (True, "Notify")
    assert api.call("GET", f"/models/{NAME}/versions/{version}")[1]["stage"] == "staging"
    assert state["summary"]["subject"] == f"lambdaops: {NAME} 1.1.0 trained and promoted to staging"

    step(api, "finish", state)
    run = run_of(api, run_id)
    assert (run["status"], run["step"]) == ("succeeded", "Done") and run["ended_at"]


def test_gates_that_refuse_staging_are_the_runs_outcome_not_its_failure(
    api: Api, trained: TrainedModel
) -> None:
    with_production(api, None, policy={"thresholds": [{"metric": "accuracy", "min": 0.999}]})
    run_id, state = start(api)
    state = step(api, "register", step(api, "evaluate", trained_job(api, state, trained)))

    state = step(api, "promote", state)

    run = run_of(api, run_id)
    assert run["promoted"] is False and run["promotion"]["refusal"]["code"] == "PolicyViolation"
    assert "staging refused" in state["summary"]["subject"]
    assert api.call("GET", f"/models/{NAME}/versions/{state['registered_version']}")[1]["stage"] == "none"


def test_a_failure_is_recorded_against_the_step_the_run_was_in_with_a_readable_cause(
    api: Api, trained: TrainedModel
) -> None:
    with_production(api, trained)
    run_id, state = start(api)
    cause = {
        "TrainingJobStatus": "Failed",
        "FailureReason": "AlgorithmError: label column 'churned' is missing",
    }

    state = step(api, "fail", state | {"error": {"Error": "States.TaskFailed", "Cause": json.dumps(cause)}})

    run = run_of(api, run_id)
    assert run["status"] == "failed" and run["ended_at"]
    assert run["failure"] == {
        "step": "Train",
        "error": "States.TaskFailed",
        "cause": "job Failed: AlgorithmError: label column 'churned' is missing",
    }
    assert state["summary"]["subject"] == f"lambdaops: training run {run_id} of {NAME} failed at Train"
    assert json.loads(state["summary"]["message"])["failure"]["step"] == "Train"


def test_an_uploads_bad_manifest_fails_validate(api: Api, trained: TrainedModel) -> None:
    with_production(api, trained)
    write_dataset(api.resources, NAME, manifest=b"not json")
    key = f"datasets/{NAME}/2026-12-01/manifest.json"
    started = api.functions["training"].invoke(upload_event(api.resources, key, "v1"))["started"]

    with pytest.raises(Exception, match=r"manifest\.json is not JSON") as raised:
        step(api, "validate", {"run_id": started["run_id"]}, execution_arn=started["execution_arn"])

    lambda_error = {"errorType": type(raised.value).__name__, "errorMessage": str(raised.value)}
    step(
        api,
        "fail",
        {
            "run_id": started["run_id"],
            "error": {"Error": "DatasetInvalid", "Cause": json.dumps(lambda_error)},
        },
    )
    failure = run_of(api, started["run_id"])["failure"]
    assert (failure["step"], failure["error"]) == ("Validate", "DatasetInvalid")
    assert failure["cause"].startswith("manifest.json is not JSON")


def test_an_archive_without_the_trainers_files_fails_evaluate(api: Api, trained: TrainedModel) -> None:
    with_production(api, trained)
    _, state = start(api)
    state = trained_job(api, state, trained)
    key = state["training"]["model_artifacts"].split("/", 3)[3]
    boto3.client("s3").put_object(Bucket=api.resources.bucket_name, Key=key, Body=b"not a tarball")

    with pytest.raises(Exception, match="not a gzip tar archive"):
        step(api, "evaluate", state)
