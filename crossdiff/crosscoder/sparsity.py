"""Which (sample, feature) entries are active under each top-k rule; computed without autograd.

`topk` keeps each sample's k largest positive pre-activations. `batchtopk` keeps the k·B largest
positive scores (pre-activation × summed decoder norm) of the whole (global) batch: it first
takes per-row candidates, finds the exact global threshold among them, and re-examines in full
only the rows whose every candidate qualified, so the answer equals a full batch top-k.

Scores are computed a block of rows at a time and reduced to per-row candidates while the block
is still in cache, so the (batch, D) matrix is never materialised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from crossdiff.crosscoder.distributed import all_gather_1d, all_reduce_sum

BLOCK_ELEMENTS = 1 << 21  # rows per block × D: about 8 MB of float32 scores


@dataclass
class Selection:
    """Active entries grouped by row, with their score values, and the BatchTopK threshold."""

    rows: Tensor
    cols: Tensor
    scores: Tensor
    threshold: float | None = None


def linear_scores(x: Tensor, weight_Dd: Tensor, bias_D: Tensor) -> Callable[[Tensor], Tensor]:
    """A function from row indices to their scores x[rows] @ weightᵀ + bias."""
    return lambda rows: torch.addmm(bias_D, x[rows], weight_Dd.t())


def row_candidates(
    x: Tensor, weight_Dd: Tensor, bias_D: Tensor, width: int
) -> tuple[Tensor, Tensor]:
    """Each row's `width` largest scores (in no particular order) and their columns."""
    batch, dict_size = x.shape[0], weight_Dd.shape[0]
    block = max(1, BLOCK_ELEMENTS // dict_size)
    values = x.new_empty(batch, width)
    cols = torch.empty(batch, width, dtype=torch.int64, device=x.device)
    weight_t = weight_Dd.t()
    for start in range(0, batch, block):
        stop = min(batch, start + block)
        scores = torch.addmm(bias_D, x[start:stop], weight_t)
        values[start:stop], cols[start:stop] = scores.topk(width, dim=1, sorted=False)
    return values, cols


def topk_per_row(values: Tensor, cols: Tensor) -> Selection:
    """The positive entries among per-row top-k candidates (values, cols of shape (B, k))."""
    keep = values > 0
    rows, slots = keep.nonzero(as_tuple=True)
    return Selection(rows, cols[rows, slots], values[rows, slots])


def _kth_largest(values: Tensor, count: int) -> Tensor:
    """The count-th largest element of a 1-D tensor (the smallest if count exceeds its size)."""
    count = min(count, values.numel())
    if count <= 0:
        return values.new_tensor(float("inf"))
    return values.topk(count, sorted=False).values.min()


def batch_topk(
    cand_values: Tensor,
    cand_cols: Tensor,
    total: int,
    full_rows: Callable[[Tensor], Tensor],
    dict_size: int,
) -> Selection:
    """The `total` largest positive scores of the global batch, from per-row candidates.

    `total` counts entries over all processes (k × global batch); `full_rows(rows)` recomputes
    complete score rows for the rows whose candidates may not suffice. Ties at the threshold
    are all kept.
    """
    batch, width = cand_values.shape
    threshold = _kth_largest(all_gather_1d(cand_values.reshape(-1)), total)
    saturated = torch.zeros(batch, dtype=torch.bool, device=cand_values.device)
    sat_rows = saturated.nonzero(as_tuple=True)[0]
    sat_scores = cand_values.new_empty(0, dict_size)
    if width < dict_size:
        smallest = cand_values.min(dim=1).values
        saturated = (smallest >= threshold) & (smallest > 0)
        if int(all_reduce_sum(saturated.any().to(torch.int64).reshape(1))) > 0:
            # Rows whose every candidate qualified may hide more qualifying entries: use the
            # whole row for them. The threshold can only rise, so other rows stay exact.
            sat_rows = saturated.nonzero(as_tuple=True)[0]
            sat_scores = full_rows(sat_rows)
            pool = torch.cat([cand_values[~saturated].reshape(-1), sat_scores.reshape(-1)])
            threshold = _kth_largest(all_gather_1d(pool), total)
    threshold = threshold.clamp_min(torch.finfo(cand_values.dtype).tiny)
    keep = (cand_values >= threshold) & ~saturated[:, None]
    rows, slots = keep.nonzero(as_tuple=True)
    rows_parts, cols_parts = [rows], [cand_cols[rows, slots]]
    score_parts = [cand_values[rows, slots]]
    if sat_rows.numel():
        sub_rows, sub_cols = (sat_scores >= threshold).nonzero(as_tuple=True)
        rows_parts.append(sat_rows[sub_rows])
        cols_parts.append(sub_cols)
        score_parts.append(sat_scores[sub_rows, sub_cols])
    rows, cols, scores = torch.cat(rows_parts), torch.cat(cols_parts), torch.cat(score_parts)
    if sat_rows.numel():  # candidate entries come row-major already; merge the full rows in
        order = torch.argsort(rows, stable=True)
        rows, cols, scores = rows[order], cols[order], scores[order]
    return Selection(rows, cols, scores, float(threshold))


def above_threshold(score: Tensor, threshold: float) -> Selection:
    """Entries with score > threshold and > 0: inference-time batch top-k."""
    rows, cols = ((score > threshold) & (score > 0)).nonzero(as_tuple=True)
    return Selection(rows, cols, score[rows, cols])
