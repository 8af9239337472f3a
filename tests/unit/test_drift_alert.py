"""The drift alert says which model and version drifted, how, and what the reader should do next."""

from __future__ import annotations

import pytest

from lambdaops.monitoring.drift.monitor import alert_message
from lambdaops.monitoring.drift.schemas import DriftReport, FeatureDrift, QualityFinding

URI = "s3://bucket/drift/churn/2026-12-01/r1.json"


def report(*, drifted: bool, quality_failed: bool) -> DriftReport:
    features = {
        "tenure": FeatureDrift(
            kind="numeric", method="wasserstein", statistic=0.4, threshold=0.1, drifted=drifted
        ),
        "plan": FeatureDrift(kind="category", method="js", statistic=0.01, threshold=0.1, drifted=False),
    }
    findings = [
        QualityFinding(check="missing_rate", feature="plan", severity="fail", message="missing rate up")
    ]
    return DriftReport(
        rows=2000,
        features=features,
        drifted_features=["tenure"] if drifted else [],
        drift_share=0.5 if drifted else 0.0,
        dataset_drift_threshold=0.5,
        dataset_drift=drifted,
        data_quality=findings if quality_failed else [],
        data_quality_failed=quality_failed,
        report_id="r1",
        model="churn",
        version="1.2.0",
        created_at="2026-12-01T00:00:00Z",
        trigger="schedule",
        source="captures of 1.2.0: all",
        report_uri=URI,
        duration_ms=12.0,
    )


def test_the_subject_and_message_name_the_model_and_version() -> None:
    subject, message = alert_message(report(drifted=True, quality_failed=False))
    assert subject == "lambdaops: churn 1.2.0: drift in 1 of 2 features"
    assert (message["model"], message["version"], message["report_uri"]) == ("churn", "1.2.0", URI)
    assert list(message)[:3] == ["model", "version", "next_step"]


def test_drift_without_retraining_says_to_read_the_report_then_retrain() -> None:
    _, message = alert_message(report(drifted=True, quality_failed=False))
    step = message["next_step"]
    assert URI in step and "GET /models/churn/drift" in step and "churn 1.2.0's baseline" in step
    assert "POST /training" in step and "canary" in step
    assert "requested" not in step


def test_drift_with_retraining_says_where_to_follow_the_run() -> None:
    _, message = alert_message(report(drifted=True, quality_failed=False), retraining=True)
    step = message["next_step"]
    assert "lambdaops runs --model churn" in step and "gates" in step
    assert "POST /training" not in step


@pytest.mark.parametrize("drifted", [True, False])
def test_a_data_quality_failure_says_to_fix_the_data_first(drifted: bool) -> None:
    subject, message = alert_message(report(drifted=drifted, quality_failed=True), retraining=True)
    assert "1 data-quality failure(s)" in subject
    step = message["next_step"]
    assert step.startswith("Fix the data first")
    assert ("GET /models/churn/drift" in step) is drifted
    assert message["data_quality_failures"][0]["feature"] == "plan"
