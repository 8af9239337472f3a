"""`lambdaops` in its own process against the local stack, as a person or a script runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lambdaops_tools.demo.sample_models import train_logistic_regression
from lambdaops_tools.local.stack import free_port

from .conftest import RunningStack

MODEL = "cli-e2e"


def lambdaops(info_file: Path, *args: str, stdout: Any = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lambdaops_tools.cli", "--info-file", str(info_file), *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )


def rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()]


@pytest.fixture(scope="module")
def registered(stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> RunningStack:
    """`MODEL` with 1.0.0 in production and 1.1.0 in staging, both uploaded with `--file`."""
    model = train_logistic_regression(100)
    artifact = tmp_path_factory.mktemp("cli") / "model.onnx"
    artifact.write_bytes(model.onnx_bytes)
    metrics = json.dumps(model.metrics)
    for argv in (
        ["create", MODEL, "--tag", "team=cli", "--description", "the CLI's model"],
        ["register", MODEL, "--file", str(artifact), "--metrics", metrics, "--tag", "data=v1"],
        ["register", MODEL, "--file", str(artifact), "--bump", "minor"],
        ["promote", MODEL, "1.0.0", "staging", "--reason", "offline eval"],
        ["promote", MODEL, "1.0.0", "production"],
        ["promote", MODEL, "1.1.0", "staging"],
    ):
        done = lambdaops(stack.info_file, *argv)
        assert done.returncode == 0, done.stderr
    return stack


def test_tables_by_default(registered: RunningStack) -> None:
    models = lambdaops(registered.info_file, "models").stdout
    versions = lambdaops(registered.info_file, "versions", MODEL).stdout
    history = lambdaops(registered.info_file, "history", MODEL).stdout
    runs = lambdaops(registered.info_file, "runs", "--model", MODEL).stdout

    assert rows(models)[0] == ["NAME", "PRODUCTION", "STAGING", "LATEST", "TAGS", "DESCRIPTION"]
    assert [MODEL, "1.0.0", "1.1.0", "1.1.0", "team=cli", "the", "CLI's", "model"] in rows(models)
    assert rows(versions)[0][:3] == ["VERSION", "STAGE", "ACCURACY"]
    assert [row[:2] for row in rows(versions)[1:]] == [["1.1.0", "staging"], ["1.0.0", "production"]]
    assert rows(versions)[2][-3:-1] == ["data=v1", "-"]
    assert [row[1:5] for row in rows(history)[1:]] == [
        ["register", "1.0.0", "-", "none"],
        ["register", "1.1.0", "-", "none"],
        ["stage_change", "1.0.0", "none", "staging"],
        ["stage_change", "1.0.0", "staging", "production"],
        ["stage_change", "1.1.0", "none", "staging"],
    ]
    assert rows(history)[3][-2:] == ["offline", "eval"]
    assert runs == "no training runs\n"


def test_json_is_exactly_the_api_s_reply(registered: RunningStack) -> None:
    client = registered.client

    assert json.loads(lambdaops(registered.info_file, "--json", "versions", MODEL).stdout) == (
        client.list_versions(MODEL)
    )
    assert json.loads(lambdaops(registered.info_file, "history", MODEL, "--json").stdout) == client.history(
        MODEL
    )
    shown = json.loads(lambdaops(registered.info_file, "show", MODEL, "1.0.0", "--json").stdout)
    assert shown == client.get_version(MODEL, "1.0.0")
    assert shown["artifact_uri"].startswith(f"s3://{registered.info['bucket']}/models/{MODEL}/uploads/")


def test_update_changes_a_version_s_tags_and_description(registered: RunningStack) -> None:
    done = lambdaops(
        registered.info_file, "update", MODEL, "1.1.0", "--tag", "owner=ana", "--description", "candidate"
    )

    assert done.returncode == 0, done.stderr
    version = registered.client.get_version(MODEL, "1.1.0")
    assert (version["tags"], version["description"]) == ({"owner": "ana"}, "candidate")
    assert ["tags", "owner=ana"] in rows(done.stdout)


def test_an_error_reply_is_one_line_and_exit_1(registered: RunningStack) -> None:
    done = lambdaops(registered.info_file, "show", MODEL, "9.9.9", "--json")

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"VersionNotFound: model '{MODEL}' has no version 9.9.9\n"


def test_a_usage_error_is_one_line_and_exit_2(registered: RunningStack) -> None:
    done = lambdaops(registered.info_file, "traffic", MODEL, "--route", "1.0.0")

    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("lambdaops traffic: argument --route: expected VERSION=WEIGHT")
    assert done.stderr.count("\n") == 1


def test_a_canary_is_followed_to_its_end(registered: RunningStack) -> None:
    """With no traffic to judge, the first step has no data: the rollout is rolled back, and exit is 1."""
    done = lambdaops(
        registered.info_file,
        "canary",
        MODEL,
        "1.1.0",
        "--steps",
        "50,100",
        "--interval-seconds",
        "1",
        "--follow",
    )

    assert done.returncode == 1, done.stderr
    # A line whenever it moves (how many depends on when the polls land), then its verdict and the table.
    lines = done.stdout.splitlines()
    table = lines.index("")
    assert all(line.startswith("1.1.0 over 1.0.0: running") for line in lines[: table - 2])
    assert lines[table - 2].startswith("step 1 (50%): insufficient_data; canary no requests")
    assert lines[table - 1].startswith("1.1.0 over 1.0.0: rolled_back, step 1 of 2 (50%): no requests")
    assert lines[table + 1] == lines[table - 1]
    assert rows(done.stdout)[table + 2] == ["STEP", "WEIGHT", "CANARY", "INCUMBENT", "VERDICT", "STARTED"]
    assert registered.client.get_canary(MODEL)["status"] == "rolled_back"


def test_a_closed_stdout_ends_quietly(registered: RunningStack) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the CLI writes, as with `| head -1` on a long table
    try:
        done = lambdaops(registered.info_file, "history", MODEL, stdout=write)
    finally:
        os.close(write)

    assert (done.returncode, done.stderr) == (1, "")


def test_a_stack_that_is_not_running(tmp_path: Path) -> None:
    stale = tmp_path / "local.json"
    url = f"http://127.0.0.1:{free_port()}"
    stale.write_text(json.dumps({"api_url": url, "aws_endpoint_url": url, "bucket": "b"}))

    refused = lambdaops(stale, "models")
    missing = lambdaops(tmp_path / "none.json", "models")

    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr.startswith(f"cannot reach the API at {url}: ")
    assert refused.stderr.endswith(
        "is `lambdaops local` running? (" + str(stale) + " may be left from a stack that stopped)\n"
    )
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr.startswith("no API: start one with `lambdaops local`")


def test_every_verb_with_json_round_trips(stack: RunningStack, tmp_path: Path) -> None:
    """What scripts rely on: each verb's `--json` is the reply, uploads land in the stack's bucket."""

    def cli(*args: str) -> Any:
        done = lambdaops(stack.info_file, "--json", *args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    name, bucket = "cli-json", stack.info["bucket"]
    model = train_logistic_regression(100)
    artifact = tmp_path / "model.onnx"
    artifact.write_bytes(model.onnx_bytes)
    assert cli("create", name, "--tag", "team=cli")["tags"] == {"team": "cli"}
    version = cli(
        "register", name, "--file", str(artifact), "--bump", "minor", "--metrics", json.dumps(model.metrics)
    )
    assert version["version"] == "1.0.0"
    assert version["artifact_uri"].startswith(f"s3://{bucket}/models/{name}/uploads/")
    cli("register", name, "--file", str(artifact), "--bump", "minor")
    assert cli("promote", name, "1.0.0", "staging")["stage"] == "staging"
    assert cli("promote", name, "1.0.0", "production")["previous_stage"] == "staging"
    cli("promote", name, "1.1.0", "staging")
    cli("promote", name, "1.1.0", "production")
    assert cli("rollback", name, "--reason", "cli test") == {
        "production_version": "1.0.0",
        "rolled_back_from": "1.1.0",
    }
    assert [h["action"] for h in cli("history", name)["items"]][-2:] == ["rollback", "rollback"]
    assert name in [m["name"] for m in cli("list")["items"]]
    assert cli("compare", name, "1.0.0", "1.1.0")["metrics"]["accuracy"]["b"] is None
    assert [v["version"] for v in cli("versions", name, "--stage", "archived")["items"]] == ["1.1.0"]
    row = json.dumps([[0.1, 0.2, 0.3, 0.4]])
    assert cli("predict", name, row)["version"] == "1.0.0"
    cli("register", name, "--file", str(artifact), "--version", "2.0.0")
    cli("promote", name, "2.0.0", "staging")
    split = cli(
        "traffic", name, "--route", "1.0.0=90:control", "--route", "2.0.0=10", "--shadow", "2.0.0=0.5"
    )
    assert split["routes"][0] == {"version": "1.0.0", "weight": 90, "variant": "control"}
    assert cli("traffic", name) == split
    assert cli("predict", name, row, "--routing-key", "u1")["variant"] in ("control", "2.0.0")
    started = cli("canary", name, "2.0.0", "--steps", "50,100", "--interval-seconds", "3600")
    assert cli("canary", name)["execution_arn"] == started["execution_arn"]
    training = tmp_path / "train.csv"
    training.write_text("f0,f1,f2,f3\n" + "".join(f"{i % 7},{i % 5},{i % 3},{i % 11}\n" for i in range(300)))
    baseline = cli("baseline", name, "1.0.0", "--file", str(training))
    assert baseline["rows"] == 300
    assert baseline["source"].startswith(f"s3://{bucket}/datasets/{name}/uploads/")
    report = cli("drift", name, "--rows", json.dumps([[9, 9, 9, 9]] * 50))
    assert report["dataset_drift"] is True and report["version"] == "1.0.0"
    assert [item["report_id"] for item in cli("drift", name)["items"]] == [report["report_id"]]
    drift_table = lambdaops(stack.info_file, "drift", name, "--rows", json.dumps([[9, 9, 9, 9]] * 50)).stdout
    assert rows(drift_table)[1] == [
        "FEATURE",
        "KIND",
        "METHOD",
        "STATISTIC",
        "P-VALUE",
        "THRESHOLD",
        "DRIFTED",
    ]
