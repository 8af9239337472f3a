"""The end-to-end demo: a user's first session with lambdaops, over HTTP against the local stack."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from typing import Any

from lambdaops_tools.client import ApiError, LambdaopsClient
from lambdaops_tools.demo.sample_models import TrainedModel, train_logistic_regression

MODEL = "churn-classifier"
POLICY = {
    "thresholds": [{"metric": "accuracy", "min": 0.7}],
    "must_beat_production": [{"metric": "accuracy", "min_delta": 0.0}],
    "require_approval_for_production": True,
}
APPROVER = "arn:aws:iam::000000000000:user/reviewer"
DRIFT_POLICY = {"retrain_on_drift": True}

Say = Callable[[str], None]
AwsClient = Callable[[str], Any]
"""A boto3 client of the local stack's AWS endpoint, by service name."""


def upload(s3: Any, bucket: str, version: str, model: TrainedModel) -> str:
    key = f"models/{MODEL}/{version}/model.onnx"
    s3.put_object(Bucket=bucket, Key=key, Body=model.onnx_bytes)
    return f"s3://{bucket}/{key}"


def register(
    client: LambdaopsClient, s3: Any, bucket: str, version: str, model: TrainedModel, note: str
) -> Any:
    return client.register_version(
        MODEL,
        upload(s3, bucket, version, model),
        version=version,
        metrics=model.metrics,
        params=model.params,
        input_schema=model.input_schema,
        lineage={"dataset_uri": f"s3://{bucket}/datasets/churn/train.csv", "source_commit": "demo"},
        description=note,
    )


def format_history(items: list[dict[str, Any]]) -> str:
    rows = [("at", "actor", "action", "version", "from", "to", "reason")]
    for item in items:
        actor = item["actor"].rsplit("/", 1)[-1]
        rows.append(
            (
                item["at"],
                actor,
                item["action"],
                item["version"],
                item["from_stage"] or "-",
                item["to_stage"],
                item["reason"],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)


def run_demo(client: LambdaopsClient, s3: Any, bucket: str, say: Say = print) -> dict[str, Any]:
    """Create, register, promote, refuse, promote, roll back; returns the final model and history."""
    say(f"1. create model '{MODEL}' with promotion gates {POLICY} and drift policy {DRIFT_POLICY}")
    client.create_model(
        MODEL, "Predicts which customers will churn", {"team": "growth"}, POLICY, drift=DRIFT_POLICY
    )

    say("2. train and register two real ONNX classifiers")
    baseline = train_logistic_regression(300, dropped_features=("monthly_spend",))
    improved = train_logistic_regression(300)
    for version, model, note in (("1.0.0", baseline, "baseline"), ("1.1.0", improved, "all features")):
        record = register(client, s3, bucket, version, model, note)
        say(f"   registered {version}: accuracy={model.metrics['accuracy']} sha256={record['sha256'][:12]}…")

    say("3. promote 1.0.0 through staging to production")
    client.set_stage(MODEL, "1.0.0", "staging", "passed offline evaluation")
    client.set_stage(MODEL, "1.0.0", "production", "first release", approved_by=APPROVER)
    say(f"   production is now {client.get_model(MODEL)['production_version']}")

    say("4. a worse candidate is refused by the must-beat-production gate")
    worse = train_logistic_regression(300, dropped_features=("support_tickets",))
    register(client, s3, bucket, "1.0.1", worse, "trained without support tickets")
    client.set_stage(MODEL, "1.0.1", "staging", "candidate")
    try:
        client.set_stage(MODEL, "1.0.1", "production", "try it", approved_by=APPROVER)
        raise RuntimeError("the gate should have refused 1.0.1")
    except ApiError as refusal:
        say(f"   refused: {refusal.status} {refusal.code} ({refusal.details.get('gate')}): {refusal.message}")

    say("5. promote 1.1.0 to production (1.0.0 is archived in the same transaction)")
    client.set_stage(MODEL, "1.1.0", "staging", "better accuracy")
    client.set_stage(MODEL, "1.1.0", "production", "beats 1.0.0", approved_by=APPROVER)
    say(f"   production is now {client.get_model(MODEL)['production_version']}")

    say("6. roll back")
    rollback = client.rollback(MODEL, "complaints after release")
    restored, replaced = rollback["production_version"], rollback["rolled_back_from"]
    say(f"   production is now {restored} (rolled back from {replaced})")

    history = client.history(MODEL)["items"]
    say("7. history\n" + format_history(history))
    return {"model": client.get_model(MODEL), "history": history}


def _records(rows: int, seed: int) -> list[dict[str, float]]:
    from lambdaops_tools.demo.sample_models import FEATURES, synthetic_dataset

    x, _ = synthetic_dataset(rows, seed)
    return [dict(zip(FEATURES, map(float, row), strict=True)) for row in x]


def _drive_canary(client: LambdaopsClient, say: Say, deadline_s: float = 120.0) -> dict[str, Any]:
    """Send traffic while the rollout runs, as a live service would get; return its final state."""
    import time

    rows = _records(64, seed=11)
    started = time.monotonic()
    sent = failed = 0
    while time.monotonic() - started < deadline_s:
        for index, row in enumerate(rows):
            try:
                client.predict(MODEL, [row], routing_key=f"customer-{sent + index}")
            except ApiError:
                failed += 1
        sent += len(rows)
        state = client.get_canary(MODEL)
        if state["status"] != "running":
            say(f"   sent {sent} requests during the rollout ({failed} failed)")
            return dict(state)
    raise RuntimeError("the canary rollout did not finish in time")


def _arm(figures: dict[str, Any] | None) -> str:
    if not figures or not figures.get("invocations"):
        return "no requests"
    p99 = figures.get("p99_ms")
    latency = f"p99 {p99:.2f} ms" if p99 is not None else "no latency"
    return f"{figures['invocations']} requests, error rate {figures['error_rate']:.2f}, {latency}"


def _describe_steps(state: dict[str, Any]) -> str:
    return "\n".join(
        f"     {step['weight']:>3}%: canary {_arm(step.get('canary'))}; "
        f"incumbent {_arm(step.get('incumbent'))} -> {step.get('verdict')}"
        for step in state.get("steps", [])
    )


def _run_canary(client: LambdaopsClient, say: Say, version: str, steps: list[int]) -> dict[str, Any]:
    """One rollout with 1 s steps (the request shortens the ASL's waits), driven to its end."""
    started = client.start_canary(
        MODEL,
        version,
        steps=steps,
        interval_seconds=1,
        max_error_rate=0.05,
        max_p99_ms=500,
        approved_by=APPROVER,
    )
    say(f"   started {started['execution_arn']}")
    state = _drive_canary(client, say)
    say(_describe_steps(state))
    return state


def run_traffic_demo(client: LambdaopsClient, s3: Any, bucket: str, say: Say = print) -> dict[str, Any]:
    """Predict, split A/B with a shadow, then one canary that is promoted and one that is rolled back."""
    from lambdaops_tools.demo.sample_models import export_failing_model

    production = client.get_model(MODEL)["production_version"]
    rows = _records(3, seed=5)
    say(f"8. predict with production ({production}), as records and as arrays")
    reply = client.predict(MODEL, rows)
    say(f"   {reply['model']} {reply['version']} ({reply['variant']}): {reply['predictions']}")
    reply = client.predict(MODEL, [list(row.values()) for row in rows], version="1.0.1")
    say(f"   a named version answers too: {reply['version']} ({reply['variant']}): {reply['predictions']}")

    say("9. A/B split 80/20 with 1.0.1 as the treatment, sticky per routing key, and 1.2.0 as a shadow")
    candidate = train_logistic_regression(300)
    register(client, s3, bucket, "1.2.0", candidate, "retrained on fresh data")
    client.set_stage(MODEL, "1.2.0", "staging", "candidate for canary")
    client.set_traffic(
        MODEL,
        [
            {"version": production, "weight": 80, "variant": "control"},
            {"version": "1.0.1", "weight": 20, "variant": "treatment"},
        ],
        shadow={"version": "1.2.0", "sample_rate": 1.0},
    )
    arms = [client.predict(MODEL, rows[:1], routing_key=f"user-{i}")["variant"] for i in range(200)]
    again = [client.predict(MODEL, rows[:1], routing_key=f"user-{i}")["variant"] for i in range(20)]
    say(
        f"   200 users: {arms.count('control')} control, {arms.count('treatment')} treatment; "
        f"the same users again land on the same arms: {again == arms[:20]}"
    )
    say("   the shadow's outputs are captured to S3, never returned")

    say("10. canary 1.2.0: 50% then 100%, judged on error rate and p99 latency, then promoted")
    client.set_traffic(MODEL, [{"version": production, "weight": 100}])
    promoted = _run_canary(client, say, "1.2.0", [50, 100])
    say(f"   {promoted['status']}: production is now {client.get_model(MODEL)['production_version']}")

    say("11. canary 1.3.0, a model that fails at inference: rolled back at the first step")
    failing = TrainedModel(export_failing_model(), candidate.metrics, {}, candidate.input_schema)
    register(client, s3, bucket, "1.3.0", failing, "broken export")
    client.set_stage(MODEL, "1.3.0", "staging", "candidate for canary")
    rolled_back = _run_canary(client, say, "1.3.0", [25, 100])
    say(
        f"   {rolled_back['status']}: {rolled_back.get('reason')}; "
        f"production is still {client.get_model(MODEL)['production_version']}"
    )
    captured = s3.list_objects_v2(Bucket=bucket, Prefix=f"captures/{MODEL}/").get("KeyCount", 0)
    say(f"12. {captured} capture files under s3://{bucket}/captures/{MODEL}/")
    return {
        "promoted": promoted,
        "rolled_back": rolled_back,
        "arms": arms,
        "again": again,
        "model": client.get_model(MODEL),
        "captured": captured,
    }


TRAINING_MANIFEST = {
    "label": "churned",
    "hyperparameters": {"epochs": 12, "hidden_units": 32, "batch_size": 256, "learning_rate": 0.01},
    "spot": False,
}
TUNING = {
    "strategy": "Random",
    "objective": {"metric": "validation:accuracy", "type": "Maximize"},
    "max_jobs": 6,
    "max_parallel_jobs": 2,
    "ranges": {
        "learning_rate": {"type": "continuous", "min": 0.001, "max": 0.05, "scaling": "Logarithmic"},
        "hidden_units": {"type": "categorical", "values": [16, 32, 64]},
    },
}


def labelled_csv(rows: int, seed: int) -> bytes:
    """The demo's churn features and their label, as a dataset file."""
    from lambdaops_tools.demo.sample_models import FEATURES, synthetic_dataset

    x, y = synthetic_dataset(rows, seed)
    lines = [",".join((*FEATURES, "churned"))]
    lines += [",".join([*(f"{v:.5f}" for v in row), str(int(t))]) for row, t in zip(x, y, strict=True)]
    return ("\n".join(lines) + "\n").encode()


def write_training_dataset(s3: Any, bucket: str, dataset_id: str) -> str:
    """train, validation and holdout CSVs, then the manifest that marks the folder complete."""
    import json

    prefix = f"datasets/{MODEL}/{dataset_id}/"
    for name, rows, seed in (
        ("train.csv", 8000, 41),
        ("validation.csv", 2000, 42),
        ("holdout.csv", 2000, 43),
    ):
        s3.put_object(Bucket=bucket, Key=prefix + name, Body=labelled_csv(rows, seed))
    s3.put_object(Bucket=bucket, Key=prefix + "manifest.json", Body=json.dumps(TRAINING_MANIFEST).encode())
    return f"s3://{bucket}/{prefix}"


def _run_on(client: LambdaopsClient, dataset_uri: str, trigger: str, deadline_s: float = 30.0) -> Any:
    """The run `trigger` started on the dataset (the upload and the scan start runs by themselves)."""
    import time

    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        for run in client.list_runs(model=MODEL)["items"]:
            if run["dataset_uri"] == dataset_uri and run["trigger"] == trigger:
                return run
        time.sleep(0.2)
    raise RuntimeError(f"no {trigger} run started on {dataset_uri}")


def _follow(client: LambdaopsClient, run_id: str, say: Say) -> Any:
    """Waits for the run, saying each new step, epoch and metric line (the CLI's `run --follow`)."""
    from lambdaops_tools import render

    shown: list[str] = []

    def update(run: Any) -> None:
        line = render.progress_line(run)
        if not shown or line != shown[-1]:
            shown.append(line)
            say(f"   {line}")

    run = client.wait_for_run(run_id, poll_s=0.25, timeout_s=900, on_update=update)
    if run["status"] != "succeeded":
        raise RuntimeError(f"training run {run_id} failed: {run.get('failure')}")
    return run


def _outcome(client: LambdaopsClient, run: Any, say: Say) -> None:
    metrics, production = run["metrics"], run.get("production_metrics") or {}
    figures = ", ".join(
        f"{name} {value:.4f}" + (f" (production {production[name]:.4f})" if name in production else "")
        for name, value in metrics.items()
    )
    say(f"   holdout: {figures}")
    version = client.get_version(MODEL, run["registered_version"])
    lineage = version["lineage"]
    say(
        f"   registered {version['version']} ({version['stage']}), parent {lineage['parent_version']}, "
        f"training job {lineage['training_job']}"
        + (f", tuning job {lineage['tuning_job']}" if lineage.get("tuning_job") else "")
    )


def run_training_demo(client: LambdaopsClient, s3: Any, bucket: str, say: Say = print) -> dict[str, Any]:
    """A dataset's upload trains, evaluates against production, registers and promotes; then a tuning job."""
    from lambdaops_tools import render

    say("13. write a dataset (train, validation, holdout), then its manifest.json: the upload starts a run")
    dataset = write_training_dataset(s3, bucket, "2026-12-01")
    run = _run_on(client, dataset, "upload")
    execution = run["execution_arn"].rsplit(":")[-1]
    say(f"   run {run['run_id']} (trigger {run['trigger']}), execution {execution}")
    trained = _follow(client, run["run_id"], say)
    _outcome(client, trained, say)

    say("14. a small tuning job on the same dataset: Random search, 6 trials, 2 at a time")
    started = client.start_training(MODEL, dataset, tuning=TUNING)
    tuned = _follow(client, started["run_id"], say)
    for line in render.trials_lines(tuned):
        say(f"   {line}")
    say(f"   winner: {tuned['training_job']}")
    _outcome(client, tuned, say)
    return {"dataset_uri": dataset, "trained": trained, "tuned": tuned}


def shifted(rows: Any) -> Any:
    """Customers who stay a year longer and use the product twice as unevenly: two features drift."""
    moved = rows.copy()
    moved[:, 0] += 1.0
    moved[:, 3] *= 2.0
    return moved


def csv_bytes(rows: Any) -> bytes:
    import csv
    import io

    from lambdaops_tools.demo.sample_models import FEATURES

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(FEATURES)
    writer.writerows(rows.tolist())
    return buffer.getvalue().encode()


def _queue(aws: AwsClient, endpoint_subscribe: Callable[[str], None]) -> Callable[[], list[dict[str, Any]]]:
    """An SQS queue subscribed by `endpoint_subscribe(queue_arn)`; returns a reader of its messages."""
    import json
    import uuid

    sqs = aws("sqs")
    url = sqs.create_queue(QueueName=f"demo-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    endpoint_subscribe(arn)

    def read() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    return read


def _captured_rows(s3: Any, bucket: str) -> int:
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"captures/{MODEL}/")
        for item in page.get("Contents", [])
    ]
    return sum(s3.get_object(Bucket=bucket, Key=key)["Body"].read().count(b"\n") for key in keys)


def _wait_for_captures(s3: Any, bucket: str, rows: int, deadline_s: float = 60.0) -> None:
    """Captures are written by the predict function's background writer; wait until they are in S3."""
    import time

    started = time.monotonic()
    while _captured_rows(s3, bucket) < rows:
        if time.monotonic() - started > deadline_s:
            raise RuntimeError("captured predictions did not reach S3 in time")
        time.sleep(0.2)


def _features(report: dict[str, Any]) -> str:
    return ", ".join(
        f"{name} {result['method']}={result['statistic']:.3f}{' DRIFT' if result['drifted'] else ''}"
        for name, result in report["features"].items()
    )


def run_drift_demo(
    client: LambdaopsClient, aws: AwsClient, bucket: str, alerts_topic_arn: str, say: Say = print
) -> dict[str, Any]:
    """Baseline the production version, check fresh and shifted data, then a scheduled scan that alerts."""

    from lambdaops_tools.demo.sample_models import synthetic_dataset
    from lambdaops_tools.deployment import DEPLOYMENT
    from lambdaops_tools.local.gateway import SCHEDULES_PATH

    s3 = aws("s3")
    production = client.get_model(MODEL)["production_version"]
    training, _ = synthetic_dataset(4000, seed=7)
    key = f"datasets/{MODEL}/train.csv"
    s3.put_object(Bucket=bucket, Key=key, Body=csv_bytes(training))
    say(f"15. baseline for {production} from its training data, s3://{bucket}/{key}")
    baseline = client.create_baseline(MODEL, production, data_uri=f"s3://{bucket}/{key}")
    say(f"   {baseline['rows']} rows profiled, stored at {baseline['baseline_uri']}")

    fresh, _ = synthetic_dataset(2000, seed=21)
    say("16. drift check on 2,000 fresh rows from the same population")
    passed = client.check_drift(MODEL, rows=fresh.tolist())
    say(f"   dataset drift: {passed['dataset_drift']}; {_features(passed)}")

    say("17. drift check on 2,000 shifted rows (longer tenure, more spread in usage)")
    flagged = client.check_drift(MODEL, rows=shifted(fresh).tolist())
    share = f"{flagged['drift_share']:.0%} of features"
    say(f"   dataset drift: {flagged['dataset_drift']} ({share}); {_features(flagged)}")
    for finding in flagged["data_quality"]:
        say(f"   data quality ({finding['severity']}): {finding['feature']}: {finding['message']}")

    say("18. shifted traffic reaches production; the hourly scan runs over what was captured")
    sns = aws("sns")
    alerts = _queue(aws, lambda arn: sns.subscribe(TopicArn=alerts_topic_arn, Protocol="sqs", Endpoint=arn))
    captured_before = _captured_rows(s3, bucket)
    traffic = shifted(synthetic_dataset(2000, seed=33)[0])
    for start in range(0, len(traffic), 250):
        client.predict(MODEL, traffic[start : start + 250].tolist())
    _wait_for_captures(s3, bucket, captured_before + len(traffic))
    [schedule] = DEPLOYMENT.schedules
    client.request("POST", SCHEDULES_PATH + schedule.name)  # EventBridge's hourly tick, run now
    scanned = client.drift_history(MODEL, limit=1)["items"][0]
    say(
        f"   scan ({scanned['trigger']}): {scanned['rows']} captured rows of {scanned['version']}, "
        f"drifted: {', '.join(scanned['drifted_features'])}"
    )
    # The scan covers every model in production: the demo shows its own model's alert.
    own = f"lambdaops: {MODEL} "
    received = [a for a in alerts() if a["Subject"].startswith(own) and "drift" in a["Subject"]]
    for alert in received:
        say(f"   alert on the SNS topic: {alert['Subject']}")
    say("19. retrain_on_drift: the alert started a run on the newest complete dataset")
    retraining = client.list_runs(model=MODEL, limit=1)["items"][0]
    say(f"   run {retraining['run_id']} (trigger {retraining['trigger']}) on {retraining['dataset_uri']}")
    retrained = _follow(client, retraining["run_id"], say)
    _outcome(client, retrained, say)
    metrics = show_operations(client, say)
    return {
        "passed": passed,
        "flagged": flagged,
        "scanned": scanned,
        "alerts": received,
        "retrained": retrained,
        "metrics": metrics,
    }


def show_operations(client: LambdaopsClient, say: Say = print, model: str = MODEL) -> list[str]:
    """The demo's ending: the model's lines of `GET /metrics` (what Prometheus would scrape), and where the
    API's reference is."""
    with urllib.request.urlopen(f"{client.api_url}/metrics", timeout=client.timeout_s) as reply:  # nosec B310 # the client's checked http(s) URL
        exposition = reply.read().decode()
    lines = [line for line in exposition.splitlines() if f'model="{model}"' in line]
    say(f"20. GET /metrics: {model}'s series, as Prometheus scrapes them")
    for line in lines:
        say(f"   {line}")
    say(f"   the whole API, documented: {client.api_url}/docs")
    return lines
