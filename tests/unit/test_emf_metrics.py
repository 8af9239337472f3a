"""A request's EMF document: per arm (what the canary reads) and per service, in one document."""

from __future__ import annotations

import json

import pytest

from lambdaops.runtime.metrics import EmfMetrics


def emitted(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    [line] = capsys.readouterr().out.splitlines()
    document: dict[str, object] = json.loads(line)
    return document


def test_a_request_declares_the_arm_and_the_service_dimension_sets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    EmfMetrics("lambdaops", service="lambdaops-predict").request(
        "churn", "1.2.0", "canary", error=True, latency_ms=12.5
    )
    document = emitted(capsys)
    [directive] = document["_aws"]["CloudWatchMetrics"]  # type: ignore[index]
    assert directive["Namespace"] == "lambdaops"
    dimension_sets = [sorted(names) for names in directive["Dimensions"]]
    assert dimension_sets == [["model", "service", "variant", "version"], ["service"]]
    assert {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]} == {
        "Invocations": "Count",
        "Errors": "Count",
        "Latency": "Milliseconds",
    }
    values = {key: document[key] for key in ("model", "version", "variant", "service")}
    assert values == {
        "model": "churn",
        "version": "1.2.0",
        "variant": "canary",
        "service": "lambdaops-predict",
    }
    assert (document["Invocations"], document["Errors"], document["Latency"]) == ([1.0], [1.0], [12.5])


def test_without_a_service_only_the_arm_is_declared(capsys: pytest.CaptureFixture[str]) -> None:
    EmfMetrics("lambdaops", service=None).request(
        "churn", "1.2.0", "production", error=False, latency_ms=None
    )
    document = emitted(capsys)
    [directive] = document["_aws"]["CloudWatchMetrics"]  # type: ignore[index]
    assert [sorted(names) for names in directive["Dimensions"]] == [["model", "variant", "version"]]
    assert "Latency" not in document and document["Errors"] == [0.0]
