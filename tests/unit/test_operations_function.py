"""The operations function's declaration: its routes, its one layer (no numpy), and its least grants."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import fields

import pytest

from lambdaops_tools.deployment import DEPLOYMENT, function_environment
from lambdaops_tools.grants import GrantTargets
from lambdaops_tools.local.resources import LocalResources

SPEC = DEPLOYMENT.function("operations")
TARGETS = GrantTargets(**{field.name: f"<{field.name}>" for field in fields(GrantTargets)})

PROBE = """
import importlib.util, json, sys
for blocked in json.loads(sys.argv[2]):
    sys.modules[blocked] = None
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
"""


def test_health_and_metrics_are_the_operations_functions_and_readiness_the_predict_functions() -> None:
    routes = {(route.method, route.path): route.function for route in DEPLOYMENT.routes}
    assert routes[("GET", "/health")] == routes[("GET", "/metrics")] == "operations"
    assert routes[("GET", "/health/predict")] == "predict"
    assert {path for (_, path), function in routes.items() if function == "operations"} == {
        "/health",
        "/metrics",
    }


def test_it_runs_on_the_base_layer_and_imports_without_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SPEC.dependency_sets == ("base",)
    for name in list(os.environ):
        if name.startswith("LAMBDAOPS_"):
            monkeypatch.delenv(name)
    for name, value in LocalResources.declared().environment(SPEC).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    blocked = ["numpy", "onnxruntime", "scipy"]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(SPEC.module_file), json.dumps(blocked)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_its_grants_read_the_table_list_the_bucket_and_read_cloudwatch_only() -> None:
    statements = {
        (tuple(sorted(statement.actions)), statement.resources)
        for grant in SPEC.grants
        for statement in grant.statements(TARGETS)
    }
    assert statements == {
        (("dynamodb:GetItem", "dynamodb:Query"), ("<table_arn>",)),
        (("dynamodb:Query",), ("<table_arn>/index/*",)),
        (("s3:ListBucket",), ("<bucket_arn>",)),
        (("cloudwatch:GetMetricData", "cloudwatch:ListMetrics"), ("*",)),
    }
    assert (
        function_environment(SPEC, TARGETS).items()
        >= {
            "LAMBDAOPS_TABLE_NAME": "<table_name>",
            "LAMBDAOPS_BUCKET_NAME": "<bucket_name>",
            "LAMBDAOPS_PREDICTION_SERVICE": "lambdaops-predict",
        }.items()
    )
