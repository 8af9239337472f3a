"""The training state machine's steps (statemachines/train_and_register.asl.json), one method each.

Each takes the machine's state and returns it updated. The run's `step` always names the state the run is
in: each step records itself as it starts, and the step before a SageMaker or drift task records that
task, so a failure caught anywhere is recorded against the step that failed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from lambdaops.core.clock import Clock, utc_now
from lambdaops.core.errors import ArtifactIntegrityError, LambdaopsError, PolicyViolation, TrainingFailed
from lambdaops.core.observability import Metrics
from lambdaops.promotion.schemas import StageChangeRequest, StepError
from lambdaops.promotion.stage_changes import Promotion
from lambdaops.registry.artifacts import ArtifactStore, artifact_key
from lambdaops.registry.catalog import Registry
from lambdaops.registry.lookups import require_model
from lambdaops.registry.schemas import Lineage, RegisterVersionRequest
from lambdaops.registry.stages import Stage
from lambdaops.registry.store import RegistryStore
from lambdaops.training.datasets import TRAIN, Datasets, dataset_from_uri
from lambdaops.training.evaluation import HoldoutRows, read_model_archive, score
from lambdaops.training.jobs import JobPlanner, check_job_settings, check_objective
from lambdaops.training.runs import RunStore, TrainingJobs
from lambdaops.training.schemas import JobSettings, PromotionOutcome, RunFailure, RunRecord

ACTOR = "lambdaops-training"
"""Who registers and promotes a run's version, in the registry's history."""
MAX_CAUSE = 2000
TRAINING_RUNS = "TrainingRuns"
"""Counted once when a run ends, by `model` and `status` (`succeeded` or `failed`); Powertools adds
`service`. A CloudWatch dashboard and `GET /metrics` read it by this name."""


class PutObject(Protocol):
    def __call__(self, key: str, body: bytes) -> None: ...


class Plan(BaseModel):
    kind: Literal["training", "tuning"]
    request: dict[str, Any]
    """`CreateTrainingJob` or `CreateHyperParameterTuningJob` parameters."""
    model: str
    train_uri: str
    evaluation_uri: str


class JobResult(BaseModel):
    """The selected fields of the (best) training job's description."""

    training_job: str
    model_artifacts: str
    final_metrics: list[dict[str, Any]] = []


class TuningResult(BaseModel):
    tuning_job: str
    best_training_job: str


class Candidate(BaseModel):
    artifact_uri: str
    description: str


class Summary(BaseModel):
    subject: str
    message: str


class PipelineState(BaseModel):
    """What the training machine carries from state to state; states it does not model pass through."""

    model_config = ConfigDict(extra="allow")

    run_id: str
    plan: Plan | None = None
    training: JobResult | None = None
    tuning: TuningResult | None = None
    candidate: Candidate | None = None
    registered_version: str | None = None
    summary: Summary | None = None
    error: StepError | None = None


def readable_cause(error: StepError) -> tuple[str, str]:
    """(error, cause) as a person reads them: a Lambda's message, a SageMaker job's FailureReason."""
    try:
        cause = json.loads(error.Cause)
    except ValueError:
        return error.Error, error.Cause[:MAX_CAUSE]
    if isinstance(cause, dict):
        if "errorMessage" in cause:
            return str(cause.get("errorType") or error.Error), str(cause["errorMessage"])[:MAX_CAUSE]
        if "FailureReason" in cause or "TrainingJobStatus" in cause:
            status = cause.get("TrainingJobStatus") or cause.get("HyperParameterTuningJobStatus")
            reason = cause.get("FailureReason") or cause.get("SecondaryStatus") or "no reason given"
            return error.Error, f"job {status}: {reason}"[:MAX_CAUSE]
    return error.Error, error.Cause[:MAX_CAUSE]


class TrainingPipeline:
    def __init__(
        self,
        *,
        runs: RunStore,
        datasets: Datasets,
        planner: JobPlanner,
        instance_types: Callable[[], Collection[str]],
        registry_store: RegistryStore,
        registry: Registry,
        promotion: Promotion,
        artifacts: ArtifactStore,
        put_object: PutObject,
        jobs: TrainingJobs,
        max_data_bytes: int,
        metrics: Metrics,
        clock: Clock = utc_now,
    ) -> None:
        self._runs = runs
        self._datasets = datasets
        self._planner = planner
        self._instance_types = instance_types
        self._store = registry_store
        self._registry = registry
        self._promotion = promotion
        self._artifacts = artifacts
        self._put = put_object
        self._jobs = jobs
        self._max_bytes = max_data_bytes
        self._metrics = metrics
        self._clock = clock

    def _run(self, state: PipelineState, step: str) -> RunRecord:
        return self._runs.update(state.run_id, step=step)

    def validate(self, state: PipelineState, execution_arn: str) -> PipelineState:
        """The manifest (for an upload), the model, the settings and the dataset's columns; plans the job."""
        run = self._runs.update(state.run_id, step="Validate", execution_arn=execution_arn)
        require_model(self._store, run.model)
        dataset = dataset_from_uri(run.dataset_uri, self._datasets.bucket, run.model)
        if run.label is None:  # an upload: everything comes from its manifest
            manifest = self._datasets.manifest(dataset)
            run = self._runs.update(
                run.run_id,
                label=manifest.label,
                hyperparameters=manifest.hyperparameters,
                tuning=manifest.tuning.model_dump() if manifest.tuning else None,
                settings=manifest.model_dump(include=set(JobSettings.model_fields)),
            )
        check_job_settings(run.settings, self._instance_types())
        check_objective(run.tuning)
        assert run.label is not None  # nosec B101 # narrows a type for mypy; nothing runs with -O
        layout = self._datasets.check(dataset, run.label)
        tuned = run.tuning is not None
        request = self._planner.tuning_job(run, layout) if tuned else self._planner.training_job(run, layout)
        job = request.get("HyperParameterTuningJobName") or request["TrainingJobName"]
        self._runs.update(
            run.run_id,
            step="Tune" if tuned else "Train",
            **({"tuning_job": job} if tuned else {"training_job": job}),
        )
        plan = Plan(
            kind="tuning" if tuned else "training",
            request=request,
            model=run.model,
            train_uri=dataset.file_uri(TRAIN),
            evaluation_uri=dataset.file_uri(layout.evaluation_file),
        )
        return state.model_copy(update={"plan": plan})

    def evaluate(self, state: PipelineState) -> PipelineState:
        """Scores the new artifact and production on the holdout rows; keeps the ONNX file for registering."""
        run = self._run(state, "Evaluate")
        assert state.plan is not None and state.training is not None  # nosec B101 # narrows a type for mypy; nothing runs with -O
        trained = read_model_archive(self._fetch(state.training.model_artifacts))
        rows = HoldoutRows(
            self._fetch(state.plan.evaluation_uri), state.plan.evaluation_uri.rsplit("/", 1)[-1]
        )
        truth = rows.labels(trained.label, trained.classes)
        metrics = score(trained.onnx, rows.matrix(trained.input_schema), truth)
        production, parent = self._production_metrics(run.model, rows, trained.label, trained.classes)
        key = f"models/{run.model}/training/{run.run_id}/model.onnx"
        self._put(key, trained.onnx)
        job_metrics = {m["MetricName"]: float(m["Value"]) for m in state.training.final_metrics}
        updates: dict[str, Any] = {
            "training_job": state.training.training_job,
            "job_metrics": job_metrics,
            "metrics": metrics,
            "production_metrics": production,
            "step": "Register",
        }
        if state.tuning is not None:
            updates["trials"] = [t.model_dump() for t in self._jobs.trials(state.tuning.tuning_job)]
        self._runs.update(run.run_id, **updates)
        register = RegisterVersionRequest(
            artifact_uri=f"s3://{self._datasets.bucket}/{key}",
            bump="minor",
            metrics=metrics,
            params=_params(trained.hyperparameters, trained.label, trained.classes),
            input_schema=trained.input_schema,
            lineage=Lineage(
                dataset_uri=run.dataset_uri,
                training_job=state.training.training_job,
                tuning_job=state.tuning.tuning_job if state.tuning else None,
                execution_arn=run.execution_arn,
                parent_version=parent,
            ),
            tags={"lambdaops:run": run.run_id, "lambdaops:trigger": run.trigger},
            description=f"trained by run {run.run_id} ({run.trigger}) on {run.dataset_uri}",
        )
        return state.model_copy(
            update={
                "candidate": Candidate(artifact_uri=register.artifact_uri, description=register.description)
            }
            | {"register": register.model_dump(mode="json")}
        )

    def _fetch(self, uri: str) -> bytes:
        bucket = self._datasets.bucket
        if not uri.startswith(f"s3://{bucket}/"):
            raise TrainingFailed(f"{uri} is not in the artifacts bucket {bucket}", reason="outside_bucket")
        return self._artifacts.fetch(uri[len(f"s3://{bucket}/") :], self._max_bytes).data

    def _production_metrics(
        self, model: str, rows: HoldoutRows, label: str, classes: tuple[str, ...]
    ) -> tuple[dict[str, float] | None, str | None]:
        """Production's metrics on the same rows (its own schema and classes), or None when it has none
        or cannot score these rows: a comparison, never a reason to fail the run."""
        state = require_model(self._store, model)
        version = state.record.production_version
        if version is None:
            return None, None
        record = self._store.get_version(model, version)
        if record is None:
            return None, version
        production_classes = tuple(json.loads(str(record.params.get("classes", "null"))) or classes)
        try:
            artifact = self._artifacts.fetch(
                artifact_key(record.artifact_uri, self._datasets.bucket, model),
                self._max_bytes,
                record.artifact_version_id,
            )
            if artifact.sha256 != record.sha256:
                raise ArtifactIntegrityError(
                    f"the artifact of {model} {version} does not match its recorded sha256", model=model
                )
            data = artifact.data
            truth = rows.labels(label, production_classes)
            return score(data, rows.matrix(record.input_schema), truth), version
        except LambdaopsError:
            return None, version

    def register(self, state: PipelineState) -> PipelineState:
        run = self._run(state, "Register")
        request = RegisterVersionRequest.model_validate(
            state.model_extra["register"] if state.model_extra else {}
        )
        record = self._registry.register_version(run.model, request, ACTOR)
        self._runs.update(run.run_id, registered_version=record.version, step="Baseline")
        return state.model_copy(update={"registered_version": record.version})

    def promote(self, state: PipelineState) -> PipelineState:
        """Staging when the model's gates allow it; a refusal is the run's outcome, not its failure."""
        run = self._run(state, "Promote")
        assert state.registered_version is not None  # nosec B101 # narrows a type for mypy; nothing runs with -O
        reason = f"training run {run.run_id}"
        try:
            self._promotion.change_stage(
                run.model,
                state.registered_version,
                StageChangeRequest(stage=Stage.STAGING, reason=reason),
                ACTOR,
            )
            outcome = PromotionOutcome(stage="staging", promoted=True)
        except PolicyViolation as refused:
            outcome = PromotionOutcome(stage="staging", promoted=False, refusal=refused.to_body()["error"])
        run = self._runs.update(
            run.run_id, promoted=outcome.promoted, promotion=outcome.model_dump(), step="Notify"
        )
        return state.model_copy(update={"summary": _summary(run)})

    def finish(self, state: PipelineState) -> PipelineState:
        before = self._runs.get(state.run_id)
        run = self._runs.update(state.run_id, status="succeeded", step="Done", ended_at=self._clock())
        self._count_end(before, run)
        return state

    def fail(self, state: PipelineState) -> PipelineState:
        """Records the caught error against the step the run was in; the alert follows."""
        error, cause = readable_cause(state.error or StepError())
        before = self._runs.get(state.run_id)
        step = before.step if before is not None else "Unknown"
        failure = RunFailure(step=step, error=error, cause=cause)
        run = self._runs.update(
            state.run_id, status="failed", failure=failure.model_dump(), ended_at=self._clock()
        )
        self._count_end(before, run)
        return state.model_copy(update={"summary": _summary(run)})

    def _count_end(self, before: RunRecord | None, after: RunRecord) -> None:
        """`TRAINING_RUNS` once per outcome: a retried step finds its status set, and counts nothing."""
        if before is None or before.status != after.status:
            self._metrics.count(TRAINING_RUNS, model=after.model, status=after.status)


def _params(hyperparameters: dict[str, Any], label: str, classes: tuple[str, ...]) -> dict[str, Any]:
    """What the registry keeps of the trainer's settings: scalars, plus the label and its classes."""
    kept = {k: v for k, v in hyperparameters.items() if isinstance(v, str | int | float | bool)}
    return kept | {"label": label, "classes": json.dumps(list(classes))}


def _summary(run: RunRecord) -> Summary:
    """The alert: one line a person reads in their inbox, and the run as JSON."""
    if run.status == "failed" and run.failure is not None:
        subject = f"lambdaops: training run {run.run_id} of {run.model} failed at {run.failure.step}"
    elif run.promoted:
        subject = f"lambdaops: {run.model} {run.registered_version} trained and promoted to staging"
    else:
        subject = f"lambdaops: {run.model} {run.registered_version} trained; staging refused by its gates"
    body = run.model_dump(
        mode="json",
        include={
            "run_id",
            "model",
            "status",
            "step",
            "trigger",
            "dataset_uri",
            "training_job",
            "tuning_job",
            "metrics",
            "production_metrics",
            "registered_version",
            "promoted",
            "promotion",
            "failure",
        },
        exclude_none=True,
    )
    return Summary(subject=subject[:99], message=json.dumps(body, indent=2))
