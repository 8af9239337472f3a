"""The dashboard: a model picker over the `model` dimension, and SEARCH graphs that follow it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.components.dashboard import MODEL
from lambdaops.core.semver import MODEL_NAME_PATTERN
from lambdaops.training.pipeline import TRAINING_RUNS
from lambdaops_tools.deployment import METRICS_NAMESPACE
from tests.infra.conftest import Synthesized

SEARCH = re.compile(r"SEARCH\('\{([^}]*)\} MetricName=\"(\w+)\" model=\"(\w+)\"(.*?)', '(\w+)', (\d+)\)")


def body(synthesized: Synthesized) -> dict[str, Any]:
    """The dashboard's JSON, each CloudFormation reference in it read as the text `TOKEN`."""
    [dashboard] = synthesized.resources("AWS::CloudWatch::Dashboard").values()
    text = dashboard["Properties"]["DashboardBody"]
    if isinstance(text, dict):
        separator, parts = text["Fn::Join"]
        text = separator.join(part if isinstance(part, str) else "TOKEN" for part in parts)
    return dict(json.loads(text))


def widgets(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return {widget["properties"].get("title", ""): widget for widget in body(synthesized)["widgets"]}


def searches(widget: dict[str, Any]) -> list[tuple[str, str, str, str, str, int]]:
    """(schema, metric, model, extra filter, statistic, period) of each SEARCH the widget graphs."""
    found = []
    for metric in widget["properties"]["metrics"]:
        for part in metric:
            if isinstance(part, dict) and "expression" in part:
                [match] = SEARCH.findall(part["expression"])
                schema, name, model, extra, statistic, period = match
                found.append((schema, name, model, extra, statistic, int(period)))
    return found


def test_the_model_variable_picks_from_the_models_that_predicted(synthesized: Synthesized) -> None:
    [variable] = body(synthesized)["variables"]
    assert (variable["type"], variable["inputType"], variable["id"]) == ("pattern", "select", "model")
    assert variable["pattern"] == MODEL
    # Upper case, so it can never be a real model name that the swap would rewrite.
    assert not re.match(MODEL_NAME_PATTERN, MODEL) and not re.match(MODEL_NAME_PATTERN, MODEL.lower())
    search = variable["search"]
    assert search == f'{{{METRICS_NAMESPACE},model,service,variant,version}} MetricName="Invocations"'
    assert variable["populateFrom"] == "model"


PREDICTION_SCHEMA = f"{METRICS_NAMESPACE},model,service,variant,version"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Invocations per variant and version", [("Invocations", "Sum", 300)]),
        # Errors is 0 or 1 per invocation: its average is the rate.
        ("Error rate per variant and version", [("Errors", "Average", 300)]),
        ("Latency p50 and p99 per variant and version", [("Latency", "p50", 300), ("Latency", "p99", 300)]),
    ],
)
def test_prediction_graphs_follow_the_picked_model_per_variant(
    synthesized: Synthesized, title: str, expected: list[tuple[str, str, int]]
) -> None:
    found = searches(widgets(synthesized)[title])
    assert [(name, statistic, period) for _, name, _, _, statistic, period in found] == expected
    for schema, _, model, extra, _, _ in found:
        assert (schema, model, extra) == (PREDICTION_SCHEMA, MODEL, "")


def test_drift_and_training_graphs_follow_the_picked_model(synthesized: Synthesized) -> None:
    graphs = widgets(synthesized)
    assert searches(graphs["Drift score per feature (hourly scan)"]) == [
        (f"{METRICS_NAMESPACE},feature,model,service", "DriftScore", MODEL, "", "Maximum", 3600)
    ]
    assert searches(graphs["Dataset drift (1 = drifted)"]) == [
        (f"{METRICS_NAMESPACE},model,service", "DatasetDrift", MODEL, "", "Maximum", 3600)
    ]
    runs = graphs["Training runs by outcome"]
    assert searches(runs) == [
        (f"{METRICS_NAMESPACE},model,service,status", TRAINING_RUNS, MODEL, "", "Sum", 3600)
    ]
    assert TRAINING_RUNS == "TrainingRuns"
    assert ["AWS/States", "ExecutionsFailed", "StateMachineArn", "TOKEN"] in [
        metric[:4] for metric in runs["properties"]["metrics"]
    ]


def test_canary_graphs_show_the_picked_models_arms_and_the_rollouts(synthesized: Synthesized) -> None:
    graphs = widgets(synthesized)
    arms = ' (variant="canary" OR variant="incumbent")'
    assert searches(graphs["Canary steps: requests per arm"]) == [
        (PREDICTION_SCHEMA, "Invocations", MODEL, arms, "Sum", 300)
    ]
    assert searches(graphs["Canary steps: error rate and p99 per arm"]) == [
        (PREDICTION_SCHEMA, "Errors", MODEL, arms, "Average", 300),
        (PREDICTION_SCHEMA, "Latency", MODEL, arms, "p99", 300),
    ]
    rollouts = [metric[:2] for metric in graphs["Canary rollouts (all models)"]["properties"]["metrics"]]
    assert rollouts == [
        ["AWS/States", "ExecutionsStarted"],
        ["AWS/States", "ExecutionsSucceeded"],
        ["AWS/States", "ExecutionsFailed"],
    ]


def test_the_dashboard_shows_every_alarm(synthesized: Synthesized) -> None:
    [status] = [w for w in body(synthesized)["widgets"] if w["type"] == "alarm"]
    assert len(status["properties"]["alarms"]) == len(synthesized.resources("AWS::CloudWatch::Alarm"))
