"""How well each feature separates two groups of samples: Cohen's d and AUROC, vectorised.

Both take codes of shape (n_group, D) and return one number per feature (column).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import rankdata

from crossdiff.errors import CrossdiffError


def _as_float64(codes: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(codes, torch.Tensor):
        codes = codes.detach().cpu().double().numpy()
    array = np.asarray(codes, dtype=np.float64)
    if array.ndim != 2:
        raise CrossdiffError(f"codes must be a 2-D (samples, features) array, got {array.shape}")
    return array


def _check_pair(pos: np.ndarray, neg: np.ndarray, minimum: int) -> None:
    if pos.shape[1] != neg.shape[1]:
        raise CrossdiffError(
            f"the two groups have {pos.shape[1]} and {neg.shape[1]} features: encode both with "
            "the same crosscoder"
        )
    if pos.shape[0] < minimum or neg.shape[0] < minimum:
        raise CrossdiffError(
            f"each group needs at least {minimum} samples, got {pos.shape[0]} and {neg.shape[0]}: "
            "collect more tool prompts and general texts"
        )


def cohens_d(pos: torch.Tensor | np.ndarray, neg: torch.Tensor | np.ndarray) -> np.ndarray:
    """Cohen's d per feature: (mean_pos − mean_neg) / sqrt((s²_pos + s²_neg) / 2), ddof 1.

    This is the study's pooling (an unweighted mean of the two variances). With both variances
    zero, d is 0 when the means agree and ±inf when they differ.
    """
    pos_np, neg_np = _as_float64(pos), _as_float64(neg)
    _check_pair(pos_np, neg_np, minimum=2)
    diff = pos_np.mean(axis=0) - neg_np.mean(axis=0)
    pooled = np.sqrt((pos_np.var(axis=0, ddof=1) + neg_np.var(axis=0, ddof=1)) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = diff / pooled
    d[(pooled == 0) & (diff == 0)] = 0.0
    return d


def auroc(
    pos: torch.Tensor | np.ndarray, neg: torch.Tensor | np.ndarray, chunk: int = 1024
) -> np.ndarray:
    """AUROC per feature: P(X_pos > X_neg) + ½ P(X_pos = X_neg), the Mann–Whitney U / (n₁n₂).

    Uses mid-ranks over the pooled sample (ties, e.g. the many zeros of sparse codes, count half),
    `chunk` features at a time to bound memory.
    """
    pos_np, neg_np = _as_float64(pos), _as_float64(neg)
    _check_pair(pos_np, neg_np, minimum=1)
    n_pos, n_neg = pos_np.shape[0], neg_np.shape[0]
    out = np.empty(pos_np.shape[1])
    for start in range(0, pos_np.shape[1], chunk):
        cols = slice(start, start + chunk)
        pooled = np.concatenate([pos_np[:, cols], neg_np[:, cols]], axis=0)
        ranks = rankdata(pooled, method="average", axis=0)
        rank_sum = ranks[:n_pos].sum(axis=0)
        out[cols] = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return out


def firing_rate(codes: torch.Tensor | np.ndarray, threshold: float) -> np.ndarray:
    """Share of samples in which each feature's activation is above `threshold`."""
    array = _as_float64(codes)
    if array.shape[0] == 0:
        return np.full(array.shape[1], np.nan)
    return (array > threshold).mean(axis=0)
