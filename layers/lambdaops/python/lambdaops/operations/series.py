"""Which CloudWatch metrics `GET /metrics` exposes, under which Prometheus names, labels and units.

CloudWatch keeps datapoints, not counters, so each kind of family says which window it covers:

- `TODAY`: counters (`*_total`) and a summary's `_count` and `_sum` are the day's sums so far, since
  00:00 UTC (each counter's `*_created` sample is that midnight). They restart at midnight UTC, which
  `rate()` and `increase()` read as a counter reset. Not a counter accumulated in the function since it
  started: Lambda runs several instances and a scrape reaches any of them, so per-instance totals would
  jump between scrapes, while a total read from CloudWatch is the same whichever instance answers. A
  series CloudWatch lists (it keeps them two weeks) with nothing today is 0, so the first requests after
  midnight are an increase Prometheus sees.
- `RECENT`: a summary's quantiles are CloudWatch percentiles of the last 5 minutes (CloudWatch rounds the
  start down to the minute, so the window may span two 5-minute periods: the higher value is kept).
- `LATEST`: gauges are the newest 5-minute average of the last 3 hours (the drift scan runs hourly); a
  series with nothing for 3 hours is left out, as a gone target's series would be.

Every family drops CloudWatch's `service` dimension (Powertools' function name); the prediction families
are read from the predict function's service only, as the canary reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

from lambdaops.serving.telemetry import (
    ARTIFACT_INTEGRITY_FAILURES,
    CAPTURE_DROPPED,
    CAPTURE_FAILURES,
    ERRORS,
    INVALID_INPUTS,
    INVOCATIONS,
    LATENCY,
)

# Emitted by the drift and pipeline functions, whose modules need numpy or onnxruntime (the operations
# function's layers have neither): the same names, which a unit test holds equal to theirs.
DRIFT_SCORE = "DriftScore"
FEATURE_DRIFTED = "FeatureDrifted"
DATASET_DRIFT = "DatasetDrift"
DRIFT_SCAN_FAILURES = "DriftScanFailures"
TRAINING_RUNS = "TrainingRuns"

SERVICE_DIMENSION = "service"


class Window(Enum):
    TODAY = "today"
    RECENT = "recent"
    LATEST = "latest"


DAY_S = 86_400
RECENT_S = 300
LATEST_LOOKBACK_S = 3 * 3600
LATEST_PERIOD_S = 300

QUANTILES = (("0.5", "p50"), ("0.9", "p90"), ("0.99", "p99"))
"""A summary's `quantile` label and the CloudWatch statistic it is read as."""


@dataclass(frozen=True)
class Family:
    """One Prometheus family read from one CloudWatch metric."""

    name: str
    """Without the type's suffixes (`_total`, `_count`, `_sum`) and the unit's (`_seconds`)."""
    kind: Literal["counter", "gauge", "summary"]
    metric: str
    labels: tuple[str, ...]
    """The metric's CloudWatch dimensions besides `service`: a series with other dimensions is not it."""
    documentation: str
    unit: str = ""
    scale: float = 1.0
    """CloudWatch value times `scale` is the Prometheus value (milliseconds to seconds)."""
    predict: bool = False
    """Read from the predict function's service only."""

    @property
    def full_name(self) -> str:
        return f"{self.name}_{self.unit}" if self.unit else self.name

    @property
    def sample_names(self) -> tuple[str, ...]:
        """The names its samples are exposed under."""
        if self.kind == "counter":
            return (f"{self.name}_total", f"{self.name}_created")
        if self.kind == "summary":
            return (self.full_name, f"{self.full_name}_count", f"{self.full_name}_sum")
        return (self.full_name,)


ARM = ("model", "version", "variant")

FAMILIES: tuple[Family, ...] = (
    Family(
        "lambdaops_predictions",
        "counter",
        INVOCATIONS,
        ARM,
        "Prediction requests that reached a version (it was loaded, or its loading failed), today (UTC)",
        predict=True,
    ),
    Family(
        "lambdaops_prediction_errors",
        "counter",
        ERRORS,
        ARM,
        "Prediction requests whose version could not be loaded or whose inference failed, today (UTC)",
        predict=True,
    ),
    Family(
        "lambdaops_prediction_invalid_inputs",
        "counter",
        INVALID_INPUTS,
        ARM,
        "Prediction requests refused for their instances (4xx), today (UTC)",
        predict=True,
    ),
    Family(
        "lambdaops_prediction_latency",
        "summary",
        LATENCY,
        ARM,
        "Encoding and inference time: quantiles of the last 5 minutes; count and sum today (UTC)",
        unit="seconds",
        scale=0.001,
        predict=True,
    ),
    Family(
        "lambdaops_artifact_integrity_failures",
        "counter",
        ARTIFACT_INTEGRITY_FAILURES,
        (),
        "Model artifacts refused for not matching their recorded sha256, today (UTC)",
        predict=True,
    ),
    Family(
        "lambdaops_capture_dropped",
        "counter",
        CAPTURE_DROPPED,
        ("model",),
        "Captured predictions dropped before reaching S3 (queue full), today (UTC)",
        predict=True,
    ),
    Family(
        "lambdaops_capture_failures",
        "counter",
        CAPTURE_FAILURES,
        ("model",),
        "Captured predictions whose write to S3 failed, today (UTC)",
        predict=True,
    ),
    Family(
        "lambdaops_training_runs",
        "counter",
        TRAINING_RUNS,
        ("model", "status"),
        "Training runs that ended, by status (succeeded or failed), today (UTC)",
    ),
    Family(
        "lambdaops_drift_scan_failures",
        "counter",
        DRIFT_SCAN_FAILURES,
        ("model",),
        "Models the scheduled drift scan could not check, today (UTC)",
    ),
    Family(
        "lambdaops_feature_drift_score",
        "gauge",
        DRIFT_SCORE,
        ("model", "feature"),
        "A feature's drift statistic in the newest scheduled scan (last 3 hours)",
    ),
    Family(
        "lambdaops_feature_drifted",
        "gauge",
        FEATURE_DRIFTED,
        ("model", "feature"),
        "1 when the newest scheduled scan (last 3 hours) found the feature drifted, else 0",
    ),
    Family(
        "lambdaops_dataset_drift",
        "gauge",
        DATASET_DRIFT,
        ("model",),
        "1 when the newest scheduled scan (last 3 hours) found the model's inputs drifted, else 0",
    ),
)

STAGE_INFO = "lambdaops_model_stage"
"""Exposed as `lambdaops_model_stage_info{model,version,stage}` 1, from the registry (not CloudWatch)."""
SNAPSHOT_TIME = "lambdaops_metrics_snapshot_timestamp_seconds"
"""When CloudWatch and the registry were read for this reply (replies are cached)."""


def exposed_names() -> frozenset[str]:
    """Every sample name `GET /metrics` can expose."""
    names = {name for family in FAMILIES for name in family.sample_names}
    return frozenset(names | {f"{STAGE_INFO}_info", SNAPSHOT_TIME})
