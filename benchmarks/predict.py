"""Prediction benchmarks: `.venv/bin/python benchmarks/predict.py` prints one table per figure.

(a) Warm latency of the predict function (API Gateway event in, response out, through
    `functions/predict/handler.py` on moto, model preloaded) against the named baseline: bare
    `InferenceSession.run` on the very session the handler holds, same model, same rows, measured in
    interleaved blocks in this one run. The models are random-weight MLPs from
    `sample_models.export_mlp`: 16 float inputs, two ReLU layers of H units, a 2-class softmax. H sets
    the inference cost independently of the request size, so the table shows where the handler's fixed
    cost (Powertools resolver, logger, EMF metrics, JSON in and out) stops mattering. Targets: p50 ratio
    <= 2.0x at 1 row, <= 1.15x at 1,000 rows.
(b) Cold start: a fresh Python process imports the handler module and serves its first request, which
    loads the model from S3 (moto's server) into an empty /tmp. Target <= 1.0 s. Measured twice: with
    the venv's compiled .pyc files, and compiled from source as in Lambda, where the layers are built
    with `pip --no-compile` on a read-only /opt (pessimistic: the runtime's own boto3 ships compiled).
    One untimed process first writes the .pyc files that the repository's own modules lack.
(c) The predict function's dependencies unzipped: the files listed in the venv's dist-info RECORDs of
    every package pinned in layers/onnx and layers/base, with and without the .pyc files pip compiled
    into the venv (the layer has none). Target <= 160 MB; scipy must not be among them.
(d) Throughput of the local stack's HTTP predict endpoint (`LocalStack` in this process) under N
    concurrent keep-alive clients.

`--smoke`: every figure at its smallest size, one run each, in seconds: it shows the script still runs
(the test suite runs it), and its figures mean nothing.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.metadata
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "lambdaops" / "python"))

from dependency_size import dependency_size, table  # noqa: E402

from lambdaops.aws import clients as aws_clients  # noqa: E402
from lambdaops.aws.registry_store import DynamoRegistryStore  # noqa: E402
from lambdaops_tools.demo.sample_models import export_mlp  # noqa: E402
from lambdaops_tools.deployment import DEPLOYMENT  # noqa: E402
from lambdaops_tools.local.gateway import match_route, proxy_event  # noqa: E402
from lambdaops_tools.local.local_runtime import LocalFunction, LocalLambdaContext  # noqa: E402
from lambdaops_tools.local.resources import LocalResources, create_local_resources  # noqa: E402

WIDTH = 16
ACTOR = "arn:aws:iam::123456789012:user/bench"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "false",
}


@dataclass(frozen=True)
class Plan:
    """How much of each figure to measure."""

    hidden: tuple[int, ...] = (256, 1024, 2048, 4096)
    request_rows: tuple[int, ...] = (1, 1000)
    blocks: int = 5
    per_block: int | None = None
    """Calls per block; None: as many as take about 0.4 s of bare inference, 5 to 200."""
    warm_up_calls: int = 3
    cold_start_runs: int = 5
    cold_start_warm_up: bool = True
    throughput_rows: tuple[int, ...] = (1, 100)
    throughput_clients: tuple[int, ...] = (1, 4, 16)
    throughput_seconds: float = 3.0


FULL = Plan()
SMOKE = Plan(
    hidden=(256,),
    request_rows=(1,),
    blocks=1,
    per_block=1,
    warm_up_calls=1,
    cold_start_runs=1,
    cold_start_warm_up=False,
    throughput_rows=(1,),
    throughput_clients=(1,),
    throughput_seconds=0.3,
)


def model_name(hidden: int) -> str:
    return f"mlp-{WIDTH}x{hidden}"


def rows(count: int, seed: int = 0) -> list[list[float]]:
    """Request rows as a client would send them: six decimals."""
    values: list[list[float]] = np.round(np.random.default_rng(seed).normal(size=(count, WIDTH)), 6).tolist()
    return values


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class Functions:
    """The deployment's functions, invoked in-process like the local runtime does."""

    def __init__(self, resources: LocalResources, extra: dict[str, str]) -> None:
        self.functions = {
            spec.name: LocalFunction(spec, resources.environment(spec) | extra)
            for spec in DEPLOYMENT.functions
        }

    def event(self, method: str, path: str, body: Any) -> dict[str, Any]:
        found = match_route(DEPLOYMENT.routes, method, path)
        assert found is not None, path
        data = json.dumps(body).encode()
        return proxy_event(
            found[0], found[1], method, path, {"Content-Type": "application/json"}, data, ACTOR
        )

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """The handler itself, as Lambda calls it: none of the local runtime's seams (EMF to CloudWatch)."""
        found = match_route(DEPLOYMENT.routes, event["httpMethod"], event["path"])
        assert found is not None
        function = self.functions[found[0].function]
        handler = getattr(function.module(), function.spec.handler_attribute)
        context = LocalLambdaContext(function.spec.name, function.spec.memory_mb, function.spec.timeout_s)
        return handler(event, context)  # type: ignore[no-any-return]

    def call(self, method: str, path: str, body: Any = None) -> Any:
        reply = self.invoke(self.event(method, path, body))
        assert reply["statusCode"] < 300, reply
        return json.loads(reply["body"])


def publish(s3: Any, bucket: str, call: Callable[..., Any], name: str, data: bytes) -> None:
    """Create the model, register 1.0.0 and promote it to production."""
    key = f"models/{name}/1.0.0/model.onnx"
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    call("POST", "/models", {"name": name})
    call("POST", f"/models/{name}/versions", {"artifact_uri": f"s3://{bucket}/{key}", "version": "1.0.0"})
    for stage in ("staging", "production"):
        call("POST", f"/models/{name}/versions/1.0.0/stage", {"stage": stage})


def interleaved_p50(
    first: Callable[[], Any], second: Callable[[], Any], per_block: int, blocks: int
) -> tuple[float, float]:
    """p50 seconds of each callable, measured in alternating blocks so drift hits both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(blocks):
        for arm, call in enumerate((first, second)):
            for _ in range(per_block):
                started = time.perf_counter()
                call()
                times[arm].append(time.perf_counter() - started)
    return statistics.median(times[0]), statistics.median(times[1])


def warm_latency(plan: Plan) -> None:
    from moto import mock_aws

    names = [model_name(hidden) for hidden in plan.hidden]
    lines = []
    with (
        environment(AWS_ENV),
        mock_aws(),
        open(os.devnull, "w") as devnull,
        tempfile.TemporaryDirectory(prefix="lambdaops-bench-") as cache,  # the largest model: 67 MB
    ):
        settings = {
            "LAMBDAOPS_ARTIFACT_CACHE_DIR": cache,
            "LAMBDAOPS_PRELOAD_MODELS": ",".join(names),
            "LAMBDAOPS_CAPTURE_SAMPLE_RATE": "0",
        }
        aws_clients.reset_clients()
        resources = create_local_resources()
        functions = Functions(resources, settings)
        s3 = boto3.client("s3")
        with redirect_stdout(devnull):  # EMF documents: CloudWatch's job in Lambda
            for hidden, name in zip(plan.hidden, names, strict=True):
                publish(s3, resources.bucket_name, functions.call, name, export_mlp(WIDTH, hidden))
            captured = Functions(
                resources,
                settings | {"LAMBDAOPS_CAPTURE_SAMPLE_RATE": "1", "LAMBDAOPS_PRELOAD_MODELS": names[-1]},
            )
            handler = functions.functions["predict"].module()  # init: preloads and warms every model
            captured_handler = captured.functions["predict"].module()
            store = DynamoRegistryStore(boto3.client("dynamodb"), resources.table_name)
            for hidden, name in zip(plan.hidden, names, strict=True):
                record = store.get_version(name, "1.0.0")
                assert record is not None
                loaded = handler.models.get(record)
                for count in plan.request_rows:
                    body = rows(count)
                    event = functions.event("POST", f"/models/{name}/predict", {"instances": body})
                    feed = {loaded.input_name: np.asarray(body, dtype=np.float32)}
                    reply = functions.invoke(event)
                    assert reply["statusCode"] == 200, reply
                    expected = loaded.session.run(None, feed)[0].tolist()
                    assert json.loads(reply["body"])["predictions"] == expected
                    single = loaded.session.run
                    started = time.perf_counter()
                    single(None, feed)
                    per_block = plan.per_block or max(
                        5, min(200, int(0.4 / max(time.perf_counter() - started, 1e-6)))
                    )
                    for _ in range(plan.warm_up_calls):
                        functions.invoke(event)
                    handler_s, bare_s = interleaved_p50(
                        lambda event=event: functions.invoke(event),
                        lambda feed=feed, single=single: single(None, feed),
                        per_block,
                        plan.blocks,
                    )
                    target = 2.0 if count == 1 else 1.15
                    ratio = handler_s / bare_s
                    lines.append(
                        (
                            f"16-{hidden}-{hidden}-2",
                            count,
                            f"{bare_s * 1e3:.3f}",
                            f"{handler_s * 1e3:.3f}",
                            f"{(handler_s - bare_s) * 1e3:.3f}",
                            f"{ratio:.2f}x",
                            f"<= {target}x",
                            "met" if ratio <= target else "MISSED",
                        )
                    )
                if hidden == plan.hidden[-1]:
                    body = {"instances": rows(count)}
                    event = captured.event("POST", f"/models/{name}/predict", body)
                    capture_s, bare_s = interleaved_p50(
                        lambda event=event: captured.invoke(event),
                        lambda feed=feed, single=single: single(None, feed),
                        per_block,
                        plan.blocks,
                    )
                    captured_handler.capture.flush(timeout=60)
                    lines.append(
                        (
                            f"16-{hidden}-{hidden}-2, capture 1.0",
                            count,
                            f"{bare_s * 1e3:.3f}",
                            f"{capture_s * 1e3:.3f}",
                            f"{(capture_s - bare_s) * 1e3:.3f}",
                            f"{capture_s / bare_s:.2f}x",
                            "(for information)",
                            "",
                        )
                    )
    aws_clients.reset_clients()
    table(
        "(a) warm latency, p50: predict handler (API Gateway event -> response) vs bare InferenceSession.run",
        ("model (MLP layers)", "rows", "bare ms", "handler ms", "overhead ms", "ratio", "target", ""),
        lines,
    )


COLD_START_CHILD = """
import time
started = time.perf_counter()
import importlib.util, json, sys
location = importlib.util.spec_from_file_location("predict_handler", sys.argv[1])
module = importlib.util.module_from_spec(location)
sys.modules["predict_handler"] = module
location.loader.exec_module(module)
imported = time.perf_counter()

class Context:
    function_name, memory_limit_in_mb, aws_request_id = "predict", 2048, "cold-start"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:predict"
    def get_remaining_time_in_millis(self):
        return 30000

reply = module.lambda_handler(json.loads(sys.argv[2]), Context())
answered = time.perf_counter()
print(json.dumps({"import_s": imported - started, "first_request_s": answered - imported,
                  "status": reply["statusCode"], "scipy": "scipy" in sys.modules}))
"""


def _cold_start_once(resources: LocalResources, endpoint: str, event: str, compiled: bool) -> dict[str, Any]:
    spec = DEPLOYMENT.function("predict")
    with tempfile.TemporaryDirectory(prefix="lambdaops-bench-") as scratch:
        env = dict(os.environ) | AWS_ENV | resources.environment(spec)
        env |= {"AWS_ENDPOINT_URL": endpoint, "LAMBDAOPS_ARTIFACT_CACHE_DIR": f"{scratch}/cache"}
        env["PYTHONPATH"] = str(ROOT / "layers" / "lambdaops" / "python")
        # The layers are bundled with --no-compile and /opt is read-only: in Lambda every module is
        # compiled from source at each cold start. An empty pycache prefix makes this process do the same.
        flags = [] if compiled else ["-X", f"pycache_prefix={scratch}/pycache"]
        if compiled:
            # An inherited PYTHONDONTWRITEBYTECODE would leave the repository's own modules (pip compiled
            # only the venv's) compiled from source in every run.
            env.pop("PYTHONDONTWRITEBYTECODE", None)
        else:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, *flags, "-c", COLD_START_CHILD, str(spec.module_file), event],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"the cold-start process failed ({done.returncode}):\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == 200, done.stdout
    assert not result["scipy"], "the predict function imported scipy"
    return result | {"wall_s": wall}


def cold_start(resources: LocalResources, endpoint: str, name: str, runs: int, warm_up: bool) -> None:
    functions = Functions(resources, {})
    event = json.dumps(functions.event("POST", f"/models/{name}/predict", {"instances": rows(1)}))
    if warm_up:
        _cold_start_once(resources, endpoint, event, compiled=True)  # untimed: writes the missing .pyc
    lines = []
    for compiled, label in ((True, "with the venv's .pyc"), (False, "from source, as the layer ships")):
        results = [_cold_start_once(resources, endpoint, event, compiled) for _ in range(runs)]

        def median(key: str, results: list[dict[str, Any]] = results) -> float:
            return statistics.median(result[key] for result in results)

        total = median("import_s") + median("first_request_s")
        lines.append(
            (
                label,
                f"{median('import_s'):.3f}",
                f"{median('first_request_s'):.3f}",
                f"{total:.3f}",
                "met" if total <= 1.0 else "MISSED",
                f"{median('wall_s'):.3f}",
            )
        )
    table(
        f"(b) cold start of the predict function, median of {runs} fresh processes each ({name}, 1 row);"
        " target: import + first request <= 1.0 s",
        ("modules", "import s", "first request s", "import + request s", "target", "process wall s"),
        lines,
    )
    print(
        "  import: Settings, boto3 clients, resolver; first request: onnxruntime import, DynamoDB reads,"
        " S3 download, sha256, session, inference.\n  process wall adds interpreter start and exit."
    )


def _client_load(
    host: str, port: int, path: str, body: bytes, deadline: float, out: list[tuple[int, float]]
) -> None:
    connection = http.client.HTTPConnection(host, port, timeout=60)
    mine = []
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        mine.append((response.status, time.perf_counter() - started))
    connection.close()
    out.extend(mine)  # list.extend is atomic under the GIL


def throughput(api_url: str, name: str, plan: Plan) -> None:
    host, port = api_url.removeprefix("http://").split(":")
    seconds = plan.throughput_seconds
    lines = []
    for count in plan.throughput_rows:
        body = json.dumps({"instances": rows(count)}).encode()
        for clients in plan.throughput_clients:
            results: list[tuple[int, float]] = []
            deadline = time.perf_counter() + seconds
            threads = [
                threading.Thread(
                    target=_client_load,
                    args=(host, int(port), f"/models/{name}/predict", body, deadline, results),
                )
                for _ in range(clients)
            ]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
            latencies = [latency for _, latency in results]
            lines.append(
                (
                    count,
                    clients,
                    len(results),
                    f"{len(results) / elapsed:.0f}",
                    f"{statistics.median(latencies) * 1e3:.1f}",
                    f"{np.percentile(latencies, 99) * 1e3:.1f}",
                    sum(status != 200 for status, _ in results),
                )
            )
    table(
        f"(d) local stack over HTTP, keep-alive clients in this process: POST /models/{name}/predict,"
        f" {seconds:g} s per line (capture on and EMF put to moto's CloudWatch, as the local stack runs)",
        ("rows", "clients", "requests", "requests/s", "p50 ms", "p99 ms", "errors"),
        lines,
    )


def local_stack_figures(plan: Plan) -> None:
    from lambdaops_tools.client import LambdaopsClient
    from lambdaops_tools.local.stack import LocalStack

    stack = LocalStack()
    info = stack.start()
    try:
        s3 = boto3.client("s3", endpoint_url=info.aws_endpoint_url)
        client = LambdaopsClient(info.api_url)
        name = model_name(plan.hidden[0])
        publish(s3, info.bucket, client.request, name, export_mlp(WIDTH, plan.hidden[0]))
        # The stack's own resources, as it built them: creating them again is idempotent.
        resources = create_local_resources(stack.deployment)
        cold_start(resources, info.aws_endpoint_url, name, plan.cold_start_runs, plan.cold_start_warm_up)
        throughput(info.api_url, name, plan)
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--smoke", action="store_true", help="smallest sizes, one run each (seconds)")
    plan = SMOKE if parser.parse_args().smoke else FULL
    # Routes that record no metric make Powertools warn on every request (the local stack mutes it too).
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    ort_version = importlib.metadata.version("onnxruntime")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, onnxruntime {ort_version}")
    print("load average (1, 5, 15 min) at the start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    if plan is SMOKE:
        print("smoke run: the smallest sizes, one run each; its figures measure nothing")
    started = time.perf_counter()
    dependency_size("predict", target_mb=160, forbidden=("scipy",), label="c")
    warm_latency(plan)
    local_stack_figures(plan)
    print(
        f"\nwhole run: {time.perf_counter() - started:.0f} s; load average at the end:"
        " {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    )


if __name__ == "__main__":
    main()
