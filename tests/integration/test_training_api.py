"""`POST /training`, `GET /training`, `GET /training/{run_id}` and the upload trigger, against moto.

The state machines exist but do not execute here (decorator mode): these tests are about what is checked
and recorded before an execution, and that exactly one execution starts per run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from lambdaops_tools.demo.sample_models import FEATURES, TrainedModel
from lambdaops_tools.local.resources import LocalResources

from .conftest import Api, deploy_without_upload_trigger
from .training_data import upload_event, write_dataset

NAME = "churn"
MANIFEST = {"label": "churned", "hyperparameters": {"epochs": 4, "learning_rate": 0.01}}


@pytest.fixture
def training(api: Api, trained: TrainedModel) -> Api:
    deploy_without_upload_trigger(api.resources)
    assert api.call("POST", "/models", {"name": NAME})[0] == 201
    return api


def executions(resources: LocalResources) -> list[dict[str, Any]]:
    arn = resources.state_machine_arn("train-and-register")
    return boto3.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]


def test_a_run_starts_one_named_execution_and_is_recorded_with_the_manifests_settings(training: Api) -> None:
    uri = write_dataset(training.resources, NAME, manifest=MANIFEST)

    status, started = training.call("POST", "/training", {"model": NAME, "dataset_uri": uri, "spot": False})

    assert status == 202, started
    [execution] = executions(training.resources)
    assert (execution["name"], execution["executionArn"]) == (started["run_id"], started["execution_arn"])
    status, run = training.call("GET", f"/training/{started['run_id']}")
    assert status == 200
    assert (run["status"], run["step"], run["trigger"], run["model"]) == ("running", "Validate", "api", NAME)
    assert (run["dataset_uri"], run["label"]) == (uri, "churned")
    assert run["hyperparameters"] == {"epochs": 4, "learning_rate": 0.01}
    assert run["settings"]["spot"] is False and run["execution_arn"] == started["execution_arn"]
    assert run["metrics"] == {} and run.get("failure") is None


def test_the_request_overrides_the_manifest_and_a_dataset_without_one_needs_a_label(training: Api) -> None:
    bare = write_dataset(training.resources, NAME, "bare")
    status, reply = training.call("POST", "/training", {"model": NAME, "dataset_uri": bare})
    assert (status, reply["error"]["code"]) == (400, "InvalidInput")
    status, started = training.call(
        "POST",
        "/training",
        {"model": NAME, "dataset_uri": bare, "label": "churned", "hyperparameters": {"epochs": 2}},
    )
    assert status == 202
    run = training.call("GET", f"/training/{started['run_id']}")[1]
    assert (run["label"], run["hyperparameters"]) == ("churned", {"epochs": 2})


RANGE = {"type": "continuous", "min": 0.001, "max": 0.1, "scaling": "Logarithmic"}


def tuning(**changes: Any) -> dict[str, Any]:
    return {
        "strategy": "Random",
        "objective": {"metric": "validation:accuracy", "type": "Maximize"},
        "max_jobs": 4,
        "max_parallel_jobs": 2,
        "ranges": {"learning_rate": RANGE},
    } | changes


REFUSED: list[tuple[str, Callable[[LocalResources], dict[str, Any]], int, str]] = [
    (
        "unknown model",
        lambda r: {"model": "nope", "dataset_uri": write_dataset(r, "nope", manifest=MANIFEST)},
        404,
        "ModelNotFound",
    ),
    (
        "another model's dataset",
        lambda r: {"model": NAME, "dataset_uri": write_dataset(r, "other", manifest=MANIFEST)},
        400,
        "InvalidInput",
    ),
    (
        "no train.csv",
        lambda r: {
            "model": NAME,
            "dataset_uri": f"s3://{r.bucket_name}/datasets/{NAME}/empty/",
            "label": "churned",
        },
        404,
        "DatasetNotFound",
    ),
    (
        "missing label column",
        lambda r: {"model": NAME, "dataset_uri": write_dataset(r, NAME, manifest={"label": "gone"})},
        422,
        "DatasetInvalid",
    ),
    (
        "validation lacks a feature",
        lambda r: {
            "model": NAME,
            "dataset_uri": write_dataset(
                r, NAME, manifest=MANIFEST, files={"validation.csv": b"tenure_months,churned\n1,0\n"}
            ),
        },
        422,
        "DatasetInvalid",
    ),
    (
        "header only",
        lambda r: {
            "model": NAME,
            "dataset_uri": write_dataset(
                r,
                NAME,
                manifest=MANIFEST,
                files={"train.csv": (",".join((*FEATURES, "churned")) + "\n").encode()},
            ),
        },
        422,
        "DatasetInvalid",
    ),
    (
        "empty file",
        lambda r: {
            "model": NAME,
            "dataset_uri": write_dataset(r, NAME, manifest=MANIFEST, files={"train.csv": b""}),
        },
        422,
        "DatasetInvalid",
    ),
    (
        "manifest not JSON",
        lambda r: {"model": NAME, "dataset_uri": write_dataset(r, NAME, manifest=b"{label: churned")},
        422,
        "DatasetInvalid",
    ),
    (
        "unknown instance type",
        lambda r: {
            "model": NAME,
            "dataset_uri": write_dataset(r, NAME, manifest=MANIFEST),
            "instance_type": "ml.q9.huge",
        },
        400,
        "InvalidInput",
    ),
    (
        "min above max",
        lambda r: {
            "model": NAME,
            "dataset_uri": write_dataset(r, NAME, manifest=MANIFEST),
            "tuning": tuning(ranges={"learning_rate": RANGE | {"min": 1.0}}),
        },
        400,
        "ValidationError",
    ),
    (
        "grid over a continuous range",
        lambda r: {
            "model": NAME,
            "dataset_uri": write_dataset(r, NAME, manifest=MANIFEST),
            "tuning": tuning(strategy="Grid"),
        },
        400,
        "ValidationError",
    ),
    (
        "unknown objective",
        lambda r: {
            "model": NAME,
            "dataset_uri": write_dataset(r, NAME, manifest=MANIFEST),
            "tuning": tuning(objective={"metric": "auc", "type": "Maximize"}),
        },
        400,
        "InvalidInput",
    ),
    (
        "wrong type",
        lambda r: {
            "model": NAME,
            "dataset_uri": write_dataset(r, NAME, manifest=MANIFEST),
            "instance_count": "two",
        },
        400,
        "ValidationError",
    ),
    (
        "unknown field",
        lambda r: {"model": NAME, "dataset_uri": write_dataset(r, NAME, manifest=MANIFEST), "epochs": 3},
        400,
        "ValidationError",
    ),
    (
        "not a dataset uri",
        lambda r: {"model": NAME, "dataset_uri": "s3://elsewhere/models/x"},
        400,
        "ValidationError",
    ),
]


@pytest.mark.parametrize(("case", "body", "status", "code"), REFUSED, ids=[case[0] for case in REFUSED])
def test_what_can_be_refused_is_refused_with_a_4xx_and_starts_nothing(
    training: Api, case: str, body: Callable[[LocalResources], dict[str, Any]], status: int, code: str
) -> None:
    got, reply = training.call("POST", "/training", body(training.resources))
    assert (got, reply["error"]["code"]) == (status, code), reply
    assert executions(training.resources) == []
    assert training.call("GET", "/training")[1]["items"] == []


def test_malformed_json_is_refused(training: Api) -> None:
    status, reply = training.call("POST", "/training", raw=b'{"model": ')
    assert (status, reply["error"]["code"]) == (400, "MalformedJson")


def test_runs_list_newest_first_filtered_and_paged(training: Api) -> None:
    assert training.call("POST", "/models", {"name": "fraud"})[0] == 201
    started = []
    for model in (NAME, "fraud", NAME):
        uri = write_dataset(training.resources, model, manifest=MANIFEST)
        started.append(training.call("POST", "/training", {"model": model, "dataset_uri": uri})[1]["run_id"])

    everything = training.call("GET", "/training")[1]["items"]
    assert [run["run_id"] for run in everything] == started[::-1]
    mine = training.call("GET", f"/training?model={NAME}")[1]["items"]
    assert [run["run_id"] for run in mine] == [started[2], started[0]]
    assert training.call("GET", "/training?status=failed")[1]["items"] == []
    first = training.call("GET", "/training?limit=2")[1]
    assert len(first["items"]) == 2 and first["next_token"]
    rest = training.call("GET", f"/training?limit=2&next_token={first['next_token']}")[1]
    assert [run["run_id"] for run in rest["items"]] == [started[0]]
    status, reply = training.call("GET", "/training?next_token=garbage")
    assert (status, reply["error"]["code"]) == (400, "InvalidInput")
    status, reply = training.call("GET", "/training?status=sleeping")
    assert (status, reply["error"]["code"]) == (400, "ValidationError")


def test_an_unknown_or_malformed_run_id_is_a_clear_4xx(training: Api) -> None:
    status, reply = training.call("GET", "/training/20261201-000000-abcd")
    assert (status, reply["error"]["code"]) == (404, "RunNotFound")
    status, reply = training.call("GET", "/training/not-a-run")
    assert (status, reply["error"]["code"]) == (400, "ValidationError")


def test_an_upload_starts_one_run_per_manifest_version_however_often_it_is_delivered(training: Api) -> None:
    write_dataset(training.resources, NAME, manifest=MANIFEST)
    key = f"datasets/{NAME}/2026-12-01/manifest.json"
    function = training.functions["training"]

    first = function.invoke(upload_event(training.resources, key, "v1"))
    again = function.invoke(upload_event(training.resources, key, "v1"))
    rewritten = function.invoke(upload_event(training.resources, key, "v2"))

    assert first == again and first["started"]["run_id"] != rewritten["started"]["run_id"]
    assert len(executions(training.resources)) == 2
    run = training.call("GET", f"/training/{first['started']['run_id']}")[1]
    assert (run["trigger"], run["step"], run["label"]) == ("upload", "Validate", None)
    assert function.invoke(upload_event(training.resources, "datasets/churn/notes.txt", "v1")) == {
        "started": None
    }
    assert len(executions(training.resources)) == 2


def test_the_run_record_survives_an_execution_that_cannot_start(training: Api) -> None:
    uri = write_dataset(training.resources, NAME, manifest=MANIFEST)
    boto3.client("stepfunctions").delete_state_machine(
        stateMachineArn=training.resources.state_machine_arn("train-and-register")
    )
    status, reply = training.call("POST", "/training", {"model": NAME, "dataset_uri": uri})
    assert status == 500 and reply["error"]["code"] == "InternalError"
    [run] = training.call("GET", "/training")[1]["items"]
    assert (run["status"], run["step"]) == ("failed", "Start")
    assert (run["failure"]["step"], run["failure"]["error"]) == ("Start", "StateMachineDoesNotExist")
