"""The statistics agree with scipy/statsmodels and with hand-computed values."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from crossdiff.errors import CrossdiffError
from crossdiff.evals.statistics import (
    FlipTable,
    adjust_comparisons,
    adjust_p_values,
    compare_paired,
    flip_table,
    mcnemar_exact_p,
    paired_bootstrap_interval,
    paired_t_interval,
    wilson_interval,
)


def _wilson_by_hand(count: int, total: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = count / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z / (1 + z * z / total) * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return centre - half, centre + half


@pytest.mark.parametrize(("count", "total"), [(0, 10), (9, 40), (35, 40), (40, 40), (200, 400)])
def test_wilson_matches_the_formula(count: int, total: int) -> None:
    interval = wilson_interval(count, total)
    low, high = _wilson_by_hand(count, total)
    assert interval.rate == count / total
    assert interval.low == pytest.approx(max(low, 0.0), abs=1e-12)
    assert interval.high == pytest.approx(min(high, 1.0), abs=1e-12)


def test_wilson_zero_of_ten_upper_bound_by_hand() -> None:
    z2 = 1.959963984540054**2
    assert wilson_interval(0, 10).high == pytest.approx(z2 / (10 + z2), abs=1e-12)


def test_wilson_rejects_impossible_rates_and_handles_empty() -> None:
    with pytest.raises(CrossdiffError):
        wilson_interval(5, 4)
    empty = wilson_interval(0, 0)
    assert (empty.low, empty.high) == (0.0, 1.0)


def test_flip_table_counts_each_cell() -> None:
    base = [1, 1, 0, 0, 0, 1]
    treat = [1, 0, 1, 1, 0, 1]
    assert flip_table(base, treat) == FlipTable(both=2, lost=1, gained=2, neither=1)


@pytest.mark.parametrize(
    ("lost", "gained", "expected"),
    [(0, 5, 2 * 0.5**5), (1, 9, 2 * (1 + 10) / 2**10), (3, 3, 1.0)],
)
def test_mcnemar_exact_by_hand(lost: int, gained: int, expected: float) -> None:
    table = FlipTable(both=10, lost=lost, gained=gained, neither=7)
    assert mcnemar_exact_p(table) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_exact_matches_the_binomial_test() -> None:
    for lost, gained in [(2, 11), (7, 4), (0, 26), (13, 20)]:
        table = FlipTable(both=5, lost=lost, gained=gained, neither=5)
        reference = scipy_stats.binomtest(lost, lost + gained, 0.5).pvalue
        assert mcnemar_exact_p(table) == pytest.approx(reference, rel=1e-10)


def test_mcnemar_without_discordant_pairs_is_one() -> None:
    assert mcnemar_exact_p(FlipTable(both=4, lost=0, gained=0, neither=6)) == 1.0


def test_paired_t_matches_scipy_ttest_rel() -> None:
    rng = np.random.default_rng(3)
    base = rng.random(40) < 0.2
    treat = rng.random(40) < 0.8
    ours = paired_t_interval(base, treat)
    ci = scipy_stats.ttest_rel(treat.astype(float), base.astype(float)).confidence_interval(0.95)
    assert ours.estimate == pytest.approx(treat.mean() - base.mean())
    assert ours.low == pytest.approx(ci.low, rel=1e-10)
    assert ours.high == pytest.approx(ci.high, rel=1e-10)


def test_paired_t_study_example_by_hand() -> None:
    # 9 of 40 -> 35 of 40 with 26 gains and no losses: d has mean 0.65, sd sqrt(0.65*0.35*40/39).
    base = np.array([1] * 9 + [0] * 31)
    treat = np.array([1] * 35 + [0] * 5)
    sd = math.sqrt(0.65 * 0.35 * 40 / 39)
    half = scipy_stats.t.ppf(0.975, 39) * sd / math.sqrt(40)
    interval = paired_t_interval(base, treat)
    assert interval.low == pytest.approx(0.65 - half)
    assert interval.high == pytest.approx(0.65 + half)


def test_bootstrap_is_seeded_and_agrees_with_scipy() -> None:
    rng = np.random.default_rng(11)
    base = (rng.random(60) < 0.3).astype(float)
    treat = (rng.random(60) < 0.6).astype(float)
    first = paired_bootstrap_interval(base, treat, seed=5, num_resamples=20_000)
    again = paired_bootstrap_interval(base, treat, seed=5, num_resamples=20_000)
    assert first == again
    assert _continuous_seeds_differ()
    reference = scipy_stats.bootstrap(
        (base, treat),
        lambda b, t: np.mean(t - b),
        paired=True,
        method="percentile",
        n_resamples=20_000,
        random_state=np.random.default_rng(0),
    ).confidence_interval
    assert first.low == pytest.approx(reference.low, abs=0.02)
    assert first.high == pytest.approx(reference.high, abs=0.02)
    assert first.low < first.estimate < first.high


def _continuous_seeds_differ() -> bool:
    # Binary outcomes give quantised percentiles; continuous ones show that the seed matters.
    rng = np.random.default_rng(2)
    base, treat = rng.normal(size=30), rng.normal(size=30)
    first = paired_bootstrap_interval(base, treat, seed=5, num_resamples=500)
    return first != paired_bootstrap_interval(base, treat, seed=6, num_resamples=500)


def test_bootstrap_of_identical_runs_is_zero_width() -> None:
    outcomes = [1, 0, 1, 1, 0]
    interval = paired_bootstrap_interval(outcomes, outcomes, seed=0, num_resamples=100)
    assert (interval.low, interval.estimate, interval.high) == (0.0, 0.0, 0.0)


def test_holm_and_bh_by_hand_and_against_statsmodels_order() -> None:
    p = [0.01, 0.04, 0.03]
    assert adjust_p_values(p, "holm") == pytest.approx([0.03, 0.06, 0.06])
    assert adjust_p_values(p, "fdr_bh") == pytest.approx([0.03, 0.04, 0.04])
    assert adjust_p_values([], "holm") == []
    with pytest.raises(CrossdiffError):
        adjust_p_values([0.5], "bonferroni")  # type: ignore[arg-type]
    with pytest.raises(CrossdiffError):
        adjust_p_values([1.5], "holm")


def test_compare_paired_reports_everything_and_adjusts_many() -> None:
    base = [0] * 30 + [1] * 10
    treat = [1] * 25 + [0] * 5 + [1] * 10
    comparison = compare_paired(base, treat, metric="full", seed=1, num_resamples=2000)
    assert comparison.table == FlipTable(both=10, lost=0, gained=25, neither=5)
    assert comparison.mcnemar_p == pytest.approx(2 * 0.5**25)
    assert comparison.baseline.count == 10 and comparison.treatment.count == 35
    null = compare_paired(base, base, seed=1, num_resamples=2000)
    rows = adjust_comparisons([comparison, null])
    assert rows[0]["holm_p"] == pytest.approx(min(1.0, 2 * comparison.mcnemar_p))
    assert rows[1]["holm_p"] == 1.0 and rows[1]["bh_p"] == 1.0


def test_paired_inputs_must_match() -> None:
    with pytest.raises(CrossdiffError, match="same prompts"):
        flip_table([1, 0], [1, 0, 1])
    with pytest.raises(CrossdiffError, match="binary"):
        flip_table([1, 2], [1, 0])
