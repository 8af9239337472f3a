"""`GET /metrics`: the platform's series (`series.FAMILIES`) as a prometheus-client collector.

CloudWatch is read at most once per `cache_seconds` (60 s by default: EMF metrics have one-minute
resolution, so reading more often shows nothing new, and a 15 s scrape interval then costs one read a
minute per function instance). A read lists the namespace's series (ListMetrics; AWS may take up to
15 minutes to list a series that is new) and reads the chosen statistics of all of them with as few
GetMetricData calls as its 500-queries limit allows, one batch per window (`series.Window`).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from prometheus_client import generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.samples import Sample

from lambdaops.operations.series import (
    DAY_S,
    FAMILIES,
    LATEST_LOOKBACK_S,
    LATEST_PERIOD_S,
    QUANTILES,
    RECENT_S,
    SERVICE_DIMENSION,
    SNAPSHOT_TIME,
    STAGE_INFO,
    Family,
    Window,
)
from lambdaops.registry.schemas import ModelRecord, Page
from lambdaops.registry.store import TagFilter


@dataclass(frozen=True)
class SeriesId:
    """A CloudWatch metric: its name and dimensions, in the order CloudWatch lists them."""

    metric: str
    dimensions: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class StatQuery:
    series: SeriesId
    stat: str
    period_s: int


Point = tuple[datetime, float]


class SeriesSource(Protocol):
    """CloudWatch as `GET /metrics` reads it (`lambdaops.aws.cloudwatch_series` is the adapter)."""

    def list_series(self, namespace: str) -> list[SeriesId]: ...

    def read(
        self, namespace: str, queries: Sequence[StatQuery], start: datetime, end: datetime
    ) -> list[list[Point]]:
        """Per query, in order: its datapoints between `start` and `end`."""
        ...


class ModelCatalog(Protocol):
    def list_models(self, where: TagFilter, limit: int, token: str | None) -> Page[ModelRecord]: ...


@dataclass(frozen=True)
class _Windows:
    end: datetime
    midnight: datetime

    @classmethod
    def at(cls, now: datetime) -> _Windows:
        # Whole seconds, and one past now: datapoints of the current second are counted.
        end = now.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
        return cls(end=end, midnight=end.replace(hour=0, minute=0, second=0))

    def start(self, window: Window) -> datetime:
        if window is Window.TODAY:
            return self.midnight
        return self.end - timedelta(seconds=RECENT_S if window is Window.RECENT else LATEST_LOOKBACK_S)


def _labels(family: Family, series: SeriesId) -> tuple[str, ...] | None:
    """The series' label values for `family`, or None when its dimensions are not the family's."""
    dimensions = dict(series.dimensions)
    if set(dimensions) != {SERVICE_DIMENSION, *family.labels}:
        return None
    return tuple(dimensions[label] for label in family.labels)


def _newest(points: Iterable[Point]) -> Point | None:
    return max(points, key=lambda point: point[0], default=None)


class _Reading:
    """The queries of one read, by window, and what each answer is for."""

    def __init__(self) -> None:
        self.queries: dict[Window, list[StatQuery]] = defaultdict(list)
        self.purposes: dict[Window, list[tuple[Family, tuple[str, ...], str]]] = defaultdict(list)

    def ask(
        self, window: Window, family: Family, labels: tuple[str, ...], series: SeriesId, stat: str
    ) -> None:
        period = {Window.TODAY: DAY_S, Window.RECENT: RECENT_S, Window.LATEST: LATEST_PERIOD_S}[window]
        self.queries[window].append(StatQuery(series, stat, period))
        self.purposes[window].append((family, labels, stat))


def read_families(
    source: SeriesSource, catalog: ModelCatalog, namespace: str, prediction_service: str, now: datetime
) -> list[Metric]:
    """Every family of `series.FAMILIES` with its series as CloudWatch has them now, the registry's
    stages, and the time of the read."""
    windows = _Windows.at(now)
    by_metric = {family.metric: family for family in FAMILIES}
    reading = _Reading()
    seen: dict[Family, set[tuple[str, ...]]] = defaultdict(set)
    for series in source.list_series(namespace):
        family = by_metric.get(series.metric)
        labels = _labels(family, series) if family is not None else None
        if family is None or labels is None:
            continue
        if family.predict and dict(series.dimensions)[SERVICE_DIMENSION] != prediction_service:
            continue
        seen[family].add(labels)
        if family.kind == "counter":
            reading.ask(Window.TODAY, family, labels, series, "Sum")
        elif family.kind == "summary":
            reading.ask(Window.TODAY, family, labels, series, "SampleCount")
            reading.ask(Window.TODAY, family, labels, series, "Sum")
            for _, stat in QUANTILES:
                reading.ask(Window.RECENT, family, labels, series, stat)
        else:
            reading.ask(Window.LATEST, family, labels, series, "Average")
    # (family, labels, stat) -> datapoints, several series (services) of one label set merged.
    answers: dict[tuple[Family, tuple[str, ...], str], list[Point]] = defaultdict(list)
    for window, queries in reading.queries.items():
        results = source.read(namespace, queries, windows.start(window), windows.end)
        for purpose, points in zip(reading.purposes[window], results, strict=True):
            answers[purpose] += points
    created = windows.midnight.timestamp()
    families = [_family(family, sorted(seen[family]), answers, created) for family in FAMILIES]
    families.append(_stages(catalog))
    read_at = GaugeMetricFamily(SNAPSHOT_TIME, "When CloudWatch was read for this reply", now.timestamp())
    families.append(read_at)
    return families


def _family(
    family: Family,
    label_sets: list[tuple[str, ...]],
    answers: dict[tuple[Family, tuple[str, ...], str], list[Point]],
    created: float,
) -> Metric:
    def total(labels: tuple[str, ...], stat: str) -> float:
        return sum(value for _, value in answers.get((family, labels, stat), ()))

    labels_of = list(family.labels)
    if family.kind == "counter":
        counter = CounterMetricFamily(family.name, family.documentation, labels=labels_of)
        for labels in label_sets:
            counter.add_metric(list(labels), total(labels, "Sum"), created=created)
        return counter
    if family.kind == "summary":
        summary = SummaryMetricFamily(family.name, family.documentation, labels=labels_of, unit=family.unit)
        for labels in label_sets:
            named = dict(zip(family.labels, labels, strict=True))
            for quantile, stat in QUANTILES:
                values = [value for _, value in answers.get((family, labels, stat), ())]
                if values:  # percentiles of two periods (or services) cannot be merged: the worst is kept
                    quantile_labels = {**named, "quantile": quantile}
                    summary.samples.append(Sample(summary.name, quantile_labels, max(values) * family.scale))
            count = int(total(labels, "SampleCount"))
            summary.add_metric(list(labels), count, total(labels, "Sum") * family.scale)
        return summary
    gauge = GaugeMetricFamily(family.name, family.documentation, labels=labels_of, unit=family.unit)
    for labels in label_sets:
        newest = _newest(answers.get((family, labels, "Average"), ()))
        if newest is not None:
            gauge.add_metric(list(labels), newest[1] * family.scale)
    return gauge


def _stages(catalog: ModelCatalog) -> Metric:
    info = InfoMetricFamily(
        STAGE_INFO,
        "The registry's production and staging versions, 1 each",
        labels=["model", "version", "stage"],
    )
    token: str | None = None
    while True:
        page = catalog.list_models(TagFilter(), 100, token)
        for model in page.items:
            if model.production_version is not None:
                info.add_metric([model.name, model.production_version, "production"], {})
            for version in model.staging_versions:
                info.add_metric([model.name, version, "staging"], {})
        if page.next_token is None:
            return info
        token = page.next_token


class PlatformMetrics:
    """A prometheus-client collector over CloudWatch and the registry, read at most once per
    `cache_seconds`; concurrent scrapes of a stale snapshot wait for one read."""

    def __init__(
        self,
        source: SeriesSource,
        catalog: ModelCatalog,
        namespace: str,
        prediction_service: str,
        cache_seconds: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._source = source
        self._catalog = catalog
        self._namespace = namespace
        self._prediction_service = prediction_service
        self._cache_s = cache_seconds
        self._monotonic = monotonic
        self._now = now
        self._lock = threading.Lock()
        self._families: list[Metric] | None = None
        self._until = 0.0

    def collect(self) -> list[Metric]:
        with self._lock:
            if self._families is None or self._monotonic() >= self._until:
                self._families = read_families(
                    self._source, self._catalog, self._namespace, self._prediction_service, self._now()
                )
                self._until = self._monotonic() + self._cache_s
            return list(self._families)

    def exposition(self) -> bytes:
        """The text exposition format (0.0.4) of every family."""
        return generate_latest(self)
