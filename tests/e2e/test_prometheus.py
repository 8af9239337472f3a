"""A real Prometheus server scrapes the local stack's `GET /metrics`, and its own query API answers with
the prediction counter the traffic produced; the shipped dashboard's queries run on it too.

Needs Debian's `prometheus` package (/usr/bin/prometheus): in CI (`CI` set) its absence fails the test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.error import URLError

import pytest

from lambdaops_tools.demo.sample_models import train_logistic_regression
from lambdaops_tools.local.stack import free_port

from .conftest import RunningStack

INSTALL = "sudo apt-get install -y prometheus"
DASHBOARD = Path(__file__).resolve().parents[2] / "dashboards" / "grafana" / "lambdaops.json"
MODEL = "prometheus-scraped"
ROWS = [[24.0, 79.5, 1.0, 12.5], [3.0, 120.0, 4.0, 2.0]]
T = TypeVar("T")


def prometheus_binary() -> str:
    found = shutil.which("prometheus") or (
        "/usr/bin/prometheus" if Path("/usr/bin/prometheus").is_file() else None
    )
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"no prometheus binary in CI: .ci/run installs it ({INSTALL})")
        pytest.skip(f"no prometheus binary; install it with: {INSTALL}")
    return found


def until(check: Callable[[], T | None], deadline_s: float, what: str | Callable[[], str]) -> T:
    """Poll `check` until it returns something, or fail at the deadline saying what never happened
    (`what` may be a callable, asked only then)."""
    deadline = time.monotonic() + deadline_s
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what() if callable(what) else what} within {deadline_s} s")
        time.sleep(0.2)


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, **query: str) -> Any:
        address = f"{self.url}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        with urllib.request.urlopen(address, timeout=10) as reply:
            return json.loads(reply.read())

    def query(self, expr: str) -> list[dict[str, Any]]:
        answer = self.get("/api/v1/query", query=expr)
        assert answer["status"] == "success", answer
        return answer["data"]["result"]  # type: ignore[no-any-return]

    def target_health(self) -> str:
        """The scrape target's health and last error, for a failure's message."""
        targets = self.get("/api/v1/targets")["data"]["activeTargets"]
        return "; ".join(f"{t['health']}: {t['lastError'] or 'no error'}" for t in targets) or "no target"

    def ready(self) -> bool | None:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as reply:
                return True if reply.status == 200 else None
        except (URLError, ConnectionError):
            return None


@pytest.fixture(scope="module")
def prometheus(stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    binary = prometheus_binary()
    folder = tmp_path_factory.mktemp("prometheus")
    target = urllib.parse.urlsplit(stack.info["api_url"]).netloc
    config = folder / "prometheus.yml"
    config.write_text(
        # The session's stack serves every e2e test's models, so a scrape may take seconds on moto.
        "global:\n  scrape_interval: 5s\n  scrape_timeout: 5s\n  evaluation_interval: 5s\n"
        "scrape_configs:\n"
        "  - job_name: lambdaops\n    metrics_path: /metrics\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    port = free_port()
    log = (folder / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Prometheus(f"http://127.0.0.1:{port}")
    try:
        until(lambda: server.ready() or (_exited(process, folder)), 60, "Prometheus was not ready")
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _exited(process: subprocess.Popen[bytes], folder: Path) -> None:
    if process.poll() is not None:
        pytest.fail("prometheus exited:\n" + (folder / "prometheus.log").read_text()[-3000:])


@pytest.fixture(scope="module")
def traffic(stack: RunningStack) -> dict[str, int]:
    """A model in production that answered 3 requests, and a named version that answered 2."""
    client = stack.client
    client.create_model(MODEL)
    model = train_logistic_regression(50)
    for version in ("1.0.0", "1.1.0"):
        uri = stack.upload(f"models/{MODEL}/{version}/model.onnx", model.onnx_bytes)
        client.register_version(MODEL, uri, version=version)
    client.set_stage(MODEL, "1.0.0", "staging")
    client.set_stage(MODEL, "1.0.0", "production")
    for _ in range(3):
        client.predict(MODEL, ROWS)
    for _ in range(2):
        client.predict(MODEL, ROWS, version="1.1.0")
    return {"production": 3, "requested": 2}


def test_prometheus_scrapes_the_prediction_counter_with_its_labels_and_value(
    stack: RunningStack, prometheus: Prometheus, traffic: dict[str, int]
) -> None:
    expr = f'lambdaops_predictions_total{{model="{MODEL}"}}'

    def both_arms() -> list[dict[str, Any]] | None:
        result = prometheus.query(expr)
        values = {series["metric"]["variant"]: float(series["value"][1]) for series in result}
        return result if values == {k: float(v) for k, v in traffic.items()} else None

    result = until(both_arms, 120, lambda: f"{expr} did not reach {traffic} ({prometheus.target_health()})")

    by_variant = {series["metric"]["variant"]: series["metric"] for series in result}
    assert by_variant["production"] == {
        "__name__": "lambdaops_predictions_total",
        "model": MODEL,
        "version": "1.0.0",
        "variant": "production",
        "job": "lambdaops",
        "instance": urllib.parse.urlsplit(stack.info["api_url"]).netloc,
    }
    assert by_variant["requested"]["version"] == "1.1.0"
    [up] = prometheus.query('up{job="lambdaops"}')
    assert up["value"][1] == "1"
    [target] = prometheus.get("/api/v1/targets")["data"]["activeTargets"]
    assert target["health"] == "up" and target["lastError"] == ""
    errors = prometheus.query(f'lambdaops_prediction_errors_total{{model="{MODEL}"}}')
    assert {float(series["value"][1]) for series in errors} == {0.0}
    [stage] = prometheus.query(f'lambdaops_model_stage_info{{model="{MODEL}"}}')
    assert stage["metric"]["version"] == "1.0.0" and stage["metric"]["stage"] == "production"


def test_every_dashboard_query_runs_on_prometheus(prometheus: Prometheus, traffic: dict[str, int]) -> None:
    """The shipped dashboard's PromQL, with Grafana's variables filled in, is valid for Prometheus."""
    board = json.loads(DASHBOARD.read_text())
    expressions = [target["expr"] for panel in board["panels"] for target in panel["targets"]]
    until(
        lambda: prometheus.query("lambdaops_predictions_total") or None,
        120,
        lambda: f"no scrape landed ({prometheus.target_health()})",
    )
    for expr in expressions:
        filled = expr.replace("$model", ".*").replace("$__rate_interval", "1m").replace("$__range", "1h")
        prometheus.query(filled)  # asserts status success
