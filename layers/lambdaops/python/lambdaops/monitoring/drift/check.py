"""A drift check: data against a baseline, feature by feature, plus data-quality findings.

Default methods follow Evidently's DataDriftPreset, so verdicts can be compared: with more than 1,000
reference values a numeric feature gets the Wasserstein distance normalized by the reference's std and a
category feature (or a numeric one with at most 5 distinct values) gets the Jensen-Shannon distance of
the frequencies, both drifted at >= 0.1; with fewer reference values a numeric feature gets the two-sample
KS test and a category feature the chi-square test, both drifted at p < 0.05. A model's `DriftPolicy` and
a request's `MethodOverrides` choose otherwise, per feature or per kind.

Where this differs from Evidently, on purpose: the reference side of KS and Wasserstein is the baseline's
bounded sample (the full training column is never re-read); numeric PSI, KL and JS use the baseline's
decile bins (Evidently bins reference and current together, which a stored baseline cannot); "few
values" counts the reference's distinct values; a two-valued category gets chi-square, not a z-test; and
chi-square is a two-sample test of homogeneity, where Evidently treats the reference counts as exact
expectations (which flags identical data far more often than its significance level).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import cast

import numpy as np

from lambdaops.core.errors import InvalidInput
from lambdaops.monitoring.drift import statistics
from lambdaops.monitoring.drift.columns import Columns, Floats, columns_from_mapping
from lambdaops.monitoring.drift.methods import DEFAULT_THRESHOLDS, PVALUE_METHODS, SAMPLE_METHODS
from lambdaops.monitoring.drift.schemas import (
    Baseline,
    CategoryProfile,
    DriftResult,
    FeatureDrift,
    NumericProfile,
    QualityFinding,
)
from lambdaops.registry.policies import DriftMethod, DriftPolicy, MethodChoice, MethodOverrides

SMALL_REFERENCE = 1000
FEW_VALUES = 5
WASSERSTEIN_MIN_SCALE = 0.001


def default_method(profile: NumericProfile | CategoryProfile) -> DriftMethod:
    small = profile.count <= SMALL_REFERENCE
    if isinstance(profile, CategoryProfile) or (
        profile.values is not None and len(profile.values) <= FEW_VALUES
    ):
        return "chi_square" if small else "js"
    return "ks" if small else "wasserstein"


def choose_method(
    name: str,
    profile: NumericProfile | CategoryProfile,
    policy: DriftPolicy,
    overrides: MethodOverrides | None,
) -> tuple[DriftMethod, float]:
    """The first choice that names this feature or its kind: request, then model policy, then default."""
    for choices in (overrides, policy):
        if choices is None:
            continue
        choice: MethodChoice | None = choices.features.get(name) or getattr(choices, profile.kind)
        if choice is not None:
            if choice.method in SAMPLE_METHODS and profile.kind == "category":
                raise InvalidInput(
                    f"feature '{name}' is a category; {choice.method} compares numbers",
                    reason="method_not_applicable",
                    feature=name,
                    method=choice.method,
                )
            return choice.method, choice.threshold or DEFAULT_THRESHOLDS[choice.method]
    method = default_method(profile)
    return method, DEFAULT_THRESHOLDS[method]


def _binned(method: DriftMethod, reference: Floats, current: Floats) -> tuple[float, float | None]:
    both = (reference > 0) | (current > 0)  # a bin empty on both sides says nothing
    reference, current = reference[both], current[both]
    if method == "chi_square":
        return statistics.chi_square_test(reference, current)
    if method == "js":
        return statistics.jensen_shannon_distance(reference, current), None
    ref, cur = statistics.proportions(reference), statistics.proportions(current)
    measure = statistics.population_stability_index if method == "psi" else statistics.kl_divergence
    return measure(ref, cur), None


def _aligned_counts(reference: Mapping[str, int], current: Counter[str]) -> tuple[Floats, Floats]:
    keys = list(reference) + [key for key in current if key not in reference]
    return (
        np.array([reference.get(key, 0) for key in keys], dtype=np.float64),
        np.array([current.get(key, 0) for key in keys], dtype=np.float64),
    )


def _numeric_test(
    method: DriftMethod, profile: NumericProfile, present: Floats
) -> tuple[float, float | None]:
    if method in SAMPLE_METHODS:
        reference = np.asarray(profile.sample, dtype=np.float64)
        current = np.sort(present)
        if method == "ks":
            return statistics.ks_test(reference, current)
        # Evidently's floor: a constant reference still gives a finite, comparable distance.
        scale = max(profile.std or 0.0, WASSERSTEIN_MIN_SCALE)
        return statistics.wasserstein_distance(reference, current) / scale, None
    if profile.values is not None:
        distinct, counts = np.unique(present, return_counts=True)
        current_counts = Counter({repr(float(v)): int(n) for v, n in zip(distinct, counts, strict=True)})
        return _binned(method, *_aligned_counts(profile.values, current_counts))
    edges = np.asarray(profile.bin_edges, dtype=np.float64)
    current_histogram = np.bincount(np.searchsorted(edges, present, side="right"), minlength=edges.size + 1)
    return _binned(
        method, np.asarray(profile.histogram, dtype=np.float64), current_histogram.astype(np.float64)
    )


def _verdict(method: DriftMethod, statistic: float, p_value: float | None, threshold: float) -> bool:
    if method in PVALUE_METHODS:
        assert p_value is not None  # nosec B101 # narrows a type for mypy; nothing runs with -O
        return p_value < threshold
    return statistic >= threshold


class _Findings:
    def __init__(self, policy: DriftPolicy) -> None:
        self.policy = policy
        self.items: list[QualityFinding] = []

    def add(self, **fields: object) -> None:
        self.items.append(QualityFinding.model_validate(fields))

    def shape(self, data: Columns) -> None:
        """Columns the data lacks or the schema does not know, and values of the wrong type."""
        for name in data.missing:
            self.add(check="missing_column", feature=name, severity="fail", message="not in the data")
        for name in data.unexpected:
            self.add(
                check="unexpected_column", feature=name, severity="warn", message="not in the input schema"
            )
        for name, wrong in data.wrong_types.items():
            self.add(
                check="wrong_type",
                feature=name,
                severity="fail",
                message=f"{wrong.count} value(s) of the wrong type",
                value=float(wrong.count),
                examples=wrong.examples,
            )

    def missing_rate(
        self, name: str, profile: NumericProfile | CategoryProfile, present: int, rows: int
    ) -> None:
        rate = 1 - present / rows
        if rate - profile.missing_rate > self.policy.missing_rate_increase:
            self.add(
                check="missing_rate",
                feature=name,
                severity="fail",
                message=f"{rate:.1%} missing, {profile.missing_rate:.1%} in the baseline",
                value=rate,
                baseline=profile.missing_rate,
            )

    def out_of_range(self, name: str, profile: NumericProfile, present: Floats) -> None:
        if profile.min is None or profile.max is None or present.size == 0:
            return
        outside = int(np.count_nonzero((present < profile.min) | (present > profile.max)))
        share = outside / present.size
        if share > self.policy.out_of_range_share:
            self.add(
                check="out_of_range",
                feature=name,
                severity="warn",
                message=f"{share:.1%} of values outside the baseline's [{profile.min:g}, {profile.max:g}]",
                value=share,
            )

    def unseen(self, name: str, profile: CategoryProfile, counts: Counter[str]) -> None:
        unseen = Counter({key: n for key, n in counts.items() if key not in profile.frequencies})
        total = sum(counts.values())
        share = sum(unseen.values()) / total if total else 0.0
        if unseen and share > self.policy.unseen_category_share:
            self.add(
                check="unseen_category",
                feature=name,
                severity="warn",
                message=f"{len(unseen)} categor{'y' if len(unseen) == 1 else 'ies'} never seen in training "
                f"({share:.1%} of values)",
                value=share,
                examples=[key for key, _ in unseen.most_common(5)],
            )


def check_drift(
    baseline: Baseline,
    columns: Columns | Mapping[str, Sequence[object]],
    policy: DriftPolicy | None = None,
    overrides: MethodOverrides | None = None,
) -> DriftResult:
    """Tests every feature present in the data; features absent from it are data-quality failures."""
    policy = policy or DriftPolicy()
    _refuse_unknown_features(baseline, overrides)
    data = columns if isinstance(columns, Columns) else columns_from_mapping(baseline.input_schema, columns)
    findings = _Findings(policy)
    findings.shape(data)
    results: dict[str, FeatureDrift] = {}
    for name, profile in baseline.features.items():
        method, threshold = choose_method(name, profile, policy, overrides)
        tested = _test_feature(method, name, profile, data, findings)
        if tested is not None:
            statistic, p_value = tested
            results[name] = FeatureDrift(
                kind=profile.kind,
                method=method,
                statistic=statistic,
                p_value=p_value,
                threshold=threshold,
                drifted=_verdict(method, statistic, p_value, threshold),
            )
    drifted = [name for name, result in results.items() if result.drifted]
    share = len(drifted) / len(results) if results else 0.0
    return DriftResult(
        rows=data.rows,
        features=results,
        drifted_features=drifted,
        drift_share=share,
        dataset_drift_threshold=policy.drift_share,
        dataset_drift=bool(results) and share >= policy.drift_share,
        data_quality=findings.items,
        data_quality_failed=any(finding.severity == "fail" for finding in findings.items),
    )


def _refuse_unknown_features(baseline: Baseline, overrides: MethodOverrides | None) -> None:
    # A model's policy may name features of other versions; a request names this one's.
    unknown = sorted(set(overrides.features) - set(baseline.features)) if overrides else []
    if unknown:
        raise InvalidInput(
            f"methods name feature(s) the version does not have: {', '.join(unknown)}",
            reason="unknown_feature",
            features=unknown,
        )


def _test_feature(
    method: DriftMethod,
    name: str,
    profile: NumericProfile | CategoryProfile,
    data: Columns,
    findings: _Findings,
) -> tuple[float, float | None] | None:
    """The feature's statistic and p-value after its data-quality checks; None when there is nothing to
    compare (the column is absent, wholly missing, or the baseline saw no values)."""
    if isinstance(profile, NumericProfile):
        if name not in data.numeric:
            return None
        column = data.numeric[name]
        present = column[~np.isnan(column)]
        findings.missing_rate(name, profile, present.size, data.rows)
        findings.out_of_range(name, profile, present)
        if present.size == 0 or profile.count == 0:
            return None
        return _numeric_test(method, profile, present)
    if name not in data.category:
        return None
    with_missing = Counter(data.category[name])
    with_missing.pop(None, None)
    counts = cast("Counter[str]", with_missing)
    findings.missing_rate(name, profile, sum(counts.values()), data.rows)
    findings.unseen(name, profile, counts)
    if not counts or profile.count == 0:
        return None
    return _binned(method, *_aligned_counts(profile.frequencies, counts))
