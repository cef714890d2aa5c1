"""Cohen's d and AUROC against scipy and brute-force references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import mannwhitneyu

from crossdiff.analysis import auroc, cohens_d, firing_rate
from crossdiff.errors import CrossdiffError


def brute_force_auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def sparse_codes(rng: np.random.Generator, n: int, d: int, rate: float) -> np.ndarray:
    values = rng.exponential(1.0, size=(n, d))
    return np.where(rng.random((n, d)) < rate, np.round(values, 1), 0.0)  # many ties


def test_cohens_d_matches_the_formula_column_by_column() -> None:
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(1.0, 2.0, (30, 5)), rng.normal(0.0, 1.0, (40, 5))
    d = cohens_d(pos, neg)
    for j in range(5):
        pooled = np.sqrt((np.var(pos[:, j], ddof=1) + np.var(neg[:, j], ddof=1)) / 2)
        assert d[j] == pytest.approx((pos[:, j].mean() - neg[:, j].mean()) / pooled)


def test_cohens_d_zero_variance_cases() -> None:
    pos = np.array([[0.0, 1.0], [0.0, 1.0]])
    neg = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    d = cohens_d(pos, neg)
    assert d[0] == 0.0 and d[1] == np.inf


def test_auroc_matches_brute_force_and_scipy_with_ties() -> None:
    rng = np.random.default_rng(1)
    pos, neg = sparse_codes(rng, 23, 7, 0.6), sparse_codes(rng, 31, 7, 0.3)
    got = auroc(pos, neg, chunk=3)  # several chunks
    for j in range(7):
        assert got[j] == pytest.approx(brute_force_auroc(pos[:, j], neg[:, j]))
    u = mannwhitneyu(pos, neg, axis=0).statistic
    np.testing.assert_allclose(got, u / (23 * 31))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.5]), min_size=1, max_size=12),
    st.lists(st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.5]), min_size=1, max_size=12),
)
def test_auroc_brute_force_property(pos: list[float], neg: list[float]) -> None:
    got = auroc(np.array(pos)[:, None], np.array(neg)[:, None])[0]
    assert got == pytest.approx(brute_force_auroc(np.array(pos), np.array(neg)))


def test_auroc_extremes_and_firing_rate() -> None:
    pos = np.array([[1.0, 0.0], [2.0, 0.0]])
    neg = np.array([[0.0, 1.0], [0.0, 2.0]])
    np.testing.assert_allclose(auroc(pos, neg), [1.0, 0.0])
    np.testing.assert_allclose(firing_rate(np.array([[0.1, 0.2], [0.11, 0.0]]), 0.1), [0.5, 0.5])


def test_groups_must_match_and_be_large_enough() -> None:
    with pytest.raises(CrossdiffError, match="features"):
        auroc(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(CrossdiffError, match="at least 2"):
        cohens_d(np.zeros((1, 2)), np.zeros((3, 2)))
