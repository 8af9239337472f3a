"""The drift statistics, in numpy over sorted samples and binned counts.

Why not call scipy for everything: a check compares a stored baseline (an already sorted sample, binned
reference counts) with a large current column, and scipy's two-sample functions sort and concatenate both
sides on every call. Here the current column is sorted once and shared by every method. scipy supplies
only what it is uniquely good at: the Kolmogorov distribution and the chi-square survival function, and
the exact small-sample KS p-value. It is imported where it is used, so the drift function's cold start
pays for `scipy.stats` (about 0.3 s) only when a check runs a KS test. `tests/unit/test_drift_statistics.py`
checks every function against scipy (or a reference formula) with hypothesis.

PSI and KL replace an empty bin's proportion by `EMPTY_BIN_PROPORTION` so their logarithms stay finite
(Evidently does the same unless a non-empty share is even smaller); Jensen-Shannon needs no such fill
(0 log 0 is 0) and gets the plain shares, as in Evidently.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]

EMPTY_BIN_PROPORTION = 1e-4
KS_EXACT_MAX_N = 10_000
"""scipy's `ks_2samp` is exact (and cheap) when neither sample is larger than this; so are we."""


def proportions(counts: npt.ArrayLike) -> Floats:
    """Counts as proportions of their total, an empty bin given `EMPTY_BIN_PROPORTION`."""
    values = np.asarray(counts, dtype=np.float64)
    total = values.sum()
    shares: Floats = values / total if total > 0 else np.zeros_like(values)
    shares[shares == 0] = EMPTY_BIN_PROPORTION
    return shares


def population_stability_index(reference: Floats, current: Floats) -> float:
    """PSI = sum((current - reference) * ln(current / reference)) over bins of proportions."""
    return float(np.sum((current - reference) * np.log(current / reference)))


def _normalized(values: Floats) -> Floats:
    total: float = values.sum()
    return values / total


def kl_divergence(reference: Floats, current: Floats) -> float:
    """KL(reference || current) in nats, each side normalized to sum to one (as `scipy.stats.entropy`)."""
    p, q = _normalized(reference), _normalized(current)
    return float(np.sum(p * np.log(p / q)))


def _relative_entropy(p: Floats, q: Floats) -> float:
    """sum(p ln(p / q)) where p > 0 (a zero share contributes nothing)."""
    present = p > 0
    return float(np.sum(p[present] * np.log(p[present] / q[present])))


def jensen_shannon_distance(reference: Floats, current: Floats) -> float:
    """The square root of the Jensen-Shannon divergence, natural log (as `scipy.spatial.distance`)."""
    p, q = _normalized(reference), _normalized(current)
    mixture = (p + q) / 2
    divergence = (_relative_entropy(p, mixture) + _relative_entropy(q, mixture)) / 2
    return math.sqrt(max(divergence, 0.0))


def _merged_cdfs(reference_sorted: Floats, current_sorted: Floats) -> tuple[Floats, Floats, Floats]:
    """Both samples merged in order, and each one's empirical CDF after every merged point.

    Linear after one small search: each reference value's place among the current values fixes the
    merge. Within a run of tied values only the last point carries the true right-continuous CDF; the
    callers weight points by the gap to the next one (zero inside a tie) or look only at run ends.
    """
    n, m = reference_sorted.size, current_sorted.size
    places = np.arange(n) + np.searchsorted(current_sorted, reference_sorted, side="left")
    from_reference = np.zeros(n + m, dtype=bool)
    from_reference[places] = True
    merged = np.empty(n + m, dtype=np.float64)
    merged[from_reference] = reference_sorted
    merged[~from_reference] = current_sorted
    reference_counts = np.cumsum(from_reference)
    current_counts = np.arange(1, n + m + 1) - reference_counts
    return merged, reference_counts / n, current_counts / m


def wasserstein_distance(reference_sorted: Floats, current_sorted: Floats) -> float:
    """First Wasserstein distance between two empirical distributions, from their sorted samples."""
    merged, reference_cdf, current_cdf = _merged_cdfs(reference_sorted, current_sorted)
    gaps = np.abs(reference_cdf[:-1] - current_cdf[:-1])
    return float(np.dot(gaps, np.diff(merged)))


def ks_statistic(reference_sorted: Floats, current_sorted: Floats) -> float:
    """The two-sample Kolmogorov-Smirnov statistic: the largest gap between the two empirical CDFs."""
    merged, reference_cdf, current_cdf = _merged_cdfs(reference_sorted, current_sorted)
    run_ends = np.append(merged[1:] != merged[:-1], True)
    return float(np.abs(reference_cdf - current_cdf)[run_ends].max())


def ks_test(reference_sorted: Floats, current_sorted: Floats) -> tuple[float, float]:
    """Statistic and two-sided p-value, as `scipy.stats.ks_2samp` (method 'auto') computes them.

    Small samples take scipy's exact path (it rounds the statistic to its lattice); larger ones use
    Smirnov's asymptotic distribution, `kstwo.sf(d, round(n*m/(n+m)))`.
    """
    from scipy import stats  # ~0.3 s of import, paid by the first KS test rather than every cold start

    n, m = reference_sorted.size, current_sorted.size
    if max(n, m) <= KS_EXACT_MAX_N:
        result: Any = stats.ks_2samp(reference_sorted, current_sorted, method="exact")
        return float(result.statistic), float(result.pvalue)
    statistic = ks_statistic(reference_sorted, current_sorted)
    effective = round(n * m / (n + m))
    return statistic, float(np.clip(stats.kstwo.sf(statistic, effective), 0.0, 1.0))


def chi_square_test(reference: Floats, current: Floats) -> tuple[float, float]:
    """Pearson's chi-square test that two samples of counts over the same bins share one distribution.

    A test of homogeneity on the 2 x k table (as `scipy.stats.chi2_contingency(..., correction=False)`),
    not goodness of fit against the reference as if its counts were exact: the reference is a sample
    too, and treating it as exact flags identical data far more often than the significance level says.
    Bins empty on both sides are dropped; `k - 1` degrees of freedom.
    """
    from scipy import special

    table = np.vstack((reference, current))
    table = table[:, table.sum(axis=0) > 0]
    degrees = table.shape[1] - 1
    if degrees < 1 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, float(special.chdtrc(degrees, statistic))
