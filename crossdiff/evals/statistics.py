"""Honest statistics for paired behavioural evaluations.

Every rate gets a Wilson interval; two runs on the same prompts are compared with the 2×2 flip
table, the exact McNemar test, a seeded paired bootstrap interval of the difference, and the
study's paired-t interval (kept so numbers can be set beside the study's). Many comparisons get
Holm and Benjamini–Hochberg adjusted p-values. The distributions come from scipy/statsmodels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats as scipy_stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from crossdiff.errors import CrossdiffError
from crossdiff.seeding import check_seed

DEFAULT_CONFIDENCE = 0.95


def _check_confidence(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise CrossdiffError(f"confidence must be in (0, 1), got {confidence!r}")
    return confidence


@dataclass(frozen=True)
class RateInterval:
    """A rate `count / total` with a confidence interval [low, high]."""

    count: int
    total: int
    rate: float
    low: float
    high: float
    confidence: float = DEFAULT_CONFIDENCE

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: every field."""
        return asdict(self)


def wilson_interval(count: int, total: int, confidence: float = DEFAULT_CONFIDENCE) -> RateInterval:
    """Return the rate `count / total` with its Wilson score interval (statsmodels).

    An empty total gives rate 0 and the uninformative interval [0, 1].
    """
    _check_confidence(confidence)
    if total < 0 or count < 0 or count > total:
        raise CrossdiffError(f"a rate needs 0 <= count <= total, got count={count} total={total}")
    if total == 0:
        return RateInterval(count, total, 0.0, 0.0, 1.0, confidence)
    low, high = proportion_confint(count, total, alpha=1.0 - confidence, method="wilson")
    rate = count / total
    # statsmodels leaves ~1e-17 rounding at the ends (e.g. low > 0 for 0/n): clamp it away.
    low, high = min(max(float(low), 0.0), rate), max(min(float(high), 1.0), rate)
    return RateInterval(count, total, rate, low, high, confidence)


@dataclass(frozen=True)
class FlipTable:
    """Paired binary outcomes of a baseline run and a treatment run on the same prompts.

    `both` passed in both runs, `lost` passed only in the baseline, `gained` passed only in the
    treatment, `neither` failed in both.
    """

    both: int
    lost: int
    gained: int
    neither: int

    @property
    def total(self) -> int:
        """Number of paired prompts."""
        return self.both + self.lost + self.gained + self.neither

    def as_matrix(self) -> list[list[int]]:
        """Rows = baseline (pass, fail), columns = treatment (pass, fail)."""
        return [[self.both, self.lost], [self.gained, self.neither]]

    def to_dict(self) -> dict[str, int]:
        """The JSON form: the four cells."""
        return asdict(self)


def _as_binary(values: Sequence[bool] | np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise CrossdiffError(f"{name} must be one outcome per prompt (1-D), got {array.shape}")
    if array.dtype != bool and not np.isin(array, (0, 1)).all():
        raise CrossdiffError(f"{name} must hold binary outcomes (0/1 or bool)")
    return array.astype(bool)


def _paired_arrays(
    baseline: Sequence[bool] | np.ndarray, treatment: Sequence[bool] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    base = _as_binary(baseline, "baseline")
    treat = _as_binary(treatment, "treatment")
    if base.shape != treat.shape:
        raise CrossdiffError(
            f"paired runs need the same prompts: baseline has {base.size} outcomes, "
            f"treatment has {treat.size}"
        )
    if base.size == 0:
        raise CrossdiffError("paired runs have no prompts in common; nothing to compare")
    return base, treat


def flip_table(
    baseline: Sequence[bool] | np.ndarray, treatment: Sequence[bool] | np.ndarray
) -> FlipTable:
    """Count the four paired outcomes of two runs on the same prompts (same order)."""
    base, treat = _paired_arrays(baseline, treatment)
    return FlipTable(
        both=int((base & treat).sum()),
        lost=int((base & ~treat).sum()),
        gained=int((~base & treat).sum()),
        neither=int((~base & ~treat).sum()),
    )


def mcnemar_exact_p(table: FlipTable) -> float:
    """Two-sided exact McNemar p-value (binomial on the discordant pairs; statsmodels)."""
    if table.lost + table.gained == 0:
        return 1.0
    return float(mcnemar(np.array(table.as_matrix()), exact=True).pvalue)


@dataclass(frozen=True)
class DifferenceInterval:
    """An estimate of treatment − baseline with a confidence interval and how it was made."""

    estimate: float
    low: float
    high: float
    method: str
    confidence: float = DEFAULT_CONFIDENCE

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: every field."""
        return asdict(self)


def paired_bootstrap_interval(
    baseline: Sequence[float] | np.ndarray,
    treatment: Sequence[float] | np.ndarray,
    seed: int,
    num_resamples: int = 10_000,
    confidence: float = DEFAULT_CONFIDENCE,
) -> DifferenceInterval:
    """Percentile bootstrap interval of mean(treatment − baseline), resampling prompts in pairs.

    Seeded (numpy Generator) and vectorised: all resamples are drawn as one index matrix, processed
    in chunks to bound memory.
    """
    check_seed(seed, "bootstrap seed")
    _check_confidence(confidence)
    if num_resamples < 1:
        raise CrossdiffError(f"num_resamples must be >= 1, got {num_resamples}")
    base = np.asarray(baseline, dtype=np.float64)
    treat = np.asarray(treatment, dtype=np.float64)
    if base.shape != treat.shape or base.ndim != 1 or base.size == 0:
        raise CrossdiffError(
            f"paired bootstrap needs two equal-length 1-D outcome lists, got {base.shape} "
            f"and {treat.shape}"
        )
    diffs = treat - base
    rng = np.random.default_rng(seed)
    n = diffs.size
    chunk = max(1, 4_000_000 // n)
    means = np.empty(num_resamples, dtype=np.float64)
    for start in range(0, num_resamples, chunk):
        stop = min(num_resamples, start + chunk)
        indices = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = diffs[indices].mean(axis=1)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    method = f"paired bootstrap ({num_resamples})"
    return DifferenceInterval(float(diffs.mean()), float(low), float(high), method, confidence)


def paired_t_interval(
    baseline: Sequence[float] | np.ndarray,
    treatment: Sequence[float] | np.ndarray,
    confidence: float = DEFAULT_CONFIDENCE,
) -> DifferenceInterval:
    """The study's interval: mean difference ± t_{n−1} · sd(ddof=1) / √n (scipy.stats.t)."""
    _check_confidence(confidence)
    base = np.asarray(baseline, dtype=np.float64)
    treat = np.asarray(treatment, dtype=np.float64)
    if base.shape != treat.shape or base.ndim != 1:
        raise CrossdiffError(
            f"paired-t needs two equal-length 1-D outcome lists, got {base.shape} and {treat.shape}"
        )
    if base.size < 2:
        raise CrossdiffError(f"paired-t needs at least 2 prompts, got {base.size}")
    diffs = treat - base
    mean = float(diffs.mean())
    half_width = float(
        scipy_stats.t.ppf(0.5 + confidence / 2.0, df=diffs.size - 1)
        * diffs.std(ddof=1)
        / np.sqrt(diffs.size)
    )
    return DifferenceInterval(mean, mean - half_width, mean + half_width, "paired t", confidence)


AdjustMethod = Literal["holm", "fdr_bh"]


def adjust_p_values(p_values: Sequence[float], method: AdjustMethod) -> list[float]:
    """Holm (`"holm"`, family-wise) or Benjamini–Hochberg (`"fdr_bh"`) adjusted p-values."""
    if method not in ("holm", "fdr_bh"):
        raise CrossdiffError(f"unknown p-value adjustment {method!r}; use 'holm' or 'fdr_bh'")
    values = np.asarray(p_values, dtype=np.float64)
    if values.size == 0:
        return []
    if ((values < 0) | (values > 1) | np.isnan(values)).any():
        raise CrossdiffError("p-values must lie in [0, 1]")
    return [float(p) for p in multipletests(values, method=method)[1]]


@dataclass(frozen=True)
class PairedComparison:
    """Everything `crossdiff compare` reports for one metric of two runs on the same prompts."""

    metric: str
    baseline: RateInterval
    treatment: RateInterval
    table: FlipTable
    mcnemar_p: float
    bootstrap: DifferenceInterval
    paired_t: DifferenceInterval

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "metric": self.metric,
            "baseline": self.baseline.to_dict(),
            "treatment": self.treatment.to_dict(),
            "difference": self.treatment.rate - self.baseline.rate,
            "flip_table": self.table.to_dict(),
            "mcnemar_exact_p": self.mcnemar_p,
            "bootstrap": self.bootstrap.to_dict(),
            "paired_t": self.paired_t.to_dict(),
        }


def compare_paired(
    baseline: Sequence[bool] | np.ndarray,
    treatment: Sequence[bool] | np.ndarray,
    metric: str = "full",
    seed: int = 0,
    num_resamples: int = 10_000,
    confidence: float = DEFAULT_CONFIDENCE,
) -> PairedComparison:
    """Compare two runs' binary outcomes on the same prompts (same order) in every way above."""
    base, treat = _paired_arrays(baseline, treatment)
    table = flip_table(base, treat)
    return PairedComparison(
        metric=metric,
        baseline=wilson_interval(int(base.sum()), base.size, confidence),
        treatment=wilson_interval(int(treat.sum()), treat.size, confidence),
        table=table,
        mcnemar_p=mcnemar_exact_p(table),
        bootstrap=paired_bootstrap_interval(base, treat, seed, num_resamples, confidence),
        paired_t=paired_t_interval(base, treat, confidence),
    )


def with_adjusted_p(
    rows: Sequence[dict[str, Any]], p_key: str = "mcnemar_exact_p"
) -> list[dict[str, Any]]:
    """Copies of comparison rows with `holm_p` and `bh_p` adjusted over all of them."""
    raw = [float(row[p_key]) for row in rows]
    holm = adjust_p_values(raw, "holm")
    bh = adjust_p_values(raw, "fdr_bh")
    return [{**row, "holm_p": h, "bh_p": b} for row, h, b in zip(rows, holm, bh, strict=True)]


def adjust_comparisons(comparisons: Sequence[PairedComparison]) -> list[dict[str, Any]]:
    """Each comparison's JSON form with its Holm and BH adjusted McNemar p across all of them."""
    return with_adjusted_p([c.to_dict() for c in comparisons])
