"""A drift alert's retraining: a run on the model's newest complete dataset (trigger `drift`)."""

from __future__ import annotations

from lambdaops.core.observability import Log
from lambdaops.training.datasets import Datasets
from lambdaops.training.runs import TrainingRuns


class DriftRetraining:
    """`lambdaops.monitoring.drift.retraining.RetrainingRequests` for models with `retrain_on_drift`."""

    def __init__(self, runs: TrainingRuns, datasets: Datasets, log: Log) -> None:
        self._runs = runs
        self._datasets = datasets
        self._log = log

    def request(self, model: str, version: str, reason: str, report_uri: str) -> str:
        dataset = self._datasets.newest_complete(model)
        if dataset is None:
            self._log.warning(
                "drift asked for retraining but the model has no complete dataset",
                extra={"model": model, "version": version, "report_uri": report_uri},
            )
            return f"no dataset: nothing under datasets/{model}/ has a manifest.json"
        started = self._runs.start_for_dataset(dataset, "drift", reason=f"{reason} ({report_uri})")
        return started.run_id
