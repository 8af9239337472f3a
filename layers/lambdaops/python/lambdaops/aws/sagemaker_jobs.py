"""SageMaker adapter: what a run's jobs report (live progress, a tuning job's trials) and the instance types
SageMaker trains on, read from botocore's service model rather than kept by hand."""

from __future__ import annotations

import functools
from typing import Any

from botocore.exceptions import ClientError

from lambdaops.training.schemas import Progress, RunRecord, Trial


@functools.cache
def training_instance_types() -> frozenset[str]:
    """The `TrainingInstanceType` enum of the SageMaker API this botocore knows."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return frozenset(model.shape_for("TrainingInstanceType").enum)


class SageMakerJobs:
    """`TrainingJobs` over the SageMaker API."""

    def __init__(self, client: Any) -> None:
        self._sm = client

    def trials(self, tuning_job: str) -> list[Trial]:
        trials: list[Trial] = []
        request: dict[str, Any] = {"HyperParameterTuningJobName": tuning_job, "MaxResults": 100}
        while True:
            reply = self._sm.list_training_jobs_for_hyper_parameter_tuning_job(**request)
            for summary in reply["TrainingJobSummaries"]:
                objective = summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
                trials.append(
                    Trial(
                        training_job=summary["TrainingJobName"],
                        hyperparameters={
                            k: str(v).strip('"') for k, v in summary.get("TunedHyperParameters", {}).items()
                        },
                        objective=float(objective["Value"]) if "Value" in objective else None,
                        status=summary["TrainingJobStatus"],
                    )
                )
            if not reply.get("NextToken"):
                return sorted(trials, key=lambda trial: trial.training_job)
            request["NextToken"] = reply["NextToken"]

    def progress(self, run: RunRecord) -> Progress | None:
        """Where a running run's job is: status, the last epoch and metrics it printed, or its trials."""
        try:
            if run.step == "Tune" and run.tuning_job:
                tuning = self._sm.describe_hyper_parameter_tuning_job(
                    HyperParameterTuningJobName=run.tuning_job
                )
                counters = tuning.get("TrainingJobStatusCounters", {})
                return Progress(
                    job_status=tuning["HyperParameterTuningJobStatus"],
                    trials_completed=int(counters.get("Completed", 0)),
                    trials_running=int(counters.get("InProgress", 0)),
                )
            if run.step == "Train" and run.training_job:
                job = self._sm.describe_training_job(TrainingJobName=run.training_job)
                metrics = {m["MetricName"]: float(m["Value"]) for m in job.get("FinalMetricDataList", [])}
                epoch = metrics.pop("epoch", None)
                return Progress(
                    job_status=job["TrainingJobStatus"],
                    secondary_status=job.get("SecondaryStatus"),
                    epoch=int(epoch) if epoch is not None else None,
                    metrics=metrics,
                )
        except ClientError as error:  # the job is not created yet, or SageMaker is busy: no progress now
            if error.response["Error"]["Code"] in (
                "ValidationException",
                "ResourceNotFound",
                "ThrottlingException",
            ):
                return None
            raise
        return None
