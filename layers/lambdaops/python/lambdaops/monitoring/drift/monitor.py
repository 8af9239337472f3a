"""Drift monitoring as a use case: baselines, checks on request, history, and the scheduled scan.

The scan checks every model with a production version against that version's baseline, over the traffic
captured since the previous scan. Each model is scanned on its own: a model that fails (no baseline,
unreadable captures, a bug) is recorded with its error code and counted as `DriftScanFailures`, and the
scan goes on. A model's cursor moves only when its scan succeeds, so a failed window is read again next
time. Drift or a data-quality failure publishes an alert; with `retrain_on_drift` it also asks for
retraining.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from lambdaops.core.clock import iso_z
from lambdaops.core.errors import BaselineMissing, LambdaopsError, NoProductionVersion
from lambdaops.core.observability import AlertPublisher, Log, Metrics
from lambdaops.monitoring.drift.baseline import build_baseline
from lambdaops.monitoring.drift.check import check_drift
from lambdaops.monitoring.drift.columns import (
    Columns,
    columns_from_csv,
    columns_from_json_lines,
    columns_from_rows,
    json_lines,
)
from lambdaops.monitoring.drift.retraining import RetrainingRequests
from lambdaops.monitoring.drift.schemas import (
    Baseline,
    BaselineRequest,
    BaselineSummary,
    CategoryProfile,
    DataSource,
    DriftHistory,
    DriftReport,
    DriftReportSummary,
    DriftRequest,
    FeatureSummary,
    ScanFailure,
    ScanOutcome,
    Trigger,
)
from lambdaops.monitoring.drift.stores import CapturedObject, DriftIndex, DriftObjects, ScanCursor
from lambdaops.registry.artifacts import Artifact
from lambdaops.registry.lookups import require_model, require_version, require_version_of
from lambdaops.registry.policies import MethodOverrides
from lambdaops.registry.schemas import InputSchema, ModelRecord
from lambdaops.registry.store import RegistryStore, TagFilter

DRIFT_SCORE = "DriftScore"
FEATURE_DRIFTED = "FeatureDrifted"
DATASET_DRIFT = "DatasetDrift"
SCAN_FAILURES = "DriftScanFailures"
SCAN_RESERVE_S = 60.0
"""Time kept free at the end of a scan's invocation: about what one large model's check takes."""


def parse_data_object(schema: InputSchema, data: Artifact) -> Columns:
    """CSV or JSON Lines, by the key's suffix, else by whether the first character opens a JSON value."""
    key = data.key.lower()
    if key.endswith(".csv"):
        return columns_from_csv(schema, data.data)
    if key.endswith((".jsonl", ".ndjson", ".json")) or data.data.lstrip()[:1] in (b"{", b"["):
        return columns_from_json_lines(schema, data.data)
    return columns_from_csv(schema, data.data)


def captured_rows(objects: Iterable[CapturedObject], version: str, max_rows: int) -> list[Any]:
    """The features of captured predictions served by `version`, at most `max_rows` (newest objects first)."""
    rows: list[Any] = []
    for item in objects:
        rows += [
            record.get("features")
            for record in json_lines(item.body)
            if isinstance(record, dict) and record.get("version") == version
        ]
        if len(rows) >= max_rows:
            return rows[:max_rows]
    return rows


def summarize_baseline(baseline: Baseline, uri: str) -> BaselineSummary:
    shown = set(FeatureSummary.model_fields)
    features = {
        name: FeatureSummary.model_validate(
            profile.model_dump(include=shown)
            | ({"categories": len(profile.frequencies)} if isinstance(profile, CategoryProfile) else {})
        )
        for name, profile in baseline.features.items()
    }
    return BaselineSummary.model_validate(
        baseline.model_dump(include=set(BaselineSummary.model_fields))
        | {"baseline_uri": uri, "features": features}
    )


def summarize_report(report: DriftReport) -> DriftReportSummary:
    return DriftReportSummary.model_validate(report.model_dump(include=set(DriftReportSummary.model_fields)))


def next_step(report: DriftReport, *, retraining: bool) -> str:
    """What the person reading the alert should do, in the order they should do it."""
    model, version = report.model, report.version
    steps = []
    if report.data_quality_failed:
        steps.append(
            "Fix the data first: each data_quality_failures entry names the feature, the check and examples; "
            "a broken upstream feed is not drift, and retraining on it would learn the breakage."
        )
    if report.dataset_drift:
        steps.append(
            f"Read the report ({report.report_uri}, or GET /models/{model}/drift) and compare the drifted "
            f"features with {model} {version}'s baseline to decide whether the inputs really changed."
        )
    if retraining:
        steps.append(
            f"A training run was requested on {model}'s newest dataset: follow it with `lambdaops runs "
            f"--model {model}`; it reaches staging only through the model's gates, then canary it."
        )
    else:
        steps.append(
            f"If they did, retrain {model} on fresh data (POST /training) and canary the new version "
            "against this one before promoting it."
        )
    return " ".join(steps)


def alert_message(report: DriftReport, *, retraining: bool = False) -> tuple[str, dict[str, Any]]:
    """The subject names the model, version and finding; the message says what to do next (`next_step`)
    before the figures. `retraining` says whether the scan asked for a training run."""
    what = []
    if report.dataset_drift:
        what.append(f"drift in {len(report.drifted_features)} of {len(report.features)} features")
    failed = [finding for finding in report.data_quality if finding.severity == "fail"]
    if failed:
        what.append(f"{len(failed)} data-quality failure(s)")
    subject = f"lambdaops: {report.model} {report.version}: {' and '.join(what)}"
    message = {
        "model": report.model,
        "version": report.version,
        "next_step": next_step(report, retraining=retraining),
        "report_id": report.report_id,
        "report_uri": report.report_uri,
        "rows": report.rows,
        "dataset_drift": report.dataset_drift,
        "drift_share": report.drift_share,
        "drifted_features": {name: report.features[name].model_dump() for name in report.drifted_features},
        "data_quality_failures": [finding.model_dump() for finding in failed],
    }
    return subject, message


class DriftMonitor:
    def __init__(
        self,
        *,
        registry: RegistryStore,
        objects: DriftObjects,
        index: DriftIndex,
        alerts: AlertPublisher,
        retraining: RetrainingRequests,
        metrics: Metrics,
        log: Log,
        max_data_bytes: int,
        sample_size: int,
        scan_max_rows: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._registry = registry
        self._objects = objects
        self._index = index
        self._alerts = alerts
        self._retraining = retraining
        self._metrics = metrics
        self._log = log
        self._max_data_bytes = max_data_bytes
        self._sample_size = sample_size
        self._scan_max_rows = scan_max_rows
        self._clock = clock

    def create_baseline(self, name: str, version: str, request: BaselineRequest) -> BaselineSummary:
        record = require_version(self._registry, name, version)
        columns, source = self._columns(record.input_schema, request)
        baseline = build_baseline(
            record.input_schema,
            columns,
            self._sample_size,
            model=name,
            version=version,
            source=source,
            created_at=iso_z(self._clock()),
        )
        return summarize_baseline(baseline, self._objects.put_baseline(baseline))

    def check(self, name: str, request: DriftRequest) -> DriftReport:
        state = require_model(self._registry, name)
        version = request.version or state.record.production_version
        if version is None:
            raise NoProductionVersion(
                f"model '{name}' has no production version; name a version to check against", model=name
            )
        require_version_of(self._registry, state, version)
        baseline = self._baseline(name, version)
        columns, source = self._columns(baseline.input_schema, request)
        return self._report(state.record, baseline, columns, source, "request", request.methods)

    def history(self, name: str, limit: int) -> DriftHistory:
        require_model(self._registry, name)
        return DriftHistory(items=self._index.reports(name, limit))

    def scan(self, seconds_left: Callable[[], float] | None = None) -> ScanOutcome:
        """Scans each production model in turn; once less than `SCAN_RESERVE_S` of the invocation is
        left, the rest are deferred (their cursors stay, so the next scan reads their windows)."""
        outcome = ScanOutcome(
            started_at=iso_z(self._clock()),
            reports=[],
            skipped=[],
            deferred=[],
            failures=[],
            alerts=0,
            retraining=[],
        )
        for model in self._production_models():
            if seconds_left is not None and seconds_left() < SCAN_RESERVE_S:
                outcome.deferred.append(model.name)
                continue
            try:
                self._scan_model(model, outcome)
            except LambdaopsError as error:
                self._failed(outcome, model.name, error.code, error.message)
            except Exception as error:  # a bug or an AWS fault in one model must not end the scan
                self._log.exception("drift scan of a model failed", extra={"model": model.name})
                self._failed(outcome, model.name, "InternalError", str(error)[:500])
        return outcome

    def _failed(self, outcome: ScanOutcome, model: str, code: str, message: str) -> None:
        outcome.failures.append(ScanFailure(model=model, code=code, message=message))
        self._metrics.count(SCAN_FAILURES, model=model)
        self._log.warning(
            "drift scan skipped a model", extra={"model": model, "code": code, "reason": message}
        )

    def _production_models(self) -> Iterator[ModelRecord]:
        token: str | None = None
        while True:
            page = self._registry.list_models(TagFilter(), 100, token)
            yield from (model for model in page.items if model.production_version is not None)
            if page.next_token is None:
                return
            token = page.next_token

    def _scan_model(self, model: ModelRecord, outcome: ScanOutcome) -> None:
        version = model.production_version
        assert version is not None  # nosec B101 # narrows a type for mypy; nothing runs with -O
        baseline = self._baseline(model.name, version)
        cursor = self._index.last_scan(model.name)
        objects = self._objects.captures(model.name, cursor, self._max_data_bytes)
        rows = captured_rows(objects, version, self._scan_max_rows)
        read_up_to = ScanCursor.after(objects)
        if not rows:
            outcome.skipped.append(model.name)
            if read_up_to is not None:
                self._index.set_last_scan(model.name, read_up_to)
            return
        since = f"after {iso_z(cursor.at)}" if cursor else "all"
        columns = columns_from_rows(baseline.input_schema, rows)
        report = self._report(model, baseline, columns, f"captures of {version}: {since}", "schedule", None)
        outcome.reports.append(summarize_report(report))
        for feature, result in report.features.items():
            dimensions = {"model": model.name, "feature": feature}
            self._metrics.gauge(DRIFT_SCORE, result.statistic, **dimensions)
            self._metrics.gauge(FEATURE_DRIFTED, float(result.drifted), **dimensions)
        self._metrics.gauge(DATASET_DRIFT, float(report.dataset_drift), model=model.name)
        if report.dataset_drift or report.data_quality_failed:
            subject, message = alert_message(report, retraining=model.drift.retrain_on_drift)
            self._alerts.publish(subject, message, {"model": model.name, "version": version})
            outcome.alerts += 1
            if model.drift.retrain_on_drift:
                self._retraining.request(model.name, version, subject, report.report_uri)
                outcome.retraining.append(model.name)
        assert read_up_to is not None  # nosec B101 # narrows a type for mypy; nothing runs with -O
        self._index.set_last_scan(model.name, read_up_to)

    def _baseline(self, name: str, version: str) -> Baseline:
        baseline = self._objects.get_baseline(name, version)
        if baseline is None:
            raise BaselineMissing(
                f"version {version} of '{name}' has no baseline: build one with "
                f"POST /models/{name}/versions/{version}/baseline and its training data (rows or data_uri)",
                model=name,
                version=version,
            )
        return baseline

    def _columns(self, schema: InputSchema, source: DataSource) -> tuple[Columns, str]:
        if source.rows is not None:
            return columns_from_rows(schema, source.rows), "inline"
        assert source.data_uri is not None  # nosec B101 # narrows a type for mypy; nothing runs with -O
        return parse_data_object(
            schema, self._objects.read(source.data_uri, self._max_data_bytes)
        ), source.data_uri

    def _report(
        self,
        model: ModelRecord,
        baseline: Baseline,
        columns: Columns,
        source: str,
        trigger: Trigger,
        overrides: MethodOverrides | None,
    ) -> DriftReport:
        started = time.perf_counter()
        result = check_drift(baseline, columns, model.drift, overrides)
        created_at = iso_z(self._clock())
        report_id = uuid.uuid4().hex
        report = DriftReport(
            **result.model_dump(),
            report_id=report_id,
            model=model.name,
            version=baseline.version,
            created_at=created_at,
            trigger=trigger,
            source=source,
            report_uri=self._objects.report_uri(model.name, created_at, report_id),
            duration_ms=(time.perf_counter() - started) * 1000,
        )
        self._objects.put_report(report)
        self._index.add_report(summarize_report(report))
        return report
