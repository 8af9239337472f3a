"""Drift checks: known shifts flagged, identical data left alone at the stated rates, methods, quality."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from lambdaops.core.errors import InvalidInput
from lambdaops.monitoring.drift.baseline import build_baseline
from lambdaops.monitoring.drift.check import check_drift, choose_method, default_method
from lambdaops.monitoring.drift.columns import columns_from_rows
from lambdaops.monitoring.drift.methods import DEFAULT_THRESHOLDS
from lambdaops.monitoring.drift.schemas import (
    Baseline,
    CategoryProfile,
    DriftResult,
    NumericProfile,
    QualityFinding,
)
from lambdaops.monitoring.drift.statistics import ks_test, wasserstein_distance
from lambdaops.registry.policies import DriftMethod, DriftPolicy, MethodChoice, MethodOverrides
from lambdaops.registry.schemas import InputSchema

PLANS = ["basic", "plus", "pro", "max"]
PLAN_SHARES = [0.4, 0.3, 0.2, 0.1]
REGIONS = ["north", "south", "east", "west"]
SCHEMA = InputSchema.model_validate(
    {
        "features": [
            {"name": "age", "type": "float"},
            {"name": "income", "type": "float"},
            {"name": "visits", "type": "int"},
            {"name": "plan", "type": "category", "categories": PLANS},
            {"name": "region", "type": "category", "categories": REGIONS},
        ]
    }
)
LARGE, SMALL = 5000, 800
"""Reference sizes either side of the 1,000 values where the default methods change."""
pytestmark = pytest.mark.filterwarnings(
    # scipy's exact KS path gives up on some near-identical samples and falls back to its asymptotic one.
    "ignore:ks_2samp. Exact calculation unsuccessful:RuntimeWarning"
)


def draw(
    seed: int,
    rows: int,
    *,
    age_shift: float = 0.0,
    income_scale: float = 1.0,
    plan_shares: list[float] = PLAN_SHARES,
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {
        "age": rng.normal(age_shift, 1.0, rows),
        "income": rng.normal(0.0, income_scale, rows),
        "visits": rng.poisson(10, rows),
        "plan": rng.choice(np.array(PLANS), rows, p=plan_shares),
        "region": rng.choice(np.array(REGIONS), rows),
    }


def shifted(seed: int, rows: int) -> dict[str, Any]:
    """Age's mean moved by half a std, income's std doubled, plan's shares reversed; the rest as trained."""
    return draw(seed, rows, age_shift=0.5, income_scale=2.0, plan_shares=PLAN_SHARES[::-1])


@pytest.fixture(scope="module")
def large_shift() -> DriftResult:
    return check_drift(build_baseline(SCHEMA, draw(1, LARGE)), shifted(2, LARGE))


@pytest.mark.parametrize(
    ("rows", "numeric", "category"), [(LARGE, "wasserstein", "js"), (SMALL, "ks", "chi_square")]
)
def test_known_shifts_are_flagged_and_unchanged_features_are_not(
    rows: int, numeric: str, category: str
) -> None:
    result = check_drift(build_baseline(SCHEMA, draw(1, rows)), shifted(2, rows))
    methods = {name: feature.method for name, feature in result.features.items()}
    assert methods == {
        "age": numeric,
        "income": numeric,
        "visits": numeric,
        "plan": category,
        "region": category,
    }
    assert result.drifted_features == ["age", "income", "plan"]
    assert result.drift_share == pytest.approx(0.6)
    assert result.dataset_drift
    assert result.rows == rows
    assert not result.data_quality_failed


def test_the_large_shifts_are_far_past_their_thresholds(large_shift: DriftResult) -> None:
    features = large_shift.features
    # W1 / std: a mean moved by 0.5 std moves every quantile by 0.5; a doubled std moves them by E|Z|.
    assert features["age"].statistic == pytest.approx(0.5, abs=0.05)
    assert features["income"].statistic == pytest.approx(math.sqrt(2 / math.pi), abs=0.05)
    assert features["plan"].statistic > 0.2
    assert features["visits"].statistic < 0.05
    assert features["region"].statistic < 0.05


@pytest.mark.parametrize(
    ("drift_share", "dataset_drift"), [(0.4, True), (0.6, True), (0.61, False), (1.0, False)]
)
def test_dataset_drift_is_at_least_the_policy_share_of_features(
    large_shift: DriftResult, drift_share: float, dataset_drift: bool
) -> None:
    baseline = build_baseline(SCHEMA, draw(1, LARGE))
    result = check_drift(baseline, shifted(2, LARGE), DriftPolicy(drift_share=drift_share))
    assert result.drifted_features == large_shift.drifted_features  # 3 of 5 features: a share of 0.6
    assert (result.dataset_drift, result.dataset_drift_threshold) == (dataset_drift, drift_share)


FP_SCHEMA = InputSchema.model_validate(
    {"features": [{"name": "x", "type": "float"}, {"name": "plan", "type": "category", "categories": PLANS}]}
)
TRIALS = 200
PVALUE_FP_BOUND = 0.09
"""At a true rate of 0.05 the flags in 200 independent trials are Binomial(200, 0.05): mean 10, and
P(X >= 19) = binom.sf(18, 200, 0.05) = 0.0058, so more than 18 flags (a rate above 0.09) would be a
1-in-170 accident for a calibrated test. The seeds are fixed, so the outcome is deterministic."""


def identical_draws(seed: int, rows: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {"x": rng.normal(size=rows), "plan": rng.choice(np.array(PLANS), rows, p=PLAN_SHARES)}


def false_positive_rates(reference_rows: int, current_rows: int) -> dict[str, tuple[str, float, float]]:
    """Per feature: the method, the share of trials flagged, and the largest statistic seen."""
    flagged = {"x": 0, "plan": 0}
    largest = {"x": 0.0, "plan": 0.0}
    methods: dict[str, str] = {}
    for seed in range(TRIALS):
        baseline = build_baseline(FP_SCHEMA, identical_draws(2 * seed, reference_rows))
        result = check_drift(baseline, identical_draws(2 * seed + 1, current_rows))
        for name, feature in result.features.items():
            flagged[name] += feature.drifted
            largest[name] = max(largest[name], feature.statistic)
            methods[name] = feature.method
    return {name: (methods[name], flagged[name] / TRIALS, largest[name]) for name in flagged}


@pytest.fixture(scope="module")
def small_reference_rates() -> dict[str, tuple[str, float, float]]:
    return false_positive_rates(500, 500)


@pytest.fixture(scope="module")
def large_reference_rates() -> dict[str, tuple[str, float, float]]:
    return false_positive_rates(LARGE, 2000)


def test_ks_flags_identically_distributed_data_at_about_5_percent_at_most_9(
    small_reference_rates: dict[str, tuple[str, float, float]],
) -> None:
    """500 vs 500 values of N(0, 1), alpha 0.05: observed 3.5% (the exact test is conservative)."""
    method, rate, _ = small_reference_rates["x"]
    assert method == "ks"
    assert 0 < rate <= PVALUE_FP_BOUND


def test_chi_square_flags_identically_distributed_data_at_about_5_percent_at_most_9(
    small_reference_rates: dict[str, tuple[str, float, float]],
) -> None:
    """500 vs 500 draws of four categories, alpha 0.05: observed 7.0% (14 of 200; P(X >= 14) is 0.16 for a
    calibrated test). Goodness of fit against the reference counts, as Evidently tests, flagged 29% here."""
    method, rate, _ = small_reference_rates["plan"]
    assert method == "chi_square"
    assert rate <= PVALUE_FP_BOUND


def test_wasserstein_and_js_flag_identically_distributed_data_at_most_1_percent_at_5000_vs_2000_values(
    large_reference_rates: dict[str, tuple[str, float, float]],
) -> None:
    """Threshold 0.1: observed 0% for both. The std-normalized W1 of two N(0, 1) samples averages
    sqrt(2/pi) * integral(sqrt(F(1 - F))) / sqrt(nm/(n+m)) = 0.034 here, and its largest of 200 trials was
    0.097, so a rare flag is possible; JS of four categories stays near 0.02 (largest 0.05)."""
    x_method, x_rate, _ = large_reference_rates["x"]
    plan_method, plan_rate, _ = large_reference_rates["plan"]
    assert (x_method, plan_method) == ("wasserstein", "js")
    assert x_rate <= 0.01
    assert plan_rate <= 0.01


def numeric_profile(count: int, distinct: int | None = None) -> NumericProfile:
    return NumericProfile(
        count=count,
        missing_rate=0.0,
        mean=0.0,
        std=1.0,
        min=0.0,
        max=1.0,
        bin_edges=[],
        histogram=[count],
        sample=[0.0],
        values=None if distinct is None else {repr(float(value)): 1 for value in range(distinct)},
    )


def category_profile(count: int) -> CategoryProfile:
    return CategoryProfile(count=count, missing_rate=0.0, frequencies={"a": count})


@pytest.mark.parametrize(
    ("profile", "method"),
    [
        (numeric_profile(1001), "wasserstein"),
        (numeric_profile(1000), "ks"),
        (numeric_profile(5000, distinct=5), "js"),
        (numeric_profile(1000, distinct=5), "chi_square"),
        (numeric_profile(5000, distinct=6), "wasserstein"),
        (numeric_profile(1000, distinct=6), "ks"),
        (category_profile(1001), "js"),
        (category_profile(1000), "chi_square"),
    ],
)
def test_default_method_by_kind_reference_size_and_few_values(
    profile: NumericProfile | CategoryProfile, method: str
) -> None:
    assert default_method(profile) == method


def test_the_reference_size_counts_present_values_only() -> None:
    schema = InputSchema.model_validate({"features": [{"name": "x", "type": "float"}]})
    column = np.random.default_rng(0).normal(size=1500)
    column[:600] = np.nan
    profile = build_baseline(schema, {"x": column}).features["x"]
    assert (profile.count, default_method(profile)) == (900, "ks")


LARGE_NUMERIC, LARGE_CATEGORY = numeric_profile(5000), category_profile(5000)


def choose(
    name: str, profile: Any, policy: DriftPolicy | None = None, request: Any = None
) -> tuple[str, float]:
    overrides = None if request is None else MethodOverrides.model_validate(request)
    return choose_method(name, profile, policy or DriftPolicy(), overrides)


def test_defaults_come_with_their_default_thresholds() -> None:
    assert choose("age", LARGE_NUMERIC) == ("wasserstein", 0.1)
    assert choose("age", numeric_profile(10)) == ("ks", 0.05)
    assert choose("plan", LARGE_CATEGORY) == ("js", 0.1)
    assert choose("plan", category_profile(10)) == ("chi_square", 0.05)


def test_a_policy_kind_choice_applies_to_that_kind_only() -> None:
    policy = DriftPolicy.model_validate({"numeric": {"method": "psi"}})
    assert choose("age", LARGE_NUMERIC, policy) == ("psi", DEFAULT_THRESHOLDS["psi"])
    assert choose("plan", LARGE_CATEGORY, policy) == ("js", 0.1)


def test_a_feature_choice_beats_a_kind_choice_and_thresholds_override_defaults() -> None:
    policy = DriftPolicy.model_validate(
        {
            "numeric": {"method": "psi", "threshold": 0.2},
            "features": {"age": {"method": "ks", "threshold": 0.01}},
        }
    )
    assert choose("age", LARGE_NUMERIC, policy) == ("ks", 0.01)
    assert choose("income", LARGE_NUMERIC, policy) == ("psi", 0.2)


def test_the_request_wins_over_the_policy() -> None:
    policy = DriftPolicy.model_validate(
        {"numeric": {"method": "psi"}, "features": {"age": {"method": "ks"}, "plan": {"method": "kl"}}}
    )
    request = {"features": {"age": {"method": "kl", "threshold": 0.3}}, "category": {"method": "chi_square"}}
    assert choose("age", LARGE_NUMERIC, policy, request) == ("kl", 0.3)
    # The request's kind choice names the feature too, so it comes before the policy's feature choice.
    assert choose("plan", LARGE_CATEGORY, policy, request) == ("chi_square", 0.05)
    assert choose("income", LARGE_NUMERIC, policy, request) == ("psi", 0.1)


@pytest.mark.parametrize("method", ["ks", "wasserstein"])
@pytest.mark.parametrize("where", ["policy", "request"])
def test_sample_methods_on_a_category_are_refused(method: str, where: str) -> None:
    choice = {"features": {"plan": {"method": method}}}
    policy = DriftPolicy.model_validate(choice if where == "policy" else {})
    with pytest.raises(InvalidInput) as raised:
        choose("plan", LARGE_CATEGORY, policy, choice if where == "request" else None)
    assert raised.value.details == {"reason": "method_not_applicable", "feature": "plan", "method": method}
    with pytest.raises(InvalidInput) as raised:
        check_drift(
            build_baseline(SCHEMA, draw(1, 200)),
            draw(2, 200),
            DriftPolicy(category=MethodChoice(method=method)),
        )
    assert raised.value.details["reason"] == "method_not_applicable"


@pytest.mark.parametrize("method", ["psi", "kl", "js", "chi_square", "ks", "wasserstein"])
def test_every_method_runs_on_numbers_and_reports_a_p_value_only_for_tests(method: str) -> None:
    baseline = build_baseline(SCHEMA, draw(1, SMALL))
    result = check_drift(
        baseline, shifted(2, SMALL), DriftPolicy.model_validate({"numeric": {"method": method}})
    )
    age = result.features["age"]
    assert (age.method, age.threshold) == (method, DEFAULT_THRESHOLDS[method])
    assert (age.p_value is not None) == (method in {"ks", "chi_square"})
    assert age.drifted


def test_reported_sample_statistics_are_the_statistics_of_the_stored_sample() -> None:
    baseline = build_baseline(SCHEMA, draw(1, LARGE), sample_size=1000)
    current = shifted(2, 3000)
    profile = baseline.features["age"]
    assert isinstance(profile, NumericProfile) and profile.std is not None
    reference, ordered = np.asarray(profile.sample), np.sort(current["age"])
    request = MethodOverrides.model_validate({"features": {"income": {"method": "ks"}}})
    result = check_drift(baseline, current, overrides=request)
    assert result.features["age"].statistic == wasserstein_distance(reference, ordered) / profile.std
    income = baseline.features["income"]
    assert isinstance(income, NumericProfile)
    statistic, p_value = ks_test(np.asarray(income.sample), np.sort(current["income"]))
    assert (result.features["income"].statistic, result.features["income"].p_value) == (statistic, p_value)


def test_a_distance_at_its_threshold_is_drift_and_a_p_value_at_its_threshold_is_not() -> None:
    baseline = build_baseline(SCHEMA, draw(1, SMALL))
    current = draw(2, 200, age_shift=0.1)

    def age(method: DriftMethod, threshold: float | None = None) -> tuple[float, float | None, bool]:
        request = MethodOverrides(features={"age": MethodChoice(method=method, threshold=threshold)})
        feature = check_drift(baseline, current, overrides=request).features["age"]
        return feature.statistic, feature.p_value, feature.drifted

    distance, _, _ = age("wasserstein")
    assert age("wasserstein", distance)[2] is True  # statistic >= threshold
    assert age("wasserstein", math.nextafter(distance, math.inf))[2] is False
    _, p_value, _ = age("ks")
    assert p_value is not None and 0 < p_value < 1
    assert age("ks", p_value)[2] is False  # p < threshold
    assert age("ks", math.nextafter(p_value, math.inf))[2] is True


@pytest.fixture(scope="module")
def trained() -> tuple[dict[str, Any], Baseline]:
    training = draw(7, 1000)
    return training, build_baseline(SCHEMA, training)


def findings(result: DriftResult) -> dict[tuple[str, str], QualityFinding]:
    return {(finding.check, finding.feature): finding for finding in result.data_quality}


def copy(training: dict[str, Any]) -> dict[str, Any]:
    return {name: column.copy() for name, column in training.items()}


def test_the_training_data_itself_has_no_findings_and_no_drift(
    trained: tuple[dict[str, Any], Baseline],
) -> None:
    training, baseline = trained
    result = check_drift(baseline, copy(training))
    assert (result.data_quality, result.data_quality_failed, result.drifted_features) == ([], False, [])


def test_a_missing_column_fails_and_is_not_tested(trained: tuple[dict[str, Any], Baseline]) -> None:
    training, baseline = trained
    current = copy(training)
    del current["region"]
    result = check_drift(baseline, current)
    finding = findings(result)[("missing_column", "region")]
    assert finding.severity == "fail"
    assert "region" not in result.features
    assert result.data_quality_failed


def test_an_unexpected_column_only_warns(trained: tuple[dict[str, Any], Baseline]) -> None:
    training, baseline = trained
    result = check_drift(baseline, copy(training) | {"note": ["x"] * 1000})
    assert [(f.check, f.feature, f.severity) for f in result.data_quality] == [
        ("unexpected_column", "note", "warn")
    ]
    assert not result.data_quality_failed


def test_wrong_types_fail_with_examples(trained: tuple[dict[str, Any], Baseline]) -> None:
    training, baseline = trained
    records = [
        {"age": float(a), "income": float(i), "visits": int(v), "plan": str(p), "region": str(r)}
        for a, i, v, p, r in zip(*training.values(), strict=True)
    ]
    records[3]["visits"] = 1.5
    records[4]["plan"] = 7
    result = check_drift(baseline, columns_from_rows(SCHEMA, records))
    found = findings(result)
    visits, plan = found[("wrong_type", "visits")], found[("wrong_type", "plan")]
    assert (visits.severity, visits.value, visits.examples) == ("fail", 1.0, ["1.5"])
    assert (plan.severity, plan.value, plan.examples) == ("fail", 1.0, ["7"])
    assert found[("unseen_category", "plan")].examples == ["7"]
    assert result.data_quality_failed


@pytest.mark.parametrize(("missing", "fails"), [(0.05, False), (0.25, True)])
def test_a_missing_rate_jump_beyond_the_policy_fails(
    trained: tuple[dict[str, Any], Baseline], missing: float, fails: bool
) -> None:
    training, baseline = trained
    current = copy(training)
    cut = int(missing * 1000)
    current["age"][:cut] = np.nan
    current["region"] = [None] * cut + current["region"][cut:].tolist()
    found = findings(check_drift(baseline, current))
    for name in ("age", "region"):
        assert (("missing_rate", name) in found) is fails
    if fails:
        finding = found[("missing_rate", "age")]
        assert (finding.severity, finding.value, finding.baseline) == ("fail", pytest.approx(0.25), 0.0)
    relaxed = check_drift(baseline, current, DriftPolicy(missing_rate_increase=0.3))
    assert relaxed.data_quality == []


def test_a_missing_rate_is_compared_with_the_baselines() -> None:
    schema = InputSchema.model_validate({"features": [{"name": "x", "type": "float"}]})
    column = np.random.default_rng(0).normal(size=1000)
    column[:200] = np.nan
    baseline = build_baseline(schema, {"x": column})
    current = column.copy()
    current[200:250] = np.nan  # 25% missing against 20%: within the allowed 10-point increase
    assert check_drift(baseline, {"x": current}).data_quality == []
    current[250:350] = np.nan  # 35%
    (finding,) = check_drift(baseline, {"x": current}).data_quality
    assert (finding.check, finding.value, finding.baseline) == (
        "missing_rate",
        pytest.approx(0.35),
        pytest.approx(0.2),
    )


@pytest.mark.parametrize(("outside", "warns"), [(30, False), (100, True)])
def test_out_of_range_values_beyond_the_policy_share_warn(
    trained: tuple[dict[str, Any], Baseline], outside: int, warns: bool
) -> None:
    training, baseline = trained
    profile = baseline.features["income"]
    assert isinstance(profile, NumericProfile) and profile.max is not None
    current = copy(training)
    current["income"][:outside] = profile.max + 1
    result = check_drift(baseline, current)
    found = findings(result)
    assert (("out_of_range", "income") in found) is warns
    if warns:
        finding = found[("out_of_range", "income")]
        assert (finding.severity, finding.value) == ("warn", pytest.approx(0.1))
        assert not result.data_quality_failed


def test_unseen_categories_warn_with_examples(trained: tuple[dict[str, Any], Baseline]) -> None:
    training, baseline = trained
    current = copy(training)
    current["plan"] = current["plan"].astype(object)
    current["plan"][:5] = "enterprise"
    current["plan"][5:7] = "trial"
    result = check_drift(baseline, current)
    finding = findings(result)[("unseen_category", "plan")]
    assert (finding.severity, finding.value, finding.examples) == (
        "warn",
        pytest.approx(0.007),
        ["enterprise", "trial"],
    )
    assert not result.data_quality_failed
    assert check_drift(baseline, current, DriftPolicy(unseen_category_share=0.01)).data_quality == []


def test_data_quality_fails_only_with_a_failing_finding(trained: tuple[dict[str, Any], Baseline]) -> None:
    training, baseline = trained
    current = copy(training) | {"note": ["x"] * 1000}
    current["plan"] = current["plan"].astype(object)
    current["plan"][0] = "enterprise"
    warned = check_drift(baseline, current)
    assert {f.severity for f in warned.data_quality} == {"warn"}
    assert not warned.data_quality_failed
    del current["visits"]
    failed = check_drift(baseline, current)
    assert {f.severity for f in failed.data_quality} == {"warn", "fail"}
    assert failed.data_quality_failed
