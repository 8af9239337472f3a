"""The one place lambdaops fills moto's gaps (see shared/local-aws-notes.md).

1. Lambda code does not run in moto without Docker: `LocalFunction` loads a function from its declared
   code folder and handler, with its declared environment, and calls it in-process. A function's
   environment is applied while its module is imported (where Powertools and `Settings` read it).
2. `install_lambda_invoke` makes moto's own Lambda invoke path (reached by Step Functions'
   `lambda:invoke` tasks and by the Lambda API) run the registered `LocalFunction`.
3. In AWS, what a function prints goes to CloudWatch Logs, which turns EMF lines into metrics; locally
   `LocalFunction.invoke` captures the invocation's output and puts its EMF metrics to CloudWatch, and
   EMF lines printed by threads outside an invocation (a function's background threads) are put too.
4. moto's CloudWatch computes no percentiles: `install_percentiles` adds pNN statistics.
5. moto's DynamoDB checks a write's conditions and applies it without a lock, so two requests served by
   the moto server's threads can both pass the same condition; `install_serial_writes` makes each write
   atomic, as DynamoDB's are.
6. moto's EventBridge delivers to SQS, logs and buses only (Lambda and Step Functions targets raise), and
   never fires a schedule: `install_event_delivery` delivers to Lambda targets (in-process) and Step
   Functions targets (a moto execution), and `fire_schedule` sends a rule its "Scheduled Event" on demand.
   Delivery happens in the thread that put the event, so a local caller sees its effects when the call
   returns; a failing target is logged, as an asynchronous invocation's failure would be.
7. moto's SageMaker runs no job, and its ASL interpreter has no SageMaker `.sync`: `sagemaker` runs training
   and tuning jobs as local processes (`install_sagemaker`), `sync_tasks` adds the `.sync` integrations.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import math
import os
import re
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from lambdaops.aws import clients as aws_clients
from lambdaops_tools.deployment import FunctionSpec

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
_import_lock = threading.Lock()


@dataclass
class LocalLambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_s * 1000


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


class _OutputRouter(io.TextIOBase):
    """sys.stdout that hands an invoking thread's writes to that invocation, and turns EMF lines that
    other threads print (a function's background thread, such as prediction capture) into metrics too,
    as CloudWatch Logs does for anything a Lambda process prints. Those threads' writes are held per
    thread only while they may be the start of an EMF line; other text passes straight through."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.echo_metrics = True
        """Whether background threads' EMF lines are also printed: as the last invocation chose."""
        self._local = threading.local()

    def write(self, text: str) -> int:
        buffer: list[str] | None = getattr(self._local, "buffer", None)
        if buffer is not None:
            buffer.append(text)
        elif getattr(self._local, "publishing", False):
            self.real.write(text)
        else:
            self._write_background(text)
        return len(text)

    def _write_background(self, text: str) -> None:
        data = getattr(self._local, "pending", "") + text
        self._local.pending = ""
        if getattr(self._local, "mid_line", False):
            head, newline, data = data.partition("\n")
            self.real.write(head + newline)
            if not newline:
                return
            self._local.mid_line = False
        *lines, tail = data.split("\n")
        if lines:
            self._publish_background([line + "\n" for line in lines])
        if tail.startswith("{"):
            self._local.pending = tail
        elif tail:
            self.real.write(tail)
            self._local.mid_line = True

    def _publish_background(self, lines: list[str]) -> None:
        self._local.publishing = True
        try:
            self.publish(lines, self.echo_metrics)
        except Exception:  # a metric lost locally must not break the thread that printed it
            logging.getLogger(__name__).exception("could not put a background thread's EMF metrics")
        finally:
            self._local.publishing = False

    def flush(self) -> None:
        pending = getattr(self._local, "pending", "")
        if pending and getattr(self._local, "buffer", None) is None:
            self.real.write(pending)
            self._local.pending, self._local.mid_line = "", True
        self.real.flush()

    @contextmanager
    def capture(self) -> Iterator[list[str]]:
        buffer: list[str] = []
        self._local.buffer = buffer
        try:
            yield buffer
        finally:
            self._local.buffer = None

    def publish(self, lines: list[str], echo_metrics: bool) -> None:
        """What CloudWatch Logs would do with a process's output: EMF lines become metrics."""
        for line in "".join(lines).splitlines(keepends=True):
            document = None
            if line.startswith("{") and '"_aws"' in line:
                try:
                    document = json.loads(line)
                except ValueError:
                    document = None
            if not isinstance(document, dict) or "CloudWatchMetrics" not in document.get("_aws", {}):
                self.real.write(line)
                continue
            for namespace, data in emf_metric_data(document):
                aws_clients.client("cloudwatch").put_metric_data(Namespace=namespace, MetricData=data)
            if echo_metrics:
                self.real.write(line)


_router_lock = threading.Lock()


def _router() -> _OutputRouter:
    with _router_lock:
        if not isinstance(sys.stdout, _OutputRouter):
            sys.stdout = _OutputRouter(sys.stdout)
        return sys.stdout


def emf_metric_data(document: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """CloudWatch `PutMetricData` calls (namespace, metric data) for one EMF document."""
    from datetime import UTC, datetime

    meta = document["_aws"]
    timestamp = datetime.fromtimestamp(meta["Timestamp"] / 1000, tz=UTC)
    calls = []
    for directive in meta["CloudWatchMetrics"]:
        data = []
        for dimension_set in directive["Dimensions"] or [[]]:
            dimensions = [{"Name": name, "Value": str(document[name])} for name in dimension_set]
            for metric in directive["Metrics"]:
                raw = document[metric["Name"]]
                values = [float(v) for v in (raw if isinstance(raw, list) else [raw])]
                data.append(
                    {
                        "MetricName": metric["Name"],
                        "Dimensions": dimensions,
                        "Timestamp": timestamp,
                        "Values": values,
                        "Unit": metric.get("Unit", "None"),
                    }
                )
        calls.append((directive["Namespace"], data))
    return calls


class LocalFunction:
    """A deployed function's handler, loaded once, invoked like Lambda would."""

    def __init__(self, spec: FunctionSpec, environment: Mapping[str, str], echo_metrics: bool = True) -> None:
        self.spec = spec
        self.environment = dict(environment)
        self.echo_metrics = echo_metrics
        """Also print EMF lines (as CloudWatch Logs would show them); the local stack turns it off."""
        self._module: ModuleType | None = None

    def module(self) -> ModuleType:
        """The function's handler module, imported once with the function's environment."""
        with _import_lock:
            if self._module is None:
                module_name = f"lambdaops_function_{self.spec.name}"
                location = importlib.util.spec_from_file_location(module_name, self.spec.module_file)
                if location is None or location.loader is None:
                    raise ImportError(f"cannot load {self.spec.module_file}")
                module = importlib.util.module_from_spec(location)
                sys.modules[module_name] = module  # annotations resolve through sys.modules
                with _environment(self.environment):
                    location.loader.exec_module(module)
                self._module = module
            return self._module

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        context = LocalLambdaContext(self.spec.name, self.spec.memory_mb, self.spec.timeout_s)
        handler: Handler = getattr(self.module(), self.spec.handler_attribute)
        router = _router()
        router.echo_metrics = self.echo_metrics
        with router.capture() as output:
            try:
                return handler(event, context)
            finally:
                router.publish(output, self.echo_metrics)


_registered: dict[str, LocalFunction] = {}


def install_lambda_invoke(functions: Mapping[str, LocalFunction]) -> None:
    """Route moto's Lambda invocations of these function names to their `LocalFunction`s."""
    from moto.awslambda.models import LambdaFunction

    _registered.update(functions)
    if getattr(LambdaFunction, "_lambdaops_invoke", False):
        return
    moto_invoke = LambdaFunction._invoke_lambda

    def invoke(self: Any, event: Any = None) -> tuple[str, bool, str]:
        local = _registered.get(self.function_name)
        if local is None:
            return moto_invoke(self, event)
        payload = json.loads(event) if isinstance(event, str) else event
        try:
            return json.dumps(local.invoke(payload)), False, ""
        except Exception as error:  # Lambda reports a handler's exception as a function error
            failure = {"errorMessage": str(error), "errorType": type(error).__name__}
            return json.dumps(failure), True, ""

    setattr(LambdaFunction, "_invoke_lambda", invoke)  # noqa: B010
    setattr(LambdaFunction, "_lambdaops_invoke", True)  # noqa: B010


_PERCENTILE = re.compile(r"^p(100(\.0+)?|\d{1,2}(\.\d+)?)$")


def percentile(values: list[float], rank: float) -> float:
    """Nearest-rank percentile, as CloudWatch reports pNN for raw values."""
    ordered = sorted(values)
    index = max(0, math.ceil(rank / 100 * len(ordered)) - 1)
    return ordered[index]


def install_percentiles() -> None:
    """Teach moto's CloudWatch statistics pNN (it returns None for them)."""
    from moto.cloudwatch.models import Statistics

    if getattr(Statistics, "_lambdaops_percentiles", False):
        return
    moto_statistic = Statistics.get_statistics_for_type

    def statistic(self: Any, stat: str) -> Any:
        match = _PERCENTILE.match(stat)
        if match is None:
            return moto_statistic(self, stat)
        values = [float(v) for v in self.metric_single_values_list]  # moto stores Values one by one
        return percentile(values, float(match.group(1))) if values else None

    setattr(Statistics, "get_statistics_for_type", statistic)  # noqa: B010
    setattr(Statistics, "_lambdaops_percentiles", True)  # noqa: B010


_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
_write_lock = threading.RLock()


def install_serial_writes() -> None:
    """Run moto's DynamoDB writes one at a time, so conditional writes are atomic as in DynamoDB."""
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, "_lambdaops_serial_writes", False):
        return
    for name in _WRITES:
        original = getattr(DynamoDBBackend, name)

        def serial(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with _write_lock:
                return _original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, serial)
    setattr(DynamoDBBackend, "_lambdaops_serial_writes", True)  # noqa: B010


_delivery_lock = threading.Lock()
_log = logging.getLogger(__name__)


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """What a target receives: its constant `Input` when it has one, else the event."""
    constant = target.get("Input")
    return json.loads(constant) if constant else event


def _deliver(target: dict[str, Any], event: dict[str, Any], account: str, region: str) -> None:
    arn = target["Arn"]
    service, resource = arn.split(":")[2], arn.split(":", 6)[6]
    payload = _target_input(target, event)
    if service == "lambda":
        local = _registered.get(resource.removeprefix("function:").split(":")[0])
        if local is None:
            _log.error("no local function for EventBridge target %s", arn)
            return
        local.invoke(payload)
    else:
        # The backend moto's own API uses: with execute mode on, the state machines live in the parser's.
        from moto.stepfunctions.responses import get_backend

        # Named, as EventBridge names its executions: unnamed ones collide on `...:None` in execute mode.
        get_backend(account, region).start_execution(arn, str(uuid.uuid4()), json.dumps(payload))


def install_event_delivery() -> None:
    """Deliver EventBridge events to Lambda and Step Functions targets; moto keeps the other kinds."""
    from moto.events.models import Rule

    if getattr(Rule, "_lambdaops_delivery", False):
        return
    moto_send = Rule.send_to_targets

    def send(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if self.scheduled_expression and original_event.get("detail-type") != "Scheduled Event":
            return  # a schedule's rule has no pattern, and moto would match it to every event
        if not self.event_pattern.matches_event(original_event):
            return
        ours = [t for t in self.targets if t["Arn"].split(":")[2] in ("lambda", "states")]
        others = [t for t in self.targets if t not in ours]
        if others:
            with _delivery_lock:  # moto reads `targets`; show it only the kinds it delivers
                saved, self.targets = self.targets, others
                try:
                    moto_send(self, original_event, transform_input)
                finally:
                    self.targets = saved
        for target in ours:
            try:
                _deliver(target, original_event, self.account_id, self.region_name)
            except Exception:
                _log.exception("EventBridge delivery to %s failed", target["Arn"])

    setattr(Rule, "send_to_targets", send)  # noqa: B010
    setattr(Rule, "_lambdaops_delivery", True)  # noqa: B010


def fire_schedule(rule_name: str, account_id: str, region: str) -> None:
    """Send a scheduled rule the event EventBridge would at its next tick."""
    from moto.events.models import events_backends

    rule = events_backends[account_id][region].describe_rule(rule_name, None)
    event: Any = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule.arn],
        "detail": {},
    }
    rule.send_to_targets(event)
