"""Training's pure pieces: requests and ranges, dataset locations and checks, job plans, metrics, causes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from pydantic import ValidationError

from lambdaops.core.errors import DatasetInvalid, DatasetNotFound, InvalidInput
from lambdaops.promotion.schemas import StepError
from lambdaops.registry.schemas import InputSchema
from lambdaops.training.datasets import (
    Dataset,
    Datasets,
    dataset_from_manifest_key,
    dataset_from_uri,
    parse_manifest,
)
from lambdaops.training.evaluation import HoldoutRows, classification_metrics
from lambdaops.training.jobs import JobEnvironment, JobPlanner, check_job_settings, image_uri
from lambdaops.training.pipeline import readable_cause
from lambdaops.training.runs import new_run_id
from lambdaops.training.schemas import JobSettings, ParameterRange, RunRecord, TrainingRequest, TuningConfig

BUCKET = "artifacts"
ENVIRONMENT = JobEnvironment(
    role_arn="arn:aws:iam::1:role/sm",
    image_repository="763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training",
    image_version="2.10.0",
    python_tag="py313",
    source_uri="s3://artifacts/code/trainer/sourcedir.tar.gz",
    bucket=BUCKET,
    default_instance_type="ml.g5.xlarge",
    default_max_runtime_s=3600,
    default_spot=True,
)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "continuous", "min": 2, "max": 1}, "greater than 'max'"),
        ({"type": "continuous", "min": 0, "max": 1, "scaling": "Logarithmic"}, "greater than 0"),
        ({"type": "continuous", "min": 0.1, "max": 2, "scaling": "ReverseLogarithmic"}, r"within \[0, 1\)"),
        ({"type": "integer", "min": 1.5, "max": 4}, "integral"),
        ({"type": "integer", "max": 4}, "takes 'min' and 'max'"),
        ({"type": "categorical", "values": [1], "min": 0}, "takes 'values'"),
        ({"type": "continuous", "min": 0, "max": math.inf}, "finite"),
    ],
)
def test_a_range_that_sagemaker_would_refuse_is_refused(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ParameterRange.model_validate(spec)


def tuning(**changes: object) -> dict[str, object]:
    return {
        "strategy": "Random",
        "objective": {"metric": "validation:accuracy", "type": "Maximize"},
        "max_jobs": 6,
        "max_parallel_jobs": 2,
        "ranges": {"learning_rate": {"type": "continuous", "min": 0.001, "max": 0.1}},
    } | changes


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"strategy": "Grid"}, "only categorical ranges"),
        ({"strategy": "Hyperband", "early_stopping": "Auto"}, "early_stopping must be 'Off'"),
        ({"max_parallel_jobs": 7}, "may not exceed max_jobs"),
        ({"strategy": "Annealing"}, "Input should be"),
    ],
)
def test_a_tuning_config_that_cannot_run_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TuningConfig.model_validate(tuning(**changes))


def test_a_grid_runs_every_combination_of_categorical_values() -> None:
    ranges = {
        "hidden_units": {"type": "categorical", "values": [16, 32, 64]},
        "dropout": {"type": "categorical", "values": [0.0, 0.2]},
    }
    config = TuningConfig.model_validate(
        tuning(strategy="Grid", ranges=ranges, max_jobs=None, max_parallel_jobs=2)
    )
    assert config.grid_size == 6 and config.max_jobs is None
    assert TuningConfig.model_validate(tuning(strategy="Grid", ranges=ranges, max_jobs=6)).max_jobs == 6
    with pytest.raises(ValidationError, match="runs 6 jobs; max_jobs must match"):
        TuningConfig.model_validate(tuning(strategy="Grid", ranges=ranges, max_jobs=4))
    with pytest.raises(ValidationError, match="Random search needs max_jobs"):
        TuningConfig.model_validate(tuning(max_jobs=None))


def test_non_finite_hyperparameters_are_refused() -> None:
    with pytest.raises(ValidationError, match="finite"):
        TrainingRequest(
            model="churn", dataset_uri="s3://b/datasets/churn/x/", hyperparameters={"lr": math.nan}
        )


def test_dataset_locations() -> None:
    assert dataset_from_uri(f"s3://{BUCKET}/datasets/churn/2026-12/", BUCKET, "churn") == Dataset(
        BUCKET, "churn", "2026-12"
    )
    for uri in (
        f"s3://{BUCKET}/datasets/fraud/x/",
        "s3://other/datasets/churn/x/",
        f"s3://{BUCKET}/datasets/churn/",
    ):
        with pytest.raises(InvalidInput):
            dataset_from_uri(uri, BUCKET, "churn")
    with pytest.raises(InvalidInput):
        dataset_from_uri(f"s3://{BUCKET}/datasets/churn/a/../b/", BUCKET, "churn")
    assert dataset_from_manifest_key(BUCKET, "datasets/churn/2026-12/manifest.json") == Dataset(
        BUCKET, "churn", "2026-12"
    )
    assert dataset_from_manifest_key(BUCKET, "datasets/churn/manifest.json") is None
    assert dataset_from_manifest_key(BUCKET, "models/churn/x/manifest.json") is None


def test_a_manifest_that_is_not_json_or_not_a_manifest_is_dataset_invalid() -> None:
    assert parse_manifest(b'{"label": "y", "instance_type": "ml.m5.large"}').instance_type == "ml.m5.large"
    with pytest.raises(DatasetInvalid, match="not JSON"):
        parse_manifest(b"{label: y")
    with pytest.raises(DatasetInvalid, match="label"):
        parse_manifest(b'{"hyperparameters": {}}')


class Files:
    """`DatasetFiles` over a dict of key -> bytes."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects

    def head(self, key: str, max_bytes: int) -> tuple[bytes, int] | None:
        data = self.objects.get(key)
        return None if data is None else (data[:max_bytes], len(data))

    def manifests(self, prefix: str) -> list[tuple[str, str]]:
        return [
            (key, f"2026-12-0{i}T00:00:00.000Z")
            for i, key in enumerate(sorted(self.objects), 1)
            if key.startswith(prefix) and key.endswith("/manifest.json")
        ]


DATASET = Dataset(BUCKET, "churn", "d1")


def datasets(**files: bytes) -> Datasets:
    return Datasets(
        Files({DATASET.key(name.replace("_", ".")): data for name, data in files.items()}), BUCKET
    )


def test_a_dataset_check_names_what_is_wrong() -> None:
    good = b"a,b,y\n1,2,0\n"
    layout = datasets(train_csv=good, validation_csv=b"b,a,y\n2,1,1\n").check(DATASET, "y")
    assert (layout.features, layout.has_holdout, layout.evaluation_file) == (
        ("a", "b"),
        False,
        "validation.csv",
    )
    with pytest.raises(DatasetNotFound, match=r"validation\.csv"):
        datasets(train_csv=good).check(DATASET, "y")
    with pytest.raises(DatasetInvalid, match=r"label column 'z' is not in train\.csv; its columns: a, b, y"):
        datasets(train_csv=good, validation_csv=good).check(DATASET, "z")
    with pytest.raises(DatasetInvalid, match=r"holdout\.csv lacks the columns b"):
        datasets(train_csv=good, validation_csv=good, holdout_csv=b"a,y\n1,0\n").check(DATASET, "y")
    with pytest.raises(DatasetInvalid, match="no data rows"):
        datasets(train_csv=b"a,b,y\n", validation_csv=good).check(DATASET, "y")
    with pytest.raises(DatasetInvalid, match="is empty"):
        datasets(train_csv=b"", validation_csv=good).check(DATASET, "y")
    with pytest.raises(DatasetInvalid, match="repeated"):
        datasets(train_csv=b"a,a,y\n1,2,0\n", validation_csv=good).check(DATASET, "y")


def test_the_newest_complete_dataset_is_the_one_whose_manifest_came_last() -> None:
    files = Files(
        {
            "datasets/churn/a/manifest.json": b"{}",
            "datasets/churn/b/manifest.json": b"{}",
            "datasets/churn/c/train.csv": b"x",
            "datasets/churnish/z/manifest.json": b"{}",
        }
    )
    assert Datasets(files, BUCKET).newest_complete("churn") == Dataset(BUCKET, "churn", "b")
    assert Datasets(files, BUCKET).newest_complete("fraud") is None


def run(**fields: object) -> RunRecord:
    values: dict[str, object] = {
        "run_id": "20261201-101010-abcd",
        "model": "churn",
        "status": "running",
        "step": "Validate",
        "trigger": "api",
        "dataset_uri": f"s3://{BUCKET}/datasets/churn/d1/",
        "label": "y",
        "hyperparameters": {"epochs": 3, "shuffle": True},
        "started_at": "2026-12-01T10:10:10.000Z",
    }
    return RunRecord.model_validate(values | fields)


def test_images_follow_the_instance_family() -> None:
    assert image_uri(ENVIRONMENT, "ml.g5.xlarge").endswith("pytorch-training:2.10.0-gpu-py313")
    assert image_uri(ENVIRONMENT, "ml.p4d.24xlarge").endswith(":2.10.0-gpu-py313")
    assert image_uri(ENVIRONMENT, "ml.m5.large").endswith(":2.10.0-cpu-py313")


def test_a_plan_without_spot_has_no_wait_time_and_booleans_are_lowercase() -> None:
    layout = datasets(train_csv=b"a,y\n1,0\n", validation_csv=b"a,y\n1,0\n").check(DATASET, "y")
    request = JobPlanner(ENVIRONMENT).training_job(
        run(settings=JobSettings(spot=False, max_runtime_seconds=600)), layout
    )
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 600}
    assert request["EnableManagedSpotTraining"] is False
    assert request["HyperParameters"]["shuffle"] == "true"
    assert [c["ChannelName"] for c in request["InputDataConfig"]] == ["train", "validation"]


def test_hyperband_gets_its_resource_bounds_from_epochs() -> None:
    layout = datasets(train_csv=b"a,y\n1,0\n", validation_csv=b"a,y\n1,0\n").check(DATASET, "y")
    config = TuningConfig.model_validate(tuning(strategy="Hyperband"))
    request = JobPlanner(ENVIRONMENT).tuning_job(run(tuning=config), layout)
    assert request["HyperParameterTuningJobConfig"]["StrategyConfig"] == {
        "HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 3}
    }


def test_an_instance_type_sagemaker_lacks_is_refused() -> None:
    check_job_settings(JobSettings(instance_type="ml.m5.large"), {"ml.m5.large"})
    with pytest.raises(InvalidInput, match=r"no training instance type 'ml\.m5\.huge'"):
        check_job_settings(JobSettings(instance_type="ml.m5.huge"), {"ml.m5.large"})


def test_run_ids_sort_by_time_and_fit_a_tuning_job_name() -> None:
    first, later = new_run_id("2026-12-01T10:10:10.000Z"), new_run_id("2026-12-01T10:10:11.000Z")
    assert first.startswith("20261201-101010-") and first < later
    assert len(f"lambdaops-{first}") <= 32


def test_classification_metrics_match_their_definitions() -> None:
    truth = np.array([0, 0, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 0])
    probabilities = np.array(
        [[0.8, 0.1, 0.1], [0.4, 0.5, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.6, 0.2, 0.2]]
    )
    metrics = classification_metrics(truth, probabilities.astype(np.float32), predicted)
    assert metrics["accuracy"] == 0.6
    # per class F1: 0 -> 2*1/(2+1+1)=0.5, 1 -> 2*2/(4+1+0)=0.8, 2 -> 0
    assert metrics["f1_macro"] == pytest.approx((0.5 + 0.8 + 0.0) / 3, abs=1e-6)
    expected = -np.mean(np.log([0.8, 0.4, 0.7, 0.8, 0.2]))
    assert metrics["log_loss"] == pytest.approx(expected, abs=1e-5)
    assert "log_loss" not in classification_metrics(truth, None, predicted)


def test_holdout_rows_encode_as_serving_does_and_name_a_bad_cell() -> None:
    schema = InputSchema.model_validate(
        {
            "features": [
                {"name": "plan", "type": "category", "categories": ["basic", "gold"]},
                {"name": "age", "type": "int"},
            ]
        }
    )
    rows = HoldoutRows(b"age,plan,y\n31,gold,1.0\n40,basic,0\n", "holdout.csv")
    assert rows.matrix(schema).tolist() == [[1.0, 31.0], [0.0, 40.0]]
    assert rows.labels("y", ["0", "1"]).tolist() == [1, 0]
    with pytest.raises(DatasetInvalid, match="row 3: 'x' is not a number"):
        HoldoutRows(b"age,plan\n31,gold\nx,basic\n", "holdout.csv").matrix(schema)
    # A category training never saw is -1, as the trainer encodes it (no one-hot slot).
    assert HoldoutRows(b"age,plan\n31,silver\n", "holdout.csv").matrix(schema).tolist() == [[-1.0, 31.0]]


def test_a_cause_reads_as_a_person_would_want_it() -> None:
    lambda_error = json.dumps(
        {"errorType": "DatasetInvalid", "errorMessage": "train.csv is empty", "stackTrace": []}
    )
    assert readable_cause(StepError(Error="DatasetInvalid", Cause=lambda_error)) == (
        "DatasetInvalid",
        "train.csv is empty",
    )
    stopped = json.dumps({"TrainingJobStatus": "Stopped", "SecondaryStatus": "MaxRuntimeExceeded"})
    assert readable_cause(StepError(Error="States.TaskFailed", Cause=stopped)) == (
        "States.TaskFailed",
        "job Stopped: MaxRuntimeExceeded",
    )
    assert readable_cause(StepError(Error="States.Timeout", Cause="plain text")) == (
        "States.Timeout",
        "plain text",
    )
