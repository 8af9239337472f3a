"""The shipped Grafana dashboard: what Grafana needs to import it, and PromQL that names only series and
labels `GET /metrics` produces (taken from the collector's declarations, not a list kept here)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from lambdaops.operations import series

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboards" / "grafana" / "lambdaops.json"
PANEL_TYPES = {"timeseries", "stat", "bargauge", "table", "gauge"}
KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
}
LABEL_LISTS = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
MATCHERS = re.compile(r"\{([^}]*)\}")
IDENTIFIER = re.compile(r"(?<![\w$:])([a-zA-Z_:][\w:]*)(\s*\()?")


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def exposed_labels() -> dict[str, set[str]]:
    """Each sample name `GET /metrics` exposes, with its labels."""
    labels: dict[str, set[str]] = {}
    for family in series.FAMILIES:
        for name in family.sample_names:
            quantile = {"quantile"} if family.kind == "summary" and name == family.full_name else set()
            labels[name] = set(family.labels) | quantile
    labels[f"{series.STAGE_INFO}_info"] = {"model", "version", "stage"}
    labels[series.SNAPSHOT_TIME] = set()
    assert set(labels) == series.exposed_names()
    return labels


def parse(expr: str) -> tuple[set[str], set[str]]:
    """(metric names, label names) an expression uses: strings, durations and variables left out."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\[[^\]]*\]", "", text)
    labels = {
        name.strip() for _, names in LABEL_LISTS.findall(text) for name in names.split(",") if name.strip()
    }
    for matchers in MATCHERS.findall(text):
        labels |= {m.group(1) for m in re.finditer(r"([a-zA-Z_]\w*)\s*(=~|!~|!=|=)", matchers)}
    text = MATCHERS.sub("", LABEL_LISTS.sub("", text))
    metrics = {
        match.group(1)
        for match in IDENTIFIER.finditer(text)
        if match.group(2) is None and match.group(1) not in KEYWORDS
    }
    return metrics, labels


def expressions() -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"]) for panel in dashboard()["panels"] for target in panel["targets"]
    ]


def test_the_dashboard_has_what_grafana_needs_to_import_it() -> None:
    board = dashboard()
    assert isinstance(board["title"], str) and board["title"]
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", board["uid"])
    assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 36
    assert {"from", "to"} <= set(board["time"])
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids)
    for panel in board["panels"]:
        assert panel["type"] in PANEL_TYPES, panel["title"]
        assert panel["title"]
        grid = panel["gridPos"]
        assert all(isinstance(grid[key], int) for key in ("h", "w", "x", "y")), panel["title"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [target["refId"] for target in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), panel["title"]
        assert all(target["expr"].strip() for target in panel["targets"])


def test_the_model_variable_lists_the_registrys_models() -> None:
    variables = {variable["name"]: variable for variable in dashboard()["templating"]["list"]}
    assert (
        variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    )
    model = variables["model"]
    assert model["type"] == "query" and model["multi"] and model["includeAll"]
    query = model["query"]["query"]
    [(metric, label)] = re.findall(r"label_values\((\w+),\s*(\w+)\)", query)
    assert label == "model" and label in exposed_labels()[metric]


@pytest.mark.parametrize(("title", "expr"), expressions())
def test_every_query_names_only_exposed_series_and_their_labels(title: str, expr: str) -> None:
    metrics, labels = parse(expr)
    exposed = exposed_labels()
    assert metrics, f"{title}: no metric in {expr}"
    assert metrics <= set(exposed), (
        f"{title}: {sorted(metrics - set(exposed))} is not exposed by GET /metrics"
    )
    allowed = set().union(*(exposed[metric] for metric in metrics))
    assert labels <= allowed, f"{title}: labels {sorted(labels - allowed)} are not on {sorted(metrics)}"


def test_the_model_filter_is_applied_wherever_a_series_has_a_model() -> None:
    exposed = exposed_labels()
    for title, expr in expressions():
        metrics, _ = parse(expr)
        if all("model" in exposed[metric] for metric in metrics):
            assert 'model=~"$model"' in expr, title


def test_the_parser_finds_metrics_and_labels_and_skips_functions_and_variables() -> None:
    metrics, labels = parse(
        'sum by (model, variant) (rate(lambdaops_predictions_total{model=~"$model", a="b{c}"}[5m]))'
        " / on(model) group_left lambdaops_model_stage_info"
    )
    assert metrics == {"lambdaops_predictions_total", "lambdaops_model_stage_info"}
    assert labels == {"model", "variant", "a"}
    assert parse("lambdaops_prediction_latency_secs")[0] == {"lambdaops_prediction_latency_secs"}
