"""The end-to-end demo: a user's first session with lambdaops, over HTTP against the local stack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambdaops.client import ApiError, LambdaopsClient
from lambdaops.local.sample_models import TrainedModel, train_logistic_regression

MODEL = "churn-classifier"
POLICY = {
    "thresholds": [{"metric": "accuracy", "min": 0.7}],
    "must_beat_production": [{"metric": "accuracy", "min_delta": 0.0}],
    "require_approval_for_production": True,
}
APPROVER = "arn:aws:iam::000000000000:user/reviewer"

Say = Callable[[str], None]


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
    say(f"1. create model '{MODEL}' with promotion gates {POLICY}")
    client.create_model(MODEL, "Predicts which customers will churn", {"team": "growth"}, POLICY)

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
