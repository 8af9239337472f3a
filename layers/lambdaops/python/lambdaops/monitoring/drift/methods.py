"""What each drift method's threshold means, and its default."""

from __future__ import annotations

PVALUE_METHODS: frozenset[str] = frozenset({"ks", "chi_square"})
"""Methods whose threshold is a significance level (drift when p < threshold); the rest flag a
statistic at or above their threshold."""
SAMPLE_METHODS: frozenset[str] = frozenset({"ks", "wasserstein"})
"""Methods that compare samples on the number line, so numeric features only."""
DEFAULT_THRESHOLDS: dict[str, float] = {
    "psi": 0.1,
    "kl": 0.1,
    "js": 0.1,
    "wasserstein": 0.1,
    "ks": 0.05,
    "chi_square": 0.05,
}
