"""Drift benchmarks: `.venv/bin/python benchmarks/drift.py` prints one table per figure.

The named baseline is Evidently 0.7.23's `DataDriftPreset`, whose default method choice our defaults
copy for a reference of more than 1,000 values: the Wasserstein distance normalized by the reference's
population std for a numeric feature, the Jensen-Shannon distance of the frequencies for a category
feature, both drifted at >= 0.1, the dataset drifted when at least half the features are.

Data: made here with a fixed seed, 25 features (20 numeric, 5 category), reference and current of the same
N rows for N = 10,000, 100,000 and 1,000,000. Seven features drift clearly (a mean shift of half a std,
a 1.5x scale, a shifted lognormal, exponential and uniform, and two category features whose shares move a
lot); the other 18 are drawn from the same distribution on both sides, so no verdict sits near a
threshold. A few features have 1% missing values on both sides.

Fairness: both sides start from the data in memory, typed, as a caller holds it: ours from numpy columns
(`check_drift` still validates and types them, as it does any mapping), Evidently from pandas DataFrames
(`Dataset.from_pandas` with the numeric and category columns declared, then `Report.run`, are timed).
Reading CSV or JSON is excluded from both: it measures a parser, not drift detection, and the two would
not parse alike. Ours is timed in the stored-baseline case that the drift function runs: the baseline is
built from the reference beforehand (its build time is shown separately, and in a second ratio), then the
check compares it with the current data. Evidently has no stored baseline; it reads the full reference
on every run. The preset is timed as a user runs it (`Report([DataDriftPreset()], include_tests=True)`,
the tests carry the per-column verdicts); it tests every column three times (for `DriftedColumnsCount`,
for each column's `ValueDrift`, and for the `DataDriftTable` its rendering builds), so Evidently's
single-pass route, a report of `DriftedColumnsCount` alone, is timed too, for information.

(a) Speed per N: the fastest of several runs of each (counts in the table), after one untimed warm-up
    run of each at 5,000 rows.
(b) Verdict agreement, per N, over the features where both chose the same method, and the largest
    difference of the statistic per method. On the Wasserstein side ours compares the baseline's
    10,000 evenly spaced order statistics of the reference (`build_baseline`'s default), so above 10,000
    rows its statistic differs slightly from Evidently's, which reads the whole reference; at 10,000 rows
    the two see the same values.
(c) Memory of a 1,000,000-row check in a fresh process that loads the baseline from its JSON (as the
    function loads it from S3) and makes the current columns: peak RSS (VmHWM; see `peak_rss_kib`),
    and the tracemalloc peak of the `check_drift` call alone. Goal: within 1 GiB.
(d) The drift function's dependencies unzipped (layers/stats + layers/base). Target <= 220 MB.

`--smoke`: 10,000 rows, one run of each, no warm-up, and (c) at 10,000 rows, in seconds: it shows the
script still runs (the test suite runs it), and its figures mean nothing. Evidently is then optional:
without the `bench` extra our side runs alone and the output says that the baseline was skipped.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# No run-time network: Evidently's telemetry (used by its UI service only) stays off all the same.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("ITERATIVE_DO_NOT_TRACK", "do-not-track")
sys.path.insert(0, str(ROOT / "layers" / "lambdaops" / "python"))

from dependency_size import dependency_size, table  # noqa: E402

from lambdaops.monitoring.drift.baseline import build_baseline  # noqa: E402
from lambdaops.monitoring.drift.check import check_drift  # noqa: E402
from lambdaops.monitoring.drift.schemas import Baseline, DriftResult  # noqa: E402
from lambdaops.registry.schemas import Feature, InputSchema  # noqa: E402

SIZES = (10_000, 100_000, 1_000_000)
SMOKE_ROWS = 10_000
SEED = 7
GOAL_RATIO = 50.0
GOAL_FROM_ROWS = 100_000
MEMORY_ROWS = 1_000_000
MEMORY_GOAL_MIB = 1024
MISSING = 0.01
MEMORY_CHILD_FLAG = "--memory-child"
EVIDENTLY_SKIPPED = (
    "Evidently is not installed, so its baseline was skipped (`make bench` installs the bench extra)"
)

Draw = Callable[[np.random.Generator, int], np.ndarray]
Columns = dict[str, np.ndarray]
EVIDENTLY_METHODS = {
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "js",
    "K-S p_value": "ks",
    "chi-square p_value": "chi_square",
    "PSI": "psi",
    "Kullback-Leibler divergence": "kl",
}
"""Evidently's display names of the methods we also have; its z-test has no counterpart here."""


@dataclass(frozen=True)
class Synthetic:
    """One feature: how each side is drawn, and whether the current side drifts."""

    feature: Feature
    reference: Draw
    current: Draw
    drifts: bool = False
    missing: float = 0.0


def _normal(mean: float, scale: float) -> Draw:
    return lambda rng, n: rng.normal(mean, scale, n)


def _categorical(categories: list[str], shares: list[float]) -> Draw:
    values = np.array(categories, dtype=object)
    weights = np.asarray(shares) / np.sum(shares)
    return lambda rng, n: rng.choice(values, n, p=weights)


def _features() -> list[Synthetic]:
    def number(index: int, kind: str = "float") -> Feature:
        return Feature(name=f"num_{index:02d}", type=kind)  # type: ignore[arg-type]

    def category(index: int, categories: list[str]) -> Feature:
        return Feature(name=f"cat_{index}", type="category", categories=categories)

    def same(feature: Feature, draw: Draw, missing: float = 0.0) -> Synthetic:
        return Synthetic(feature, draw, draw, missing=missing)

    def lognormal(mean: float) -> Draw:
        return lambda rng, n: rng.lognormal(mean, 0.5, n)

    def exponential(scale: float) -> Draw:
        return lambda rng, n: rng.exponential(scale, n)

    def uniform(low: float) -> Draw:
        return lambda rng, n: rng.uniform(low, low + 1.0, n)

    def poisson(lam: float) -> Draw:
        return lambda rng, n: rng.poisson(lam, n).astype(np.float64)

    three = ["red", "green", "blue"]
    six = [f"region-{i}" for i in range(6)]
    twelve = [f"plan-{i:02d}" for i in range(12)]
    thirty = [f"store-{i:02d}" for i in range(30)]
    zipf = [1 / (rank + 1) for rank in range(12)]
    stores = [0.30] + [0.70 / 29] * 29
    stores_moved = [0.05] + [0.95 / 29] * 29
    return [
        Synthetic(number(0), _normal(0, 1), _normal(0.5, 1), drifts=True, missing=MISSING),
        Synthetic(number(1), _normal(10, 2), _normal(10, 3), drifts=True),
        Synthetic(number(2), lognormal(0.0), lognormal(0.3), drifts=True),
        Synthetic(number(3), exponential(1.0), exponential(1.5), drifts=True),
        Synthetic(number(4), uniform(0.0), uniform(0.15), drifts=True),
        same(number(5), _normal(0, 1), missing=MISSING),
        same(number(6), _normal(100, 15), missing=MISSING),
        same(number(7), _normal(-3, 0.2)),
        same(number(8), lognormal(1.0)),
        same(number(9), exponential(2.0)),
        same(number(10), uniform(-1.0)),
        same(number(11), lambda rng, n: rng.gamma(2.0, 2.0, n)),
        same(number(12), lambda rng, n: rng.beta(2.0, 5.0, n)),
        same(number(13), lambda rng, n: rng.standard_t(5, n)),
        same(number(14), _normal(1e6, 1e4)),
        same(number(15), lambda rng, n: rng.laplace(0.0, 1.0, n)),
        same(number(16), poisson(3.0), missing=MISSING),
        same(number(17, "int"), poisson(12.0)),
        same(number(18, "int"), lambda rng, n: rng.choice(4, n, p=[0.4, 0.3, 0.2, 0.1]).astype(np.float64)),
        same(number(19), lambda rng, n: rng.weibull(1.5, n)),
        Synthetic(
            category(0, three),
            _categorical(three, [0.5, 0.3, 0.2]),
            _categorical(three, [0.2, 0.3, 0.5]),
            drifts=True,
        ),
        same(category(1, six), _categorical(six, [1, 2, 3, 3, 2, 1])),
        same(category(2, twelve), _categorical(twelve, zipf), missing=MISSING),
        same(category(3, ["yes", "no"]), _categorical(["yes", "no"], [0.7, 0.3])),
        Synthetic(
            category(4, thirty), _categorical(thirty, stores), _categorical(thirty, stores_moved), drifts=True
        ),
    ]


FEATURES = _features()
SCHEMA = InputSchema(features=[synthetic.feature for synthetic in FEATURES])


def synthetic_columns(rows: int, side: str) -> Columns:
    """One side's columns, reproducible per (rows, side): numeric as float64 with NaN, category as
    object arrays of str with None, which is how `check_drift` takes them."""
    rng = np.random.default_rng([SEED, rows, ("reference", "current").index(side)])
    columns: Columns = {}
    for synthetic in FEATURES:
        draw = synthetic.reference if side == "reference" else synthetic.current
        values = draw(rng, rows)
        if synthetic.missing:
            blanks = rng.random(rows) < synthetic.missing
            if values.dtype == object:
                values[blanks] = None
            else:
                values[blanks] = np.nan
        columns[synthetic.feature.name] = values
    return columns


def evidently_frames(reference: Columns, current: Columns) -> tuple[Any, Any, Any]:
    import pandas as pd
    from evidently import DataDefinition

    definition = DataDefinition(
        numerical_columns=[s.feature.name for s in FEATURES if s.feature.type != "category"],
        categorical_columns=[s.feature.name for s in FEATURES if s.feature.type == "category"],
    )
    return pd.DataFrame(reference), pd.DataFrame(current), definition


def evidently_preset(reference: Any, current: Any, definition: Any) -> Any:
    """The report as a user runs it; with tests on, since they carry the per-column verdicts."""
    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset

    report = Report([DataDriftPreset()], include_tests=True)
    return report.run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )


def evidently_single_pass(reference: Any, current: Any, definition: Any) -> Any:
    """Evidently's least work for every column's verdict: the drifted-columns count alone."""
    from evidently import Dataset, Report
    from evidently.metrics import DriftedColumnsCount

    return Report([DriftedColumnsCount()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )


@dataclass(frozen=True)
class ColumnVerdict:
    method: str
    statistic: float
    drifted: bool


def evidently_verdicts(snapshot: Any) -> tuple[dict[str, ColumnVerdict], bool, float]:
    """Per column (method, score, drifted) and the dataset verdict and share, from `snapshot.dict()`."""
    result = snapshot.dict()
    drifted = {
        test["metric_config"]["params"]["column"]: test["status"] == "FAIL"
        for test in result["tests"]
        if test["id"] == "drift"
    }
    columns: dict[str, ColumnVerdict] = {}
    share = float("nan")
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":ValueDrift"):
            method = EVIDENTLY_METHODS.get(config["method"], config["method"])
            columns[config["column"]] = ColumnVerdict(
                method, float(metric["value"]), drifted[config["column"]]
            )
        elif config["type"].endswith(":DriftedColumnsCount"):
            share = float(metric["value"]["share"])
    dataset_drift = next(test["status"] == "FAIL" for test in result["tests"] if test["id"] == "lt")
    return columns, dataset_drift, share


def our_statistic(result: DriftResult, name: str) -> float:
    """The figure Evidently reports for the same method: the p-value for a test, else the statistic."""
    feature = result.features[name]
    return feature.p_value if feature.p_value is not None else feature.statistic


def timed(call: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The fastest of `repeats` calls, seconds, and the last call's result.

    The fastest, not the median: other processes on the machine only ever add time, so the minimum is
    the figure least disturbed by them (as `timeit` advises).
    """
    times = []
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return min(times), result


@dataclass
class EvidentlyMeasured:
    preset_s: float
    preset_repeats: int
    single_s: float
    single_repeats: int
    verdicts: tuple[dict[str, ColumnVerdict], bool, float]


@dataclass
class Measured:
    rows: int
    build_s: float
    build_repeats: int
    check_s: float
    check_repeats: int
    baseline: Baseline
    ours: DriftResult
    evidently: EvidentlyMeasured | None
    """None where Evidently is not installed (a smoke run only)."""


def measure(rows: int, smoke: bool, with_evidently: bool) -> Measured:
    print(f"measuring {rows:,} rows", file=sys.stderr, flush=True)
    reference, current = synthetic_columns(rows, "reference"), synthetic_columns(rows, "current")
    # Evidently takes minutes at 1,000,000 rows: one run there.
    repeats = 1 if smoke or rows >= MEMORY_ROWS else 3
    build_s, baseline = timed(lambda: build_baseline(SCHEMA, reference), repeats)
    check_repeats = 1 if smoke else 7
    check_s, ours = timed(lambda: check_drift(baseline, current), check_repeats)
    evidently = None
    if with_evidently:
        frames = evidently_frames(reference, current)
        preset_s, snapshot = timed(lambda: evidently_preset(*frames), repeats)
        single_s, _ = timed(lambda: evidently_single_pass(*frames), repeats)
        evidently = EvidentlyMeasured(preset_s, repeats, single_s, repeats, evidently_verdicts(snapshot))
    return Measured(rows, build_s, repeats, check_s, check_repeats, baseline, ours, evidently)


def speed_table(results: list[Measured]) -> None:
    lines: list[tuple[Any, ...]] = []
    for m in results:
        ours = (f"{m.rows:,}", f"{m.build_s:.3f} ({m.build_repeats})", f"{m.check_s:.3f} ({m.check_repeats})")
        evidently = m.evidently
        if evidently is None:
            lines.append((*ours, "skipped", "", "", "skipped", "", ""))
            continue
        ratio = evidently.preset_s / m.check_s
        goal = "" if m.rows < GOAL_FROM_ROWS else ("met" if ratio >= GOAL_RATIO else "MISSED")
        lines.append(
            (
                *ours,
                f"{evidently.preset_s:.2f} ({evidently.preset_repeats})",
                f"{ratio:.1f}x",
                f"{evidently.preset_s / (m.build_s + m.check_s):.1f}x",
                f"{evidently.single_s:.2f} ({evidently.single_repeats})",
                f"{evidently.single_s / m.check_s:.1f}x",
                goal,
            )
        )
    table(
        f"(a) drift check of 25 features (20 numeric, 5 category), seconds, fastest of (n) runs;"
        f" goal: Evidently's preset / our check >= {GOAL_RATIO:g}x from {GOAL_FROM_ROWS:,} rows",
        (
            "rows",
            "our baseline build",
            "our check",
            "Evidently preset",
            "ratio",
            "ratio incl. build",
            "Evidently one pass",
            "ratio",
            "goal",
        ),
        lines,
    )
    print(
        "  our check: check_drift(stored baseline, current columns); Evidently preset:"
        " Dataset.from_pandas x2 + Report([DataDriftPreset()]).run;\n  one pass: the same with"
        " Report([DriftedColumnsCount()]), which tests each column once (the preset: three times)."
    )
    if any(m.evidently is None for m in results):
        print(f"  {EVIDENTLY_SKIPPED}.")


def agreement_tables(results: list[Measured]) -> None:
    expected = sum(synthetic.drifts for synthetic in FEATURES)
    title = f"(b) verdicts, ours vs Evidently's preset (the data has {expected} drifted features of"
    title += f" {len(FEATURES)})"
    if any(m.evidently is None for m in results):
        print(f"\n{title}: skipped. {EVIDENTLY_SKIPPED}.")
        return
    lines: list[tuple[Any, ...]] = []
    disagreements: list[tuple[Any, ...]] = []
    largest: dict[tuple[str, int], tuple[float, str, float, float]] = {}
    for m in results:
        assert m.evidently is not None
        columns, dataset_drift, share = m.evidently.verdicts
        compared = agreeing = 0
        other_methods = 0
        for name, theirs in columns.items():
            mine = m.ours.features[name]
            if mine.method != theirs.method:
                other_methods += 1
                disagreements.append(
                    (f"{m.rows:,}", name, f"methods differ: ours {mine.method}, Evidently {theirs.method}")
                )
                continue
            compared += 1
            agreeing += mine.drifted == theirs.drifted
            ours = our_statistic(m.ours, name)
            difference = abs(ours - theirs.statistic)
            key = (mine.method, m.rows)
            if key not in largest or difference >= largest[key][0]:
                largest[key] = (difference, name, ours, theirs.statistic)
            if mine.drifted != theirs.drifted:
                disagreements.append(
                    (
                        f"{m.rows:,}",
                        name,
                        f"{mine.method}: ours {ours:.6g} ({'drift' if mine.drifted else 'no drift'}),"
                        f" Evidently {theirs.statistic:.6g} ({'drift' if theirs.drifted else 'no drift'})",
                    )
                )
        lines.append(
            (
                f"{m.rows:,}",
                f"{agreeing} / {compared}",
                other_methods,
                f"{len(m.ours.drifted_features)} of {len(m.ours.features)}",
                f"{m.ours.drift_share:.2f} / {share:.2f}",
                f"{m.ours.dataset_drift} / {dataset_drift}",
                "agree" if m.ours.dataset_drift == dataset_drift else "DISAGREE",
            )
        )
    table(
        title,
        (
            "rows",
            "features agreeing / same method",
            "other method",
            "ours drifted",
            "drift share ours / Evidently",
            "dataset drift ours / Evidently",
            "",
        ),
        lines,
    )
    if disagreements:
        table("    where they differ", ("rows", "feature", "ours vs Evidently"), disagreements)
    else:
        print("  no feature's verdict differs")
    table(
        "    largest |ours - Evidently| of the statistic (p-value for a test), per method and size",
        ("method", "rows", "max abs difference", "feature", "ours", "Evidently"),
        [
            (method, f"{rows:,}", f"{difference:.2e}", name, f"{ours:.6f}", f"{theirs:.6f}")
            for (method, rows), (difference, name, ours, theirs) in sorted(largest.items())
        ],
    )


def peak_rss_kib() -> int:
    """This process's peak resident memory, KiB.

    Linux keeps `ru_maxrss` across exec: a child started from this benchmark's large process would report
    the parent's peak. VmHWM belongs to the child's own address space. Elsewhere (macOS: bytes), ru_maxrss.
    """
    status = Path("/proc/self/status")
    if status.exists():
        line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def memory_child(baseline_file: str, rows: int) -> None:
    """Runs in a fresh process: baseline from JSON, current columns made here, then one check."""
    baseline = Baseline.model_validate_json(Path(baseline_file).read_bytes())
    current = synthetic_columns(rows, "current")
    gc.collect()
    before = peak_rss_kib()
    tracemalloc.start()
    result = check_drift(baseline, current)
    _, check_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    after = peak_rss_kib()
    data = sum(column.nbytes for column in current.values())
    print(
        json.dumps(
            {
                "rss_before_kib": before,
                "rss_peak_kib": after,
                "check_peak_bytes": check_peak,
                "column_bytes": data,
                "drifted": len(result.drifted_features),
            }
        )
    )


def memory(baseline: Baseline, rows: int) -> None:
    """`baseline`: built from the reference of `rows` rows."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        file.write(baseline.model_dump_json())
    try:
        done = subprocess.run(
            [sys.executable, __file__, MEMORY_CHILD_FLAG, file.name, str(rows)],
            capture_output=True,
            text=True,
            check=True,
        )
        baseline_mib = Path(file.name).stat().st_size / 2**20
    finally:
        os.unlink(file.name)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    peak_mib = figures["rss_peak_kib"] / 1024
    table(
        f"(c) memory of one {rows:,}-row check in a fresh process; goal: peak RSS <= {MEMORY_GOAL_MIB} MiB",
        (
            "peak RSS before the check MiB",
            "peak RSS MiB",
            "check_drift tracemalloc peak MiB",
            "goal",
        ),
        [
            (
                f"{figures['rss_before_kib'] / 1024:.0f}",
                f"{peak_mib:.0f}",
                f"{figures['check_peak_bytes'] / 2**20:.0f}",
                "met" if peak_mib <= MEMORY_GOAL_MIB else "MISSED",
            )
        ],
    )
    print(
        "  RSS: the interpreter with numpy and pydantic imported (scipy only if a test needs it), the"
        " baseline read from its"
        f" {baseline_mib:.1f} MiB of JSON,\n  and the current columns themselves"
        f" ({figures['column_bytes'] / 2**20:.0f} MiB of arrays, plus the category strings they share)."
        "\n  tracemalloc: the most that the call's own allocations (numpy's included) held at once,"
        " on top of its input."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--smoke", action="store_true", help="10,000 rows, one run each (seconds)")
    parser.add_argument(MEMORY_CHILD_FLAG, nargs=2, metavar=("BASELINE_JSON", "ROWS"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.memory_child:
        memory_child(arguments.memory_child[0], int(arguments.memory_child[1]))
        return
    smoke: bool = arguments.smoke
    # Only a smoke run goes without the baseline: the figures are ratios to it.
    with_evidently = importlib.util.find_spec("evidently") is not None
    if not (with_evidently or smoke):
        parser.exit(2, "Evidently, the baseline, is not installed: `make bench` installs the bench extra.\n")
    import scipy

    warnings.filterwarnings("ignore")  # Evidently's and pandas' deprecation notices
    versions = f"numpy {np.__version__}, scipy {scipy.__version__}"
    if with_evidently:
        import evidently
        import pandas as pd

        versions += f", evidently {evidently.__version__}, pandas {pd.__version__}"
    else:
        versions += ", evidently not installed"
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {versions}")
    print("load average (1, 5, 15 min) at the start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    if smoke:
        print("smoke run: the smallest size, one run each; its figures measure nothing")
    started = time.perf_counter()
    if not smoke:
        warm = synthetic_columns(5_000, "reference"), synthetic_columns(5_000, "current")
        check_drift(build_baseline(SCHEMA, warm[0]), warm[1])
        evidently_preset(*evidently_frames(*warm))
        evidently_single_pass(*evidently_frames(*warm))
    sizes = (SMOKE_ROWS,) if smoke else SIZES
    results = [measure(rows, smoke, with_evidently) for rows in sizes]
    speed_table(results)
    agreement_tables(results)
    memory_rows = SMOKE_ROWS if smoke else MEMORY_ROWS
    memory(next(m.baseline for m in results if m.rows == memory_rows), memory_rows)
    dependency_size("drift", target_mb=220, forbidden=("onnxruntime",), label="d")
    print(
        f"\nwhole run: {time.perf_counter() - started:.0f} s; load average at the end:"
        " {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    )


if __name__ == "__main__":
    main()
