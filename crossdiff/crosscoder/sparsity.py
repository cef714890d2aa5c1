"""Which (sample, feature) entries are active under each top-k rule; computed without autograd.

`topk` keeps each sample's k largest positive pre-activations. `batchtopk` keeps the k·B largest
positive scores (pre-activation × summed decoder norm) of the whole (global) batch. Its fast path,
`batch_topk_filtered`, keeps every score above a threshold estimated from the first block (about
twice as many entries as needed) and finds the exact global threshold among them; it reports when
the estimate was too high. The fallback, `batch_topk`, takes per-row candidates, finds the exact
global threshold among them, and re-examines in full only the rows whose every candidate
qualified. Both answers equal a full batch top-k.

Scores are computed a block of rows at a time and reduced (to kept entries or per-row candidates)
while the block is still in cache, so the (batch, D) matrix is never materialised.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from crossdiff.crosscoder.distributed import all_gather_1d, all_reduce_sum
from crossdiff.crosscoder.kernels import one_thread

BLOCK_ELEMENTS = 1 << 21  # rows per block × D: about 8 MB of float32 scores
FILTER_GROUP = 16  # columns per coarse maximum in `entries_at_least`
ESTIMATE_STRIDE = 17  # the threshold estimate reads every 17th score of the first block,
ESTIMATE_MIN_HITS = 256  # when that sample holds at least this many entries above the estimate
FILTER_MARGIN = 2.0  # the estimate aims to keep this many times the entries needed


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


def entries_at_least(scores: Tensor, lower: float) -> tuple[Tensor, Tensor, Tensor]:
    """(rows, cols, values) of the entries of a (n, D) score block that are >= `lower`.

    Rows come out ascending (columns within a row in no particular order). When D is a
    multiple of FILTER_GROUP, a coarse pass first takes the maximum over groups of columns
    D/FILTER_GROUP apart (a vectorised reduction), so only groups holding an entry >= lower are
    compared in full: far cheaper than a per-row top-k or a full-size nonzero.
    """
    count, size = scores.shape
    if size % FILTER_GROUP:
        rows, cols = (scores >= lower).nonzero(as_tuple=True)
        return rows, cols, scores[rows, cols]
    lanes_per_group = size // FILTER_GROUP
    grouped = scores.view(count, FILTER_GROUP, lanes_per_group)
    rows, lanes = (grouped.amax(dim=1) >= lower).nonzero(as_tuple=True)
    lane_values = grouped[rows, :, lanes]  # (hit lanes, FILTER_GROUP)
    hits, groups = (lane_values >= lower).nonzero(as_tuple=True)
    return rows[hits], groups * lanes_per_group + lanes[hits], lane_values[hits, groups]


def _estimate_lower(scores: Tensor, count: float) -> float:
    """About the `count`-th largest entry of a score block, from a strided sample of it (the
    whole block when the sample would hold too few entries that large to be a fair guide)."""
    stride = ESTIMATE_STRIDE if count >= ESTIMATE_STRIDE * ESTIMATE_MIN_HITS else 1
    sample = scores.reshape(-1)[::stride]
    wanted = math.ceil(count / stride)
    tiny = torch.finfo(scores.dtype).tiny
    if wanted >= sample.numel():
        return tiny
    return max(float(sample.topk(wanted, sorted=False).values.min()), tiny)


def batch_topk_filtered(
    x: Tensor, weight_Dd: Tensor, bias_D: Tensor, per_row: int, total: int
) -> Selection | None:
    """The `total` largest positive scores x @ weightᵀ + bias of the global batch, in one pass,
    or None when this shortcut cannot prove its answer exact (then use `batch_topk`).

    The first block of rows gives an estimate `lower` of the score that FILTER_MARGIN ×
    `per_row` entries per row exceed; each block keeps only its entries >= lower. The
    `total`-th largest kept score over all processes is the exact threshold whenever it is >=
    every process's `lower` (every entry above it was kept). Ties at the threshold are all kept;
    rows come out ascending.
    """
    batch, dict_size = x.shape[0], weight_Dd.shape[0]
    block = max(1, BLOCK_ELEMENTS // dict_size)
    weight_t = weight_Dd.t()
    tiny = torch.finfo(x.dtype).tiny
    lower = tiny
    rows_parts = [torch.empty(0, dtype=torch.int64, device=x.device)]
    cols_parts, value_parts = [rows_parts[0]], [x.new_empty(0)]
    for start in range(0, batch, block):
        stop = min(batch, start + block)
        scores = torch.addmm(bias_D, x[start:stop], weight_t)
        if start == 0:
            lower = _estimate_lower(scores, FILTER_MARGIN * per_row * (stop - start))
        rows, cols, values = entries_at_least(scores, lower)
        rows_parts.append(rows + start)
        cols_parts.append(cols)
        value_parts.append(values)
    rows, cols, values = torch.cat(rows_parts), torch.cat(cols_parts), torch.cat(value_parts)
    highest_lower = float(all_gather_1d(x.new_tensor([lower])).max())
    pool = all_gather_1d(values)
    if pool.numel() >= total:
        threshold = float(_kth_largest(pool, total))
    elif highest_lower == tiny:  # every process kept all its positive scores
        threshold = tiny
    else:
        return None
    if threshold < highest_lower:
        return None
    keep = (values >= threshold).nonzero(as_tuple=True)[0]
    return Selection(rows[keep], cols[keep], values[keep], threshold)


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
        with one_thread():
            order = torch.argsort(rows, stable=True)
        rows, cols, scores = rows[order], cols[order], scores[order]
    return Selection(rows, cols, scores, float(threshold))


def above_threshold(score: Tensor, threshold: float) -> Selection:
    """Entries with score > threshold and > 0: inference-time batch top-k."""
    rows, cols = ((score > threshold) & (score > 0)).nonzero(as_tuple=True)
    return Selection(rows, cols, score[rows, cols])
