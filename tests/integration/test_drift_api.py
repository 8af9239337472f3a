"""The drift function on moto: baselines, checks, history, every bad input, and the scheduled scan."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest

from lambdaops.aws.run_store import DynamoRunStore
from lambdaops.training.schemas import RunRecord
from lambdaops_tools.demo.sample_models import FEATURES, TrainedModel, synthetic_dataset
from lambdaops_tools.demo.story import csv_bytes, shifted
from lambdaops_tools.local.resources import LocalResources

from .conftest import Api, deploy_without_upload_trigger, sample_event

NAME = "churn-classifier"
TRAINING = synthetic_dataset(4000, seed=7)[0]
FRESH = synthetic_dataset(2000, seed=21)[0]


def records(rows: np.ndarray) -> list[dict[str, float]]:
    return [dict(zip(FEATURES, map(float, row), strict=True)) for row in rows]


def put(resources: LocalResources, key: str, body: bytes) -> str:
    boto3.client("s3").put_object(Bucket=resources.bucket_name, Key=key, Body=body)
    return f"s3://{resources.bucket_name}/{key}"


def capture(resources: LocalResources, model: str, version: str, rows: np.ndarray) -> None:
    """Captured traffic as the predict function writes it (NaN, for a test's missing values, as null)."""
    at = datetime.now(UTC)
    lines = [
        json.dumps(
            {
                "at": at.isoformat(),
                "model": model,
                "version": version,
                "features": {name: None if np.isnan(value) else value for name, value in record.items()},
            }
        )
        for record in records(rows)
    ]
    key = f"captures/{model}/dt={at:%Y-%m-%d}/hour={at:%H}/{uuid.uuid4()}.jsonl"
    put(resources, key, ("\n".join(lines) + "\n").encode())


def in_production(api: Api, trained: TrainedModel, name: str = NAME, **model: Any) -> None:
    assert api.call("POST", "/models", {"name": name, **model})[0] == 201
    assert api.register(name, "1.0.0", trained)[0] == 201
    for stage in ("staging", "production"):
        assert api.call("POST", f"/models/{name}/versions/1.0.0/stage", {"stage": stage})[0] == 200


@pytest.fixture
def monitored(api: Api, trained: TrainedModel) -> Api:
    """A model in production whose version has a baseline built from its training data."""
    in_production(api, trained, drift={"retrain_on_drift": True})
    status, reply = api.call("POST", f"/models/{NAME}/versions/1.0.0/baseline", {"rows": TRAINING.tolist()})
    assert status == 201, reply
    return api


def queue_for(subscribe: Any) -> Iterator[Any]:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscribe(arn)

    def received() -> list[Any]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    yield received


@pytest.fixture
def alerts(aws: LocalResources) -> Iterator[Any]:
    """Alerts as an SQS subscriber of the topic receives them."""
    sns = boto3.client("sns")
    yield from queue_for(
        lambda arn: sns.subscribe(TopicArn=aws.alerts_topic_arn, Protocol="sqs", Endpoint=arn)
    )


@pytest.fixture
def training_runs(aws: LocalResources) -> Callable[[], list[RunRecord]]:
    """The training runs recorded, newest first; the deployment's state machines exist (not executing)."""
    deploy_without_upload_trigger(aws)
    store = DynamoRunStore(boto3.client("dynamodb"), aws.table_name)
    return lambda: store.list(None, None, 100, None).items


def write_dataset(resources: LocalResources, model: str, dataset_id: str) -> str:
    """A complete dataset folder: its CSVs, then its manifest."""
    prefix = f"datasets/{model}/{dataset_id}/"
    header = ",".join((*FEATURES, "label")) + "\n"
    for name in ("train.csv", "validation.csv"):
        put(resources, prefix + name, (header + "1,2,3,4,0\n5,6,7,8,1\n").encode())
    put(resources, prefix + "manifest.json", json.dumps({"label": "label"}).encode())
    return f"s3://{resources.bucket_name}/{prefix}"


def scan(api: Api) -> dict[str, Any]:
    return api.functions["drift"].invoke(sample_event("drift/scheduled_scan.json"))


def test_sample_events_build_a_baseline_check_with_an_override_and_list_history(
    api: Api, trained: TrainedModel
) -> None:
    in_production(api, trained)
    status, summary = api.invoke(sample_event("drift/baseline_inline.json"))
    assert status == 201, summary
    assert summary["rows"] == 4 and summary["source"] == "inline"
    assert summary["baseline_uri"] == f"s3://{api.resources.bucket_name}/models/{NAME}/baselines/1.0.0.json"
    assert set(summary["features"]) == set(FEATURES)

    status, report = api.invoke(sample_event("drift/check_inline.json"))
    assert status == 200, report
    assert {result["method"] for result in report["features"].values()} == {"ks"}
    assert {result["threshold"] for result in report["features"].values()} == {0.01}
    assert report["rows"] == 4 and report["trigger"] == "request"

    status, history = api.invoke(sample_event("drift/history.json"))
    assert status == 200
    assert [item["report_id"] for item in history["items"]] == [report["report_id"]]


def test_baseline_from_csv_and_checks_from_json_lines_objects(api: Api, trained: TrainedModel) -> None:
    in_production(api, trained)
    training_uri = put(api.resources, "datasets/churn/train.csv", csv_bytes(TRAINING))
    status, summary = api.call("POST", f"/models/{NAME}/versions/1.0.0/baseline", {"data_uri": training_uri})
    assert status == 201, summary
    assert summary["rows"] == 4000 and summary["source"] == training_uri
    assert summary["features"]["tenure_months"]["mean"] == pytest.approx(float(TRAINING[:, 0].mean()))

    lines = "\n".join(json.dumps(record) for record in records(shifted(FRESH))).encode()
    data_uri = put(api.resources, "datasets/churn/today.jsonl", lines)
    status, report = api.call("POST", f"/models/{NAME}/drift", {"data_uri": data_uri})
    assert status == 200, report
    assert report["source"] == data_uri and report["rows"] == 2000
    assert report["drifted_features"] == ["tenure_months", "usage_hours"]


def test_fresh_data_passes_shifted_data_drifts_and_each_report_is_stored_whole(monitored: Api) -> None:
    status, fresh = monitored.call("POST", f"/models/{NAME}/drift", {"rows": FRESH.tolist()})
    assert status == 200, fresh
    assert fresh["version"] == "1.0.0"  # production, since the request named none
    assert fresh["dataset_drift"] is False and fresh["drifted_features"] == []
    assert {result["method"] for result in fresh["features"].values()} == {"wasserstein"}
    assert fresh["data_quality_failed"] is False

    status, drifted = monitored.call("POST", f"/models/{NAME}/drift", {"rows": records(shifted(FRESH))})
    assert status == 200
    assert drifted["dataset_drift"] is True and drifted["drift_share"] == 0.5
    assert drifted["drifted_features"] == ["tenure_months", "usage_hours"]

    key = drifted["report_uri"].removeprefix(f"s3://{monitored.resources.bucket_name}/")
    stored = boto3.client("s3").get_object(Bucket=monitored.resources.bucket_name, Key=key)["Body"].read()
    assert json.loads(stored) == drifted
    status, history = monitored.call("GET", f"/models/{NAME}/drift?limit=1")
    assert status == 200
    assert [item["report_id"] for item in history["items"]] == [drifted["report_id"]]
    status, history = monitored.call("GET", f"/models/{NAME}/drift")
    assert [item["dataset_drift"] for item in history["items"]] == [True, False]


def test_data_quality_findings_come_beside_drift(monitored: Api) -> None:
    rows = records(FRESH[:500])
    for index, row in enumerate(rows):
        del row["support_tickets"]
        row["region"] = "eu"
        if index % 4 == 0:
            row["monthly_spend"] = None  # type: ignore[assignment]
    status, report = monitored.call("POST", f"/models/{NAME}/drift", {"rows": rows})
    assert status == 200, report
    found = {
        (finding["check"], finding["feature"], finding["severity"]) for finding in report["data_quality"]
    }
    assert found == {
        ("missing_column", "support_tickets", "fail"),
        ("unexpected_column", "region", "warn"),
        ("missing_rate", "monthly_spend", "fail"),
    }
    assert report["data_quality_failed"] is True
    assert "support_tickets" not in report["features"]


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "reason"),
    [
        ("/models/nope/drift", {"rows": [[1, 2, 3, 4]]}, 404, "ModelNotFound", None),
        (f"/models/{NAME}/drift", {"rows": [[1, 2, 3, 4]], "version": "9.9.9"}, 404, "VersionNotFound", None),
        ("/models/nope/versions/1.0.0/baseline", {"rows": [[1, 2, 3, 4]]}, 404, "ModelNotFound", None),
        (f"/models/{NAME}/versions/9.9.9/baseline", {"rows": [[1, 2, 3, 4]]}, 404, "VersionNotFound", None),
        (f"/models/{NAME}/drift", {"rows": []}, 400, "ValidationError", None),
        (f"/models/{NAME}/drift", {}, 400, "ValidationError", None),
        (f"/models/{NAME}/drift", {"rows": [[1]], "data_uri": "s3://b/k"}, 400, "ValidationError", None),
        (f"/models/{NAME}/drift", {"rows": [[1, 2, 3]]}, 400, "InvalidInput", "wrong_width"),
        (f"/models/{NAME}/drift", {"rows": [[1, "2", 3, 4]]}, 400, "InvalidInput", "not_a_number"),
        (f"/models/{NAME}/drift", {"rows": [[1, True, 3, 4]]}, 400, "InvalidInput", "not_a_number"),
        (f"/models/{NAME}/drift", {"rows": [{"height": 1.0}]}, 400, "InvalidInput", "columns_disagree"),
        (f"/models/{NAME}/drift", {"rows": [[1, 2, 3, 4]], "methods": {"numeric": {"method": "z"}}}, 400,
         "ValidationError", None),
        (f"/models/{NAME}/drift", {"rows": [[1, 2, 3, 4]], "methods": {"features": {"age": {"method": "ks"}}}
                                   }, 400, "InvalidInput", "unknown_feature"),
        (f"/models/{NAME}/drift", {"data_uri": "s3://elsewhere/data.csv"}, 422, "DataUnreadable",
         "outside_bucket"),
    ],
)  # fmt: skip
def test_bad_requests_get_a_clear_4xx_and_write_nothing(
    monitored: Api, path: str, body: Any, status: int, code: str, reason: str | None
) -> None:
    before = monitored.call("GET", f"/models/{NAME}/drift")[1]["items"]
    got, reply = monitored.call("POST", path, body)
    assert (got, reply["error"]["code"]) == (status, code), reply
    if reason is not None:
        assert reply["error"]["details"]["reason"] == reason
    assert monitored.call("GET", f"/models/{NAME}/drift")[1]["items"] == before


@pytest.mark.parametrize(
    ("key", "body", "code", "reason"),
    [
        ("datasets/bad.csv", b"\xff\xfe\x00garbage", "DataUnreadable", "not_utf8"),
        ("datasets/ragged.csv", b"tenure_months,monthly_spend\n1,2\n3\n", "DataUnreadable", "ragged_csv"),
        ("datasets/bad.jsonl", b'{"tenure_months": 1}\n{not json\n', "DataUnreadable", "not_json"),
        ("datasets/text.csv", b"tenure_months,monthly_spend,support_tickets,usage_hours\n1,two,3,4\n",
         "InvalidInput", "not_a_number"),
        ("datasets/empty.csv", b"tenure_months,monthly_spend,support_tickets,usage_hours\n", "InvalidInput",
         "no_rows"),
    ],
)  # fmt: skip
def test_unreadable_objects_are_refused(
    monitored: Api, key: str, body: bytes, code: str, reason: str
) -> None:
    uri = put(monitored.resources, key, body)
    status, reply = monitored.call("POST", f"/models/{NAME}/drift", {"data_uri": uri})
    assert 400 <= status < 500
    assert (reply["error"]["code"], reply["error"]["details"]["reason"]) == (code, reason), reply


def test_missing_and_oversized_objects_are_refused(
    monitored: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    status, reply = monitored.call(
        "POST",
        f"/models/{NAME}/drift",
        {"data_uri": f"s3://{monitored.resources.bucket_name}/datasets/none.csv"},
    )
    assert (status, reply["error"]["code"], reply["error"]["details"]["reason"]) == (
        422,
        "DataUnreadable",
        "missing",
    )
    monkeypatch.setenv("LAMBDAOPS_MAX_DATA_BYTES", "1000")
    small = Api(monitored.resources)  # a fresh import reads the lower limit
    uri = put(monitored.resources, "datasets/big.csv", csv_bytes(FRESH))
    status, reply = small.call("POST", f"/models/{NAME}/drift", {"data_uri": uri})
    assert (status, reply["error"]["code"]) == (413, "DataTooLarge")
    assert reply["error"]["details"]["max_bytes"] == 1000


def test_a_check_without_a_baseline_is_409_naming_how_to_make_one(api: Api, trained: TrainedModel) -> None:
    in_production(api, trained)
    status, reply = api.call("POST", f"/models/{NAME}/drift", {"rows": FRESH[:10].tolist()})
    assert (status, reply["error"]["code"]) == (409, "BaselineMissing")
    assert f"POST /models/{NAME}/versions/1.0.0/baseline" in reply["error"]["message"]


def test_a_model_without_production_needs_a_named_version(api: Api, trained: TrainedModel) -> None:
    assert api.call("POST", "/models", {"name": NAME})[0] == 201
    assert api.register(NAME, "1.0.0", trained)[0] == 201
    status, reply = api.call("POST", f"/models/{NAME}/drift", {"rows": FRESH[:10].tolist()})
    assert (status, reply["error"]["code"]) == (409, "NoProductionVersion")


def test_scan_alerts_on_drift_retrains_on_the_newest_dataset_and_carries_on_past_a_failing_model(
    monitored: Api, trained: TrainedModel, alerts: Any, training_runs: Callable[[], list[RunRecord]]
) -> None:
    write_dataset(monitored.resources, NAME, "2026-11-01")
    newest = write_dataset(monitored.resources, NAME, "2026-11-20")
    in_production(monitored, trained, name="no-baseline")
    in_production(monitored, trained, name="garbled")
    in_production(monitored, trained, name="quiet")
    assert (
        monitored.call("POST", "/models/garbled/versions/1.0.0/baseline", {"rows": TRAINING.tolist()})[0]
        == 201
    )
    put(monitored.resources, "captures/garbled/dt=2026-11-24/hour=00/x.jsonl", b"{not json\n")
    assert (
        monitored.call("POST", "/models/quiet/versions/1.0.0/baseline", {"rows": TRAINING.tolist()})[0] == 201
    )
    capture(monitored.resources, NAME, "1.0.0", shifted(FRESH))
    capture(monitored.resources, NAME, "0.9.0", FRESH)  # another version's traffic is not this baseline's
    capture(monitored.resources, "no-baseline", "1.0.0", FRESH)

    outcome = scan(monitored)

    assert [(report["model"], report["rows"]) for report in outcome["reports"]] == [(NAME, 2000)]
    assert outcome["reports"][0]["drifted_features"] == ["tenure_months", "usage_hours"]
    assert sorted((f["model"], f["code"]) for f in outcome["failures"]) == [
        ("garbled", "DataUnreadable"),
        ("no-baseline", "BaselineMissing"),
    ]
    assert outcome["skipped"] == ["quiet"]
    assert outcome["alerts"] == 1 and outcome["retraining"] == [NAME]
    [alert] = alerts()
    assert alert["Subject"] == f"lambdaops: {NAME} 1.0.0: drift in 2 of 4 features"
    message = json.loads(alert["Message"])
    assert set(message["drifted_features"]) == {"tenure_months", "usage_hours"}
    assert alert["MessageAttributes"]["model"]["Value"] == NAME
    [run] = training_runs()
    assert (run.model, run.trigger, run.dataset_uri, run.status) == (NAME, "drift", newest, "running")
    assert run.reason is not None and message["report_uri"] in run.reason
    stepfunctions = boto3.client("stepfunctions")
    execution = stepfunctions.describe_execution(executionArn=run.execution_arn)
    assert execution["name"] == run.run_id and json.loads(execution["input"]) == {"run_id": run.run_id}
    history = monitored.call("GET", f"/models/{NAME}/drift")[1]["items"]
    assert history[0]["trigger"] == "schedule"


def test_scan_reads_only_traffic_captured_since_the_last_scan(monitored: Api, alerts: Any) -> None:
    capture(monitored.resources, NAME, "1.0.0", FRESH[:700])
    first = scan(monitored)
    assert [report["rows"] for report in first["reports"]] == [700]
    assert first["alerts"] == 0 and alerts() == []

    again = scan(monitored)
    assert again["reports"] == [] and again["skipped"] == [NAME]

    capture(monitored.resources, NAME, "1.0.0", FRESH[700:1000])
    third = scan(monitored)
    assert [report["rows"] for report in third["reports"]] == [300]


def test_scan_publishes_drift_scores_and_failures_as_metrics(
    monitored: Api, trained: TrainedModel, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    in_production(monitored, trained, name="no-baseline")
    capture(monitored.resources, NAME, "1.0.0", shifted(FRESH))
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    scan(monitored)
    documents = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')
    ]
    scores = {doc["feature"]: np.ravel(doc["DriftScore"])[0] for doc in documents if "DriftScore" in doc}
    assert set(scores) == set(FEATURES)
    assert scores["tenure_months"] > 0.1 > scores["monthly_spend"]
    failures = [doc for doc in documents if "DriftScanFailures" in doc]
    assert [
        (doc["model"], np.ravel(doc["DriftScanFailures"]).tolist(), doc["service"]) for doc in failures
    ] == [("no-baseline", [1.0], "lambdaops-drift")]


def test_a_drifted_model_without_a_complete_dataset_starts_no_run(
    monitored: Api, training_runs: Callable[[], list[RunRecord]]
) -> None:
    put(monitored.resources, f"datasets/{NAME}/incomplete/train.csv", b"a,label\n1,0\n")  # no manifest
    capture(monitored.resources, NAME, "1.0.0", shifted(FRESH))

    outcome = scan(monitored)

    assert outcome["alerts"] == 1 and outcome["retraining"] == [NAME]
    assert training_runs() == []


def test_scan_over_traffic_the_predict_function_captured(monitored: Api, cache_dir: Path) -> None:
    predict = monitored.functions["predict"]
    for start in range(0, 1000, 250):
        status, reply = monitored.call(
            "POST", f"/models/{NAME}/predict", {"instances": shifted(FRESH[start : start + 250]).tolist()}
        )
        assert status == 200, reply
    assert predict.module().capture.flush(timeout=10)

    outcome = scan(monitored)

    assert [(report["rows"], report["dataset_drift"]) for report in outcome["reports"]] == [(1000, True)]


def test_a_scan_short_of_time_defers_the_rest_and_reads_their_windows_next_time(monitored: Api) -> None:
    capture(monitored.resources, NAME, "1.0.0", FRESH[:500])
    monitor = monitored.functions["drift"].module().monitor

    deferred = monitor.scan(seconds_left=lambda: 10.0)

    assert (deferred.deferred, deferred.reports) == ([NAME], [])
    resumed = monitor.scan(seconds_left=lambda: 300.0)
    assert [report.rows for report in resumed.reports] == [500]


def test_a_data_quality_failure_alone_is_alerted_without_retraining_when_the_policy_says_no(
    api: Api, trained: TrainedModel, alerts: Any, training_runs: Callable[[], list[RunRecord]]
) -> None:
    in_production(api, trained)  # the default policy: no retraining
    write_dataset(api.resources, NAME, "2026-11-20")
    assert api.call("POST", f"/models/{NAME}/versions/1.0.0/baseline", {"rows": TRAINING.tolist()})[0] == 201
    rows = FRESH[:400].copy()
    rows[:200, 1] = np.nan  # half of monthly_spend goes missing (null in the captures)
    capture(api.resources, NAME, "1.0.0", rows)

    outcome = scan(api)

    assert [(r["dataset_drift"], r["data_quality_failed"]) for r in outcome["reports"]] == [(False, True)]
    [alert] = alerts()
    assert alert["Subject"] == f"lambdaops: {NAME} 1.0.0: 1 data-quality failure(s)"
    [failure] = json.loads(alert["Message"])["data_quality_failures"]
    assert (failure["check"], failure["feature"], failure["value"]) == ("missing_rate", "monthly_spend", 0.5)
    assert outcome["retraining"] == [] and training_runs() == []
