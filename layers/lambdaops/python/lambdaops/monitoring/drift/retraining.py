"""Asking for a model to be retrained: the port the drift scan calls for models with `retrain_on_drift`.

`lambdaops.training.retraining.DriftRetraining` implements it with a training run.
"""

from __future__ import annotations

from typing import Protocol


class RetrainingRequests(Protocol):
    def request(self, model: str, version: str, reason: str, report_uri: str) -> str:
        """Starts retraining; returns what was started (a run id) or why nothing was."""
        ...
