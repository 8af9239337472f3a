"""Training runs: starting one (from the API, an upload or a drift alert), reading and listing them.

A run is recorded before its execution starts, under a new run id that also names the execution, so a
run always exists for an execution and a client can follow it at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection
from typing import Any, Protocol

from lambdaops.core.clock import Clock, parse_iso, utc_now
from lambdaops.core.errors import InvalidInput, RunNotFound
from lambdaops.registry.lookups import require_model
from lambdaops.registry.store import RegistryStore
from lambdaops.training.datasets import Dataset, Datasets, dataset_from_uri
from lambdaops.training.jobs import check_job_settings, check_objective
from lambdaops.training.schemas import (
    JobSettings,
    Progress,
    RunPage,
    RunRecord,
    RunStatus,
    StartedRun,
    TrainingRequest,
    Trial,
    Trigger,
)

FIRST_STEP = "Validate"


class RunStore(Protocol):
    def create(self, run: RunRecord) -> None:
        """Writes a new run; `RunAlreadyExists` when its id is taken."""
        ...

    def get(self, run_id: str) -> RunRecord | None: ...

    def update(self, run_id: str, **fields: Any) -> RunRecord:
        """Sets these fields of an existing run and returns it; `RunNotFound` when there is none."""
        ...

    def list(self, model: str | None, status: RunStatus | None, limit: int, token: str | None) -> RunPage:
        """Newest first."""
        ...


class Executions(Protocol):
    def start(self, name: str, payload: dict[str, Any]) -> str:
        """Starts the training state machine; returns the execution ARN."""
        ...


class TrainingJobs(Protocol):
    """What SageMaker says about a run's jobs while and after they run."""

    def trials(self, tuning_job: str) -> list[Trial]: ...

    def progress(self, run: RunRecord) -> Progress | None: ...


def new_run_id(now: str) -> str:
    """`20261201-214939-a1b2`: sortable, short enough that `lambdaops-<run id>` names a tuning job."""
    moment = parse_iso(now)
    return f"{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


class TrainingRuns:
    def __init__(
        self,
        store: RunStore,
        executions: Executions,
        datasets: Datasets,
        registry: RegistryStore,
        instance_types: Callable[[], Collection[str]],
        jobs: TrainingJobs | None = None,
        clock: Clock = utc_now,
        run_id: Callable[[str], str] = new_run_id,
    ) -> None:
        self._store = store
        self._executions = executions
        self._datasets = datasets
        self._registry = registry
        self._instance_types = instance_types
        self._jobs = jobs
        self._clock = clock
        self._run_id = run_id

    def start(
        self, request: TrainingRequest, trigger: Trigger = "api", reason: str | None = None
    ) -> StartedRun:
        """Checks what can be checked without an instance (model, dataset, columns, settings), then starts."""
        require_model(self._registry, request.model)
        dataset = dataset_from_uri(request.dataset_uri, self._datasets.bucket, request.model)
        run = self._resolve(request, dataset)
        check_job_settings(run.settings, self._instance_types())
        check_objective(run.tuning)
        assert run.label is not None  # nosec B101 # narrows a type for mypy; nothing runs with -O
        self._datasets.check(dataset, run.label)
        return self._begin(run.model_copy(update={"trigger": trigger, "reason": reason}))

    def start_for_dataset(self, dataset: Dataset, trigger: Trigger, reason: str | None = None) -> StartedRun:
        """An upload's run: the Validate step reads the manifest, so a bad one fails the run visibly."""
        now = self._clock()
        run = RunRecord(
            run_id=self._run_id(now),
            model=dataset.model,
            status="running",
            step=FIRST_STEP,
            trigger=trigger,
            reason=reason,
            dataset_uri=dataset.uri,
            started_at=now,
        )
        return self._begin(run)

    def _resolve(self, request: TrainingRequest, dataset: Dataset) -> RunRecord:
        """The request's values, else the manifest's (when the dataset has one)."""
        manifest = self._datasets.manifest_if_any(dataset)
        label = request.label or (manifest.label if manifest else None)
        if label is None:
            raise InvalidInput("give 'label': the dataset has no manifest.json naming it", field="label")
        base = manifest.model_dump(include=set(JobSettings.model_fields)) if manifest else {}
        given = request.model_dump(include=set(JobSettings.model_fields), exclude_none=True)
        now = self._clock()
        hyperparameters = request.hyperparameters
        if hyperparameters is None:
            hyperparameters = manifest.hyperparameters if manifest else {}
        return RunRecord(
            run_id=self._run_id(now),
            model=request.model,
            status="running",
            step=FIRST_STEP,
            trigger="api",
            dataset_uri=dataset.uri,
            label=label,
            hyperparameters=hyperparameters,
            tuning=request.tuning or (manifest.tuning if manifest else None),
            settings=JobSettings.model_validate(base | given),
            started_at=now,
        )

    def _begin(self, run: RunRecord) -> StartedRun:
        self._store.create(run)
        try:
            arn = self._executions.start(run.run_id, {"run_id": run.run_id})
        except Exception as error:  # nothing runs it: say so on the run, not only in a log
            self._store.update(
                run.run_id,
                status="failed",
                step="Start",
                ended_at=self._clock(),
                failure={"step": "Start", "error": type(error).__name__, "cause": str(error)[:1000]},
            )
            raise
        self._store.update(run.run_id, execution_arn=arn)
        return StartedRun(run_id=run.run_id, execution_arn=arn)

    def get(self, run_id: str, live: bool = False) -> RunRecord:
        """The run; with `live`, a running job's current status, epoch and metrics from SageMaker."""
        run = self._store.get(run_id)
        if run is None:
            raise RunNotFound(f"no training run '{run_id}'", run_id=run_id)
        if live and run.status == "running" and self._jobs is not None:
            return run.model_copy(update={"progress": self._jobs.progress(run)})
        return run

    def list(self, model: str | None, status: RunStatus | None, limit: int, token: str | None) -> RunPage:
        return self._store.list(model, status, limit, token)
