"""Step Functions' optimized SageMaker integration in moto's ASL interpreter, `.sync` included.

moto routes `arn:aws:states:::sagemaker:*` to its "unsupported" task class, where `.sync` ends the execution
with an uncatchable `States.Runtime`. `install_sagemaker_sync` routes it to `StateTaskServiceSageMaker`:

- request-response (`sagemaker:createModel`, `sagemaker:createTrainingJob`, ...) calls SageMaker and returns
  its response;
- `createTrainingJob.sync` and `createHyperParameterTuningJob.sync` create the job, poll its Describe* until
  it ends and return that response. `Failed` and `Stopped` raise `States.TaskFailed`, whose cause is the
  describe JSON; stopping the execution stops the job, as AWS does;
- a SageMaker API error is named as Step Functions names it (the AWS SDK for Java's exception class): an error
  the service model declares becomes `SageMaker.<Code>Exception` (`SageMaker.ResourceInUseException`,
  `SageMaker.ResourceLimitExceededException`), any other `SageMaker.AmazonSageMakerException`.

Datetimes in the output are epoch milliseconds, as Step Functions gives them. The other `.sync` SageMaker jobs
(transform, processing, labeling) and `.waitForTaskToken` (AWS has none for SageMaker) are refused when the
state machine is created.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NoReturn, cast

import botocore.session
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback as callback,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for


@dataclass(frozen=True)
class _SyncJob:
    """How `.sync` follows one kind of job: its name parameter, its Describe*, its status field, its Stop*."""

    name_parameter: str
    describe: str
    status_field: str
    stop: str


_SYNC_JOBS = {
    "createTrainingJob": _SyncJob(
        "TrainingJobName", "describe_training_job", "TrainingJobStatus", "stop_training_job"
    ),
    "createHyperParameterTuningJob": _SyncJob(
        "HyperParameterTuningJobName",
        "describe_hyper_parameter_tuning_job",
        "HyperParameterTuningJobStatus",
        "stop_hyper_parameter_tuning_job",
    ),
}
_ENDED = {"Completed": True, "Failed": False, "Stopped": False}  # a Stopped job (MaxRuntime too) is a failure


@functools.cache
def _service_model() -> Any:
    return botocore.session.Session().get_service_model("sagemaker")


def json_friendly(value: Any) -> Any:
    """A SageMaker response as Step Functions passes it on: datetimes as epoch milliseconds."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return int(aware.timestamp() * 1000)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: json_friendly(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_friendly(item) for item in value]
    return value


def sagemaker_error_name(code: str) -> str:
    """The Step Functions error of a SageMaker API error code (see the module docstring)."""
    declared = {shape.name for shape in _service_model().error_shapes}
    if code in declared:
        return f"SageMaker.{code}" if code.endswith("Exception") else f"SageMaker.{code}Exception"
    return "SageMaker.AmazonSageMakerException"


class _JobPoller:
    """The `.sync` resolver: None while the job runs, its describe once it has completed; raises otherwise."""

    def __init__(
        self, client: Any, kind: _SyncJob, name: str, fail: Callable[[dict[str, Any]], NoReturn]
    ) -> None:
        self.client = client
        self.kind = kind
        self.name = name
        self.fail = fail
        self.ended = False

    def __call__(self) -> dict[str, Any] | None:
        described = getattr(self.client, self.kind.describe)(**{self.kind.name_parameter: self.name})
        described.pop("ResponseMetadata", None)
        succeeded = _ENDED.get(described[self.kind.status_field])
        if succeeded is None:
            return None
        self.ended = True
        output = json_friendly(described)
        if not succeeded:
            self.fail(output)
        return dict(output)

    def stop_job(self) -> None:
        with contextlib.suppress(ClientError):  # it may have ended meanwhile
            getattr(self.client, self.kind.stop)(**{self.kind.name_parameter: self.name})


class StateTaskServiceSageMaker(callback.StateTaskServiceCallback):
    """`arn:aws:states:::sagemaker:<action>[.sync]` (see the module docstring)."""

    def __init__(self) -> None:
        # WaitForTaskToken is listed only because moto's callback base interrupts its task token endpoint
        # unconditionally; `_validate_service_integration_is_supported` refuses it in a definition.
        patterns = cast(set[ResourceCondition], {ResourceCondition.Sync, ResourceCondition.WaitForTaskToken})
        super().__init__(supported_integration_patterns=patterns)

    def _operation(self) -> Any:
        action = self.resource.api_action
        name = action[:1].upper() + action[1:]
        return _service_model().operation_model(name) if name in _service_model().operation_names else None

    def _get_supported_parameters(self) -> set[str] | None:
        operation = self._operation()
        if operation is None or operation.input_shape is None:
            return None
        return set(operation.input_shape.members)

    def _validate_service_integration_is_supported(self) -> None:
        condition = self.resource.condition
        if self._get_supported_parameters() is None:
            raise ValueError(
                f"The resource provided {self.resource.resource_arn} is not a SageMaker API action."
            )
        if condition is not None and (
            condition != ResourceCondition.Sync or self.resource.api_action not in _SYNC_JOBS
        ):
            raise ValueError(
                f"The resource provided {self.resource.resource_arn} is not supported locally: SageMaker "
                f"runs .sync for {' and '.join(_SYNC_JOBS)} only, and has no .waitForTaskToken."
            )

    def _client(self, region: str, state_credentials: Any) -> Any:
        return boto_client_for(region=region, service="sagemaker", state_credentials=state_credentials)

    def _eval_service_task(
        self,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> None:
        client = self._client(resource_runtime_part.region, state_credentials)
        response = getattr(client, self._get_boto_service_action())(**normalised_parameters)
        response.pop("ResponseMetadata", None)
        env.stack.append(json_friendly(response))

    def _build_sync_resolver(
        self,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> _JobPoller:
        env.stack.pop()  # the create response: the job is followed by name
        kind = _SYNC_JOBS[self.resource.api_action]

        def fail(described: dict[str, Any]) -> NoReturn:
            failed = StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed)
            raise FailureEventException(self._task_failed(env, failed, json.dumps(described)))

        client = self._client(resource_runtime_part.region, state_credentials)
        return _JobPoller(client, kind, normalised_parameters[kind.name_parameter], fail)

    def _eval_sync(
        self,
        env: Any,
        sync_resolver: Any,
        timeout_seconds: Any,
        callback_endpoint: Any,
        heartbeat_endpoint: Any,
    ) -> Any:
        try:
            return super()._eval_sync(
                env=env,
                sync_resolver=sync_resolver,
                timeout_seconds=timeout_seconds,
                callback_endpoint=callback_endpoint,
                heartbeat_endpoint=heartbeat_endpoint,
            )
        finally:
            if isinstance(sync_resolver, _JobPoller) and not sync_resolver.ended and not env.is_running():
                sync_resolver.stop_job()  # the execution was stopped: AWS stops the job it was waiting on

    def _from_error(self, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return super()._from_error(env=env, ex=ex)
        code = ex.response["Error"]["Code"]
        error = sagemaker_error_name(code)
        metadata = ex.response.get("ResponseMetadata", {})
        cause = (
            f"{ex.response['Error'].get('Message', '')} (Service: AmazonSageMaker; Status Code: "
            f"{metadata.get('HTTPStatusCode')}; Error Code: {code}; Request ID: {metadata.get('RequestId')}; "
            "Proxy: null)"
        )
        return self._task_failed(env, CustomErrorName(error), cause)

    def _task_failed(self, env: Any, error: Any, cause: str) -> FailureEvent:
        """A `TaskFailed` event for `error` (an ErrorName), as moto's own task classes build them."""
        details = TaskFailedEventDetails(
            error=error.error_name,
            cause=cause,
            resource=self._get_sfn_resource(),
            resourceType=self._get_sfn_resource_type(),
        )
        return FailureEvent(
            env=env,
            error_name=error,
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(taskFailedEventDetails=details),  # type: ignore[typeddict-item]
        )


def install_sagemaker_sync() -> None:
    """Route the interpreter's `sagemaker` tasks to `StateTaskServiceSageMaker`. `state_task_factory` imported
    `state_task_service_for` by name, so it is replaced there (and in its own module, for other callers)."""
    if getattr(state_task_factory, "_lambdaops_sagemaker", False):
        return
    moto_service_for = state_task_service_factory.state_task_service_for

    def service_for(service_name: str) -> Any:
        if service_name == "sagemaker":
            return StateTaskServiceSageMaker()
        return moto_service_for(service_name=service_name)

    setattr(state_task_factory, "state_task_service_for", service_for)  # noqa: B010
    setattr(state_task_service_factory, "state_task_service_for", service_for)  # noqa: B010
    setattr(state_task_factory, "_lambdaops_sagemaker", True)  # noqa: B010
