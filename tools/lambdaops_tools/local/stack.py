"""`lambdaops local`: moto's server in-process, the deployment's resources, and the local API."""

from __future__ import annotations

import getpass
import json
import logging
import os
import socket
import threading
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import requests
from moto.server import ThreadedMotoServer

from lambdaops.aws import clients as aws_clients
from lambdaops_tools.deployment import DEPLOYMENT, Deployment
from lambdaops_tools.local.gateway import LocalGateway
from lambdaops_tools.local.local_runtime import (
    LocalFunction,
    fire_schedule,
    install_event_delivery,
    install_lambda_invoke,
    install_percentiles,
    install_serial_writes,
)
from lambdaops_tools.local.resources import (
    LOCAL_ACCOUNT,
    create_functions_and_state_machines,
    create_local_resources,
)
from lambdaops_tools.local.sagemaker import install_sagemaker, stop_local_training
from lambdaops_tools.local.sync_tasks import install_sagemaker_sync

REGION = "us-east-1"

_FAKE_CREDENTIAL = "testing"  # moto's fixed fake credentials
# Local mode only: dummy credentials, and quiet Powertools (no EMF on stdout, no X-Ray).
_LOCAL_PROCESS_ENV = {
    "AWS_ACCESS_KEY_ID": _FAKE_CREDENTIAL,
    "AWS_SECRET_ACCESS_KEY": _FAKE_CREDENTIAL,
    "AWS_SESSION_TOKEN": _FAKE_CREDENTIAL,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "true",
}
# Local overrides of declared settings: a split or promotion is seen by the next request, not 5 s later,
# and what a function emitted by the next `GET /metrics`, not 60 s later.
_LOCAL_FUNCTION_ENV = {"LAMBDAOPS_ROUTING_CACHE_SECONDS": "0", "LAMBDAOPS_METRICS_CACHE_SECONDS": "0"}


@dataclass(frozen=True)
class LocalStackInfo:
    """What a client needs to reach the local stack; written to the info file as JSON."""

    api_url: str
    aws_endpoint_url: str
    bucket: str
    table: str
    alerts_topic_arn: str
    region: str = REGION


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def default_actor() -> str:
    return f"arn:aws:iam::000000000000:user/{getpass.getuser()}"


class LocalStack:
    """Start with `start()`, stop with `stop()`; one per process, since it sets AWS_ENDPOINT_URL."""

    def __init__(
        self,
        port: int = 0,
        aws_port: int = 0,
        actor: str | None = None,
        deployment: Deployment = DEPLOYMENT,
        function_log_level: str = "WARNING",
    ) -> None:
        self.port = port or free_port()
        self.aws_port = aws_port or free_port()
        self.actor = actor or os.environ.get("LAMBDAOPS_LOCAL_ACTOR") or default_actor()
        self.deployment = deployment
        self.function_log_level = function_log_level
        self._moto: ThreadedMotoServer | None = None
        self._gateway: LocalGateway | None = None
        self.info: LocalStackInfo | None = None
        self._saved_environ: dict[str, str] = {}

    def start(self) -> LocalStackInfo:
        endpoint = f"http://127.0.0.1:{self.aws_port}"
        self._saved_environ = dict(os.environ)
        os.environ.update(_LOCAL_PROCESS_ENV | {"POWERTOOLS_LOG_LEVEL": self.function_log_level})
        os.environ["MOTO_PORT"] = str(self.aws_port)  # moto's own service-to-service calls
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        aws_clients.reset_clients()
        # Routes that record no metric make Powertools warn on every request.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
        # moto's ASL interpreter logs every Fail state it reaches, and rollbacks end in one.
        logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
        install_serial_writes()
        install_sagemaker()  # training and tuning jobs run as local processes
        install_sagemaker_sync()  # and the training machine's `.sync` tasks wait for them
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.aws_port, verbose=False)
        self._moto.start()
        requests.post(
            f"{endpoint}/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}}, timeout=10
        )
        resources = create_local_resources(self.deployment)
        create_functions_and_state_machines(resources, self.deployment)
        functions = {
            spec.name: LocalFunction(
                spec,
                resources.environment(spec) | _LOCAL_FUNCTION_ENV | {"LAMBDAOPS_LOCAL_ACTOR": self.actor},
                echo_metrics=False,
            )
            for spec in self.deployment.functions
        }
        install_lambda_invoke(functions)
        install_event_delivery()
        install_percentiles()
        self._gateway = LocalGateway(
            ("127.0.0.1", self.port),
            self.deployment.routes,
            functions,
            self.actor,
            fire_schedule=self.fire_schedule,
            schedules=tuple(schedule.name for schedule in self.deployment.schedules),
        )
        threading.Thread(target=self._gateway.serve_forever, name="local-api", daemon=True).start()
        self.info = LocalStackInfo(
            api_url=f"http://127.0.0.1:{self.port}",
            aws_endpoint_url=endpoint,
            bucket=resources.bucket_name,
            table=resources.table_name,
            alerts_topic_arn=resources.alerts_topic_arn,
        )
        return self.info

    def fire_schedule(self, name: str) -> None:
        """Run a declared schedule's targets now (locally nothing fires them on their own)."""
        fire_schedule(name, LOCAL_ACCOUNT, REGION)

    def write_info(self, path: Path) -> None:
        assert self.info is not None, "start() first"  # nosec B101 # narrows a type for mypy; nothing runs with -O
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self.info), indent=2) + "\n")

    def stop(self) -> None:
        stop_local_training()
        if self._gateway is not None:
            self._gateway.shutdown()
            self._gateway.server_close()
        if self._moto is not None:
            self._moto.stop()
        if self._saved_environ:
            os.environ.clear()
            os.environ.update(self._saved_environ)
        aws_clients.reset_clients()
