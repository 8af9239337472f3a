"""`GET /metrics`' collector over an in-memory CloudWatch: names, labels, units, windows and the cache."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lambdaops.monitoring.drift import monitor
from lambdaops.operations import series
from lambdaops.operations.collector import PlatformMetrics, Point, SeriesId, StatQuery, read_families
from lambdaops.registry.schemas import ModelRecord, Page
from lambdaops.registry.store import TagFilter
from lambdaops.training import pipeline

NOW = datetime(2026, 12, 2, 14, 30, 15, 500_000, tzinfo=UTC)
MIDNIGHT = datetime(2026, 12, 2, tzinfo=UTC)
PREDICT = "lambdaops-predict"


class MemoryCloudWatch:
    """Datapoints per series, and GetMetricData's arithmetic over them (periods from the start)."""

    def __init__(self) -> None:
        self.points: dict[SeriesId, list[Point]] = {}
        self.reads: list[tuple[list[StatQuery], datetime, datetime]] = []
        self.lists = 0

    def put(self, metric: str, value: float, at: datetime = NOW, **dimensions: str) -> SeriesId:
        key = SeriesId(metric, tuple(dimensions.items()))
        self.points.setdefault(key, []).append((at, value))
        return key

    def list_series(self, namespace: str) -> list[SeriesId]:
        self.lists += 1
        return list(self.points)

    def read(
        self, namespace: str, queries: Sequence[StatQuery], start: datetime, end: datetime
    ) -> list[list[Point]]:
        self.reads.append((list(queries), start, end))
        answers = []
        for query in queries:
            periods: dict[datetime, list[float]] = {}
            for at, value in self.points.get(query.series, []):
                if start <= at < end:
                    index = int((at - start).total_seconds() // query.period_s)
                    periods.setdefault(start + timedelta(seconds=index * query.period_s), []).append(value)
            answers.append([(at, statistic(query.stat, values)) for at, values in sorted(periods.items())])
        return answers


def statistic(stat: str, values: list[float]) -> float:
    if stat == "Sum":
        return sum(values)
    if stat == "SampleCount":
        return float(len(values))
    if stat == "Average":
        return sum(values) / len(values)
    rank = float(stat[1:])
    return sorted(values)[max(0, math.ceil(rank / 100 * len(values)) - 1)]


class Catalog:
    def __init__(self, pages: list[list[ModelRecord]]) -> None:
        self.pages = pages

    def list_models(self, where: TagFilter, limit: int, token: str | None) -> Page[ModelRecord]:
        index = int(token or 0)
        following = str(index + 1) if index + 1 < len(self.pages) else None
        return Page[ModelRecord](items=self.pages[index], next_token=following)


def record(name: str, production: str | None = None, staging: tuple[str, ...] = ()) -> ModelRecord:
    return ModelRecord.model_validate(
        {
            "name": name,
            "description": "",
            "tags": {},
            "policy": {},
            "created_at": "2026-12-01T00:00:00Z",
            "created_by": "me",
            "production_version": production,
            "staging_versions": list(staging),
        }
    )


ARM = {"model": "churn", "version": "1.0.0", "variant": "production"}


def text(cloudwatch: MemoryCloudWatch, catalog: Catalog | None = None) -> str:
    collector = PlatformMetrics(cloudwatch, catalog or Catalog([[]]), "lambdaops", PREDICT, now=lambda: NOW)
    return collector.exposition().decode()


def samples(exposition: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == name
    }


def test_prediction_counters_are_todays_sums_with_midnight_as_created() -> None:
    cloudwatch = MemoryCloudWatch()
    for at in (NOW - timedelta(hours=3), NOW - timedelta(minutes=1), NOW):
        cloudwatch.put("Invocations", 1, at, service=PREDICT, **ARM)
        cloudwatch.put("Errors", 0, at, service=PREDICT, **ARM)
    cloudwatch.put("Invocations", 1, MIDNIGHT - timedelta(seconds=1), service=PREDICT, **ARM)  # yesterday
    cloudwatch.put("Errors", 1, NOW, service=PREDICT, **ARM)

    exposition = text(cloudwatch)

    arm = tuple(sorted(ARM.items()))
    assert samples(exposition, "lambdaops_predictions_total") == {arm: 3.0}
    assert samples(exposition, "lambdaops_prediction_errors_total") == {arm: 1.0}
    assert samples(exposition, "lambdaops_predictions_created") == {arm: MIDNIGHT.timestamp()}
    [(queries, start, end)] = [read for read in cloudwatch.reads if read[0][0].period_s == series.DAY_S]
    assert (start, end) == (MIDNIGHT, datetime(2026, 12, 2, 14, 30, 16, tzinfo=UTC))  # now, whole seconds
    assert {query.stat for query in queries} == {"Sum"}


def test_a_series_listed_but_silent_today_is_zero_so_the_first_requests_after_midnight_count() -> None:
    cloudwatch = MemoryCloudWatch()
    cloudwatch.put("Invocations", 1, NOW - timedelta(days=2), service=PREDICT, **ARM)
    assert samples(text(cloudwatch), "lambdaops_predictions_total") == {tuple(sorted(ARM.items())): 0.0}


def test_latency_is_a_summary_in_seconds_quantiles_of_the_last_five_minutes() -> None:
    cloudwatch = MemoryCloudWatch()
    for ms in range(1, 101):  # 1..100 ms in the last five minutes
        cloudwatch.put("Latency", float(ms), NOW - timedelta(seconds=ms), service=PREDICT, **ARM)
    cloudwatch.put(
        "Latency", 5000.0, NOW - timedelta(minutes=30), service=PREDICT, **ARM
    )  # today, not recent

    exposition = text(cloudwatch)

    arm = tuple(sorted(ARM.items()))
    quantiles = samples(exposition, "lambdaops_prediction_latency_seconds")
    assert quantiles == {
        tuple(sorted({**ARM, "quantile": "0.5"}.items())): 0.05,
        tuple(sorted({**ARM, "quantile": "0.9"}.items())): 0.09,
        tuple(sorted({**ARM, "quantile": "0.99"}.items())): 0.099,
    }
    assert samples(exposition, "lambdaops_prediction_latency_seconds_count") == {arm: 101.0}
    assert samples(exposition, "lambdaops_prediction_latency_seconds_sum") == {arm: pytest.approx(5.05 + 5.0)}
    [family] = [f for f in text_string_to_metric_families(exposition) if f.name.endswith("latency_seconds")]
    assert family.type == "summary"


def test_gauges_are_the_newest_value_of_the_last_three_hours() -> None:
    cloudwatch = MemoryCloudWatch()
    drift = {"service": "lambdaops-drift", "model": "churn"}
    cloudwatch.put("DriftScore", 0.9, NOW - timedelta(hours=2), feature="tenure", **drift)
    cloudwatch.put("DriftScore", 0.1, NOW - timedelta(hours=1), feature="tenure", **drift)
    cloudwatch.put("DriftScore", 0.7, NOW - timedelta(hours=4), feature="spend", **drift)  # too old
    cloudwatch.put("DatasetDrift", 1.0, NOW - timedelta(minutes=10), **drift)

    exposition = text(cloudwatch)

    assert samples(exposition, "lambdaops_feature_drift_score") == {
        (("feature", "tenure"), ("model", "churn")): 0.1
    }
    assert samples(exposition, "lambdaops_dataset_drift") == {(("model", "churn"),): 1.0}


def test_only_the_declared_dimension_sets_and_the_predict_service_are_read() -> None:
    cloudwatch = MemoryCloudWatch()
    cloudwatch.put("Invocations", 1, service=PREDICT)  # the service-wide set EMF also writes
    cloudwatch.put("Invocations", 1, service="lambdaops-canary", **ARM)  # another function's
    cloudwatch.put("Invocations", 1, service=PREDICT, **ARM)
    cloudwatch.put("SomethingElse", 1, service=PREDICT)
    assert samples(text(cloudwatch), "lambdaops_predictions_total") == {tuple(sorted(ARM.items())): 1.0}


def test_training_runs_of_one_label_set_from_several_services_add_up() -> None:
    cloudwatch = MemoryCloudWatch()
    cloudwatch.put("TrainingRuns", 1, service="lambdaops-pipeline", model="churn", status="failed")
    cloudwatch.put("TrainingRuns", 1, service="lambdaops-pipeline-v2", model="churn", status="failed")
    cloudwatch.put("TrainingRuns", 1, service="lambdaops-pipeline", model="churn", status="succeeded")
    assert samples(text(cloudwatch), "lambdaops_training_runs_total") == {
        (("model", "churn"), ("status", "failed")): 2.0,
        (("model", "churn"), ("status", "succeeded")): 1.0,
    }


def test_stage_info_comes_from_every_page_of_the_registry() -> None:
    catalog = Catalog([[record("a", "1.0.0", ("1.1.0", "1.2.0"))], [record("b"), record("c", "2.0.0")]])
    assert samples(text(MemoryCloudWatch(), catalog), "lambdaops_model_stage_info") == {
        (("model", "a"), ("stage", "production"), ("version", "1.0.0")): 1.0,
        (("model", "a"), ("stage", "staging"), ("version", "1.1.0")): 1.0,
        (("model", "a"), ("stage", "staging"), ("version", "1.2.0")): 1.0,
        (("model", "c"), ("stage", "production"), ("version", "2.0.0")): 1.0,
    }


def test_cloudwatch_is_read_once_per_cache_time_however_often_it_is_scraped() -> None:
    cloudwatch = MemoryCloudWatch()
    cloudwatch.put("Invocations", 1, service=PREDICT, **ARM)
    clock = [0.0]
    collector = PlatformMetrics(
        cloudwatch,
        Catalog([[]]),
        "lambdaops",
        PREDICT,
        cache_seconds=60,
        monotonic=lambda: clock[0],
        now=lambda: NOW,
    )
    first = collector.exposition()
    for second in (15.0, 30.0, 45.0, 59.9):  # a 15 s scrape interval
        clock[0] = second
        assert collector.exposition() == first
    assert cloudwatch.lists == 1
    clock[0] = 60.0
    cloudwatch.put("Invocations", 1, service=PREDICT, **ARM)
    assert samples(collector.exposition().decode(), "lambdaops_predictions_total") == {
        tuple(sorted(ARM.items())): 2.0
    }
    assert cloudwatch.lists == 2


def test_each_window_is_one_read_whatever_the_number_of_series() -> None:
    cloudwatch = MemoryCloudWatch()
    for index in range(40):
        cloudwatch.put(
            "Invocations", 1, service=PREDICT, model=f"m{index}", version="1.0.0", variant="production"
        )
        cloudwatch.put(
            "Latency", 3.0, service=PREDICT, model=f"m{index}", version="1.0.0", variant="production"
        )
    read_families(cloudwatch, Catalog([[]]), "lambdaops", PREDICT, NOW)
    assert sorted(len(queries) for queries, _, _ in cloudwatch.reads) == [120, 120]  # today; recent


def test_every_sample_name_the_collector_exposes_is_declared() -> None:
    """`series.exposed_names()` (what the dashboard test checks PromQL against) covers real output."""
    cloudwatch = MemoryCloudWatch()
    for family in series.FAMILIES:
        dimensions = {label: "x" for label in family.labels}
        cloudwatch.put(
            family.metric, 1.0, service=PREDICT if family.predict else "lambdaops-other", **dimensions
        )
    exposition = text(cloudwatch, Catalog([[record("a", "1.0.0")]]))
    exposed = {s.name for f in text_string_to_metric_families(exposition) for s in f.samples}
    assert exposed == series.exposed_names()


def test_metric_names_match_the_emitters_constants() -> None:
    """The operations function cannot import the drift or training modules (numpy, onnxruntime)."""
    assert series.DRIFT_SCORE == monitor.DRIFT_SCORE
    assert series.FEATURE_DRIFTED == monitor.FEATURE_DRIFTED
    assert series.DATASET_DRIFT == monitor.DATASET_DRIFT
    assert series.DRIFT_SCAN_FAILURES == monitor.SCAN_FAILURES
    assert series.TRAINING_RUNS == pipeline.TRAINING_RUNS


def test_midnight_itself_reads_a_one_second_window() -> None:
    cloudwatch = MemoryCloudWatch()
    cloudwatch.put("Invocations", 1, MIDNIGHT, service=PREDICT, **ARM)
    families: Any = read_families(cloudwatch, Catalog([[]]), "lambdaops", PREDICT, MIDNIGHT)
    [counter] = [f for f in families if f.name == "lambdaops_predictions"]
    assert [sample.value for sample in counter.samples if sample.name.endswith("_total")] == [1.0]
