"""Step Functions adapters: running canary rollouts, and starting training runs."""

from __future__ import annotations

import json
from typing import Any

from lambdaops.promotion.schemas import RolloutState


class StepFunctionsRollouts:
    """`RolloutRunner`: one execution of the canary state machine per rollout."""

    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._sfn = client
        self._arn = state_machine_arn

    def start(self, name: str, state: RolloutState) -> str:
        reply = self._sfn.start_execution(stateMachineArn=self._arn, name=name, input=state.model_dump_json())
        return str(reply["executionArn"])

    def status(self, execution_arn: str) -> str:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED."""
        return str(self._sfn.describe_execution(executionArn=execution_arn)["status"])


class StepFunctionsExecutions:
    """`Executions` of the training state machine, each named by its run id."""

    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._sfn = client
        self._arn = state_machine_arn

    def start(self, name: str, payload: dict[str, Any]) -> str:
        reply = self._sfn.start_execution(stateMachineArn=self._arn, name=name, input=json.dumps(payload))
        return str(reply["executionArn"])
