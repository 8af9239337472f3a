"""Drift statistics against scipy on the same samples, and against reference formulas written out here."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon

from lambdaops.monitoring.drift import statistics
from lambdaops.monitoring.drift.statistics import (
    EMPTY_BIN_PROPORTION,
    KS_EXACT_MAX_N,
    chi_square_test,
    jensen_shannon_distance,
    kl_divergence,
    ks_statistic,
    ks_test,
    population_stability_index,
    proportions,
    wasserstein_distance,
)

Floats = statistics.Floats
REL = 1e-9
pytestmark = [
    # scipy's own fallbacks, reached by both sides of a comparison: its exact KS path gives up on some
    # tiny tied samples, and its asymptotic path then divides by round(n*m/(n+m)) = 0 when n = m = 1.
    pytest.mark.filterwarnings("ignore:ks_2samp. Exact calculation unsuccessful:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:divide by zero encountered:RuntimeWarning:scipy.stats.*"),
]
finite = st.floats(
    min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False, allow_subnormal=False
)
tied = st.sampled_from([-2.0, -0.5, 0.0, 0.5, 1.0, 3.0])


def _sorted(values: Sequence[float]) -> Floats:
    return np.sort(np.asarray(values, dtype=np.float64))


def _pair(
    elements: st.SearchStrategy[float], first: int, second: int
) -> st.SearchStrategy[tuple[Floats, Floats]]:
    return st.tuples(
        st.lists(elements, min_size=1, max_size=first).map(_sorted),
        st.lists(elements, min_size=1, max_size=second).map(_sorted),
    )


sample_pairs = st.one_of(
    _pair(finite, 40, 40),
    _pair(tied, 40, 40),  # heavy ties: a handful of values shared by both samples
    _pair(st.one_of(finite, tied), 3, 300),  # very different sizes
    _pair(tied, 300, 2),
)


def generated(seed: int, n: int, m: int, ties: bool, shift: float) -> tuple[Floats, Floats]:
    """Two sorted samples from numpy, so large sizes cost nothing to draw through hypothesis."""
    rng = np.random.default_rng(seed)
    if ties:
        reference = rng.integers(0, 8, n).astype(np.float64)
        current = rng.integers(0, 8, m).astype(np.float64) + np.round(shift * 4)
    else:
        reference, current = rng.normal(size=n), rng.normal(loc=shift, size=m)
    return np.sort(reference), np.sort(current)


seeds = st.integers(0, 2**32 - 1)
shifts = st.sampled_from([0.0, 0.02, 0.1, 0.5])


def close(ours: float, theirs: float, floor: float = 1e-12) -> bool:
    return math.isclose(ours, theirs, rel_tol=REL, abs_tol=floor)


@settings(max_examples=200, deadline=None)
@given(sample_pairs)
def test_wasserstein_equals_scipys(pair: tuple[Floats, Floats]) -> None:
    reference, current = pair
    theirs = stats.wasserstein_distance(reference, current)
    assert close(wasserstein_distance(reference, current), theirs)


@settings(max_examples=40, deadline=None)
@given(seeds, st.integers(1, 20_000), st.integers(1, 20_000), st.booleans(), shifts)
def test_wasserstein_equals_scipys_on_large_samples(
    seed: int, n: int, m: int, ties: bool, shift: float
) -> None:
    reference, current = generated(seed, n, m, ties, shift)
    assert close(wasserstein_distance(reference, current), stats.wasserstein_distance(reference, current))


@settings(max_examples=200, deadline=None)
@given(sample_pairs)
def test_ks_statistic_equals_scipys_raw_statistic(pair: tuple[Floats, Floats]) -> None:
    reference, current = pair
    # The asymptotic method reports the largest CDF gap as computed, without rounding it to the exact
    # method's lattice, so the two are the same float.
    raw = stats.ks_2samp(reference, current, method="asymp").statistic
    assert ks_statistic(reference, current) == raw
    assert close(ks_statistic(reference, current), stats.ks_2samp(reference, current).statistic)


sizes = st.one_of(st.integers(1, 60), st.integers(61, 3_000), st.integers(KS_EXACT_MAX_N - 5, KS_EXACT_MAX_N))


@settings(max_examples=80, deadline=None)
@given(seeds, sizes, sizes, st.booleans(), shifts)
def test_ks_test_is_scipys_exactly_up_to_ten_thousand_values(
    seed: int, n: int, m: int, ties: bool, shift: float
) -> None:
    reference, current = generated(seed, n, m, ties, shift)
    result = stats.ks_2samp(reference, current)  # method 'auto': exact at these sizes
    assert ks_test(reference, current) == (result.statistic, result.pvalue)


@settings(max_examples=100, deadline=None)
@given(sample_pairs)
def test_ks_test_is_scipys_exactly_on_small_tied_samples(pair: tuple[Floats, Floats]) -> None:
    reference, current = pair
    result = stats.ks_2samp(reference, current)
    assert ks_test(reference, current) == (result.statistic, result.pvalue)


@settings(max_examples=30, deadline=None)
@given(
    seeds,
    st.integers(KS_EXACT_MAX_N + 1, 40_000),
    st.integers(1, 40_000),
    st.booleans(),
    st.booleans(),
    shifts,
)
def test_ks_test_matches_scipys_asymptotic_p_value_above_ten_thousand(
    seed: int, large: int, other: int, large_first: bool, ties: bool, shift: float
) -> None:
    n, m = (large, other) if large_first else (other, large)
    reference, current = generated(seed, n, m, ties, shift)
    statistic, p_value = ks_test(reference, current)
    result = stats.ks_2samp(reference, current)  # method 'auto': asymptotic above 10,000
    assert close(statistic, result.statistic, floor=0.0)
    assert close(p_value, result.pvalue, floor=0.0)
    assert 0.0 <= p_value <= 1.0


@settings(max_examples=200, deadline=None)
@given(sample_pairs)
def test_w_and_ks_are_symmetric_and_zero_for_identical_samples(pair: tuple[Floats, Floats]) -> None:
    reference, current = pair
    assert wasserstein_distance(reference, reference) == 0.0
    assert ks_statistic(current, current) == 0.0
    assert ks_statistic(reference, current) == ks_statistic(current, reference)
    assert math.isclose(
        wasserstein_distance(reference, current), wasserstein_distance(current, reference), rel_tol=1e-12
    )
    assert 0.0 <= ks_statistic(reference, current) <= 1.0


def _count_pair(low: int) -> st.SearchStrategy[tuple[list[int], list[int]]]:
    """Equal-length count vectors; the second side's counts are at least `low`."""
    return st.integers(1, 20).flatmap(
        lambda bins: st.tuples(
            st.lists(st.integers(0, 1000), min_size=bins, max_size=bins),
            st.lists(st.integers(low, 1000), min_size=bins, max_size=bins),
        )
    )


@settings(max_examples=200, deadline=None)
@given(_count_pair(low=0).filter(lambda pair: sum(pair[0]) > 0 and sum(pair[1]) > 0))
def test_chi_square_equals_scipys_test_of_homogeneity_on_the_two_by_k_table(
    pair: tuple[list[int], list[int]],
) -> None:
    reference = np.asarray(pair[0], dtype=np.float64)
    current = np.asarray(pair[1], dtype=np.float64)
    table = np.vstack((reference, current))
    table = table[:, table.sum(axis=0) > 0]  # scipy refuses empty columns; the drift check drops them
    statistic, p_value = chi_square_test(reference, current)
    if table.shape[1] < 2:
        assert (statistic, p_value) == (0.0, 1.0)
        return
    result = stats.chi2_contingency(table, correction=False)
    assert close(statistic, result.statistic)
    assert math.isclose(p_value, result.pvalue, rel_tol=REL, abs_tol=1e-300)


def test_chi_square_of_a_bin_only_the_current_sample_has_is_finite_and_significant() -> None:
    statistic, p_value = chi_square_test(np.array([500.0, 500.0, 0.0]), np.array([500.0, 400.0, 100.0]))
    assert math.isfinite(statistic) and p_value < 1e-20


def test_chi_square_over_one_bin_has_no_degrees_of_freedom_and_p_one() -> None:
    assert chi_square_test(np.array([7.0]), np.array([7.0])) == (0.0, 1.0)


def reference_proportions(counts: Sequence[int]) -> list[float]:
    total = sum(counts)
    return [count / total if count else EMPTY_BIN_PROPORTION for count in counts]


def reference_psi(reference: Sequence[float], current: Sequence[float]) -> float:
    return sum((c - r) * math.log(c / r) for r, c in zip(reference, current, strict=True))


def reference_kl(reference: Sequence[float], current: Sequence[float]) -> float:
    p = [value / sum(reference) for value in reference]
    q = [value / sum(current) for value in current]
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=True))


def reference_js(reference: Sequence[float], current: Sequence[float]) -> float:
    p = [value / sum(reference) for value in reference]
    q = [value / sum(current) for value in current]
    mixture = [(pi + qi) / 2 for pi, qi in zip(p, q, strict=True)]
    return math.sqrt(max((reference_kl(p, mixture) + reference_kl(q, mixture)) / 2, 0.0))


binned_pairs = _count_pair(low=0).map(lambda pair: (proportions(pair[0]), proportions(pair[1])))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=30))
def test_proportions_are_count_over_total_with_empty_bins_at_1e_4(counts: list[int]) -> None:
    assert proportions(counts).tolist() == reference_proportions(counts)


def test_proportions_of_no_counts_are_all_the_empty_bin_share() -> None:
    assert proportions([0, 0, 0]).tolist() == [EMPTY_BIN_PROPORTION] * 3


@settings(max_examples=200, deadline=None)
@given(binned_pairs)
def test_psi_matches_its_formula(pair: tuple[Floats, Floats]) -> None:
    reference, current = pair
    ours = population_stability_index(reference, current)
    assert close(ours, reference_psi(reference.tolist(), current.tolist()))
    assert ours >= 0.0


@settings(max_examples=200, deadline=None)
@given(binned_pairs)
def test_kl_matches_its_formula_and_scipys_entropy(pair: tuple[Floats, Floats]) -> None:
    reference, current = pair
    ours = kl_divergence(reference, current)
    assert close(ours, reference_kl(reference.tolist(), current.tolist()))
    assert close(ours, float(stats.entropy(reference, current)))


@settings(max_examples=200, deadline=None)
@given(binned_pairs)
def test_js_matches_its_formula_and_scipys_distance_within_its_bounds(pair: tuple[Floats, Floats]) -> None:
    reference, current = pair
    ours = jensen_shannon_distance(reference, current)
    # Near zero the square root magnifies rounding in the divergence, so the floor is on the distance.
    assert close(ours, reference_js(reference.tolist(), current.tolist()), floor=1e-7)
    assert close(ours, float(jensenshannon(reference, current)), floor=1e-7)
    assert 0.0 <= ours <= math.sqrt(math.log(2)) + 1e-12
    assert jensen_shannon_distance(reference, reference) == pytest.approx(0.0, abs=1e-7)
    assert math.isclose(ours, jensen_shannon_distance(current, reference), rel_tol=1e-9, abs_tol=1e-7)


def test_js_of_disjoint_counts_approaches_sqrt_ln_2() -> None:
    # Through `proportions` (as PSI and KL get them) an empty bin holds 1e-4, so the bound is not reached.
    distance = jensen_shannon_distance(proportions([1000, 0]), proportions([0, 1000]))
    assert distance == pytest.approx(float(jensenshannon([1, 1e-4], [1e-4, 1])), rel=REL)
    assert math.sqrt(math.log(2)) - 0.01 < distance < math.sqrt(math.log(2))


@settings(max_examples=200, deadline=None)
@given(_count_pair(low=0).filter(lambda pair: sum(pair[0]) > 0 and sum(pair[1]) > 0))
def test_jensen_shannon_of_raw_counts_with_empty_bins_equals_scipys(
    pair: tuple[list[int], list[int]],
) -> None:
    """Evidently passes JS the plain shares, zeros included; 0 ln 0 counts as 0, as in scipy."""
    reference = np.asarray(pair[0], dtype=np.float64)
    current = np.asarray(pair[1], dtype=np.float64)
    ours = jensen_shannon_distance(reference, current)
    assert close(ours, float(jensenshannon(reference, current)), floor=1e-7)
