"""Which (sample, feature) entries are active under each top-k rule; computed without autograd.

`topk` keeps each sample's k largest positive pre-activations. `batchtopk` keeps the k·B largest
positive scores (pre-activation × summed decoder norm) of the whole (global) batch: it first
takes per-row candidates, finds the exact global threshold among them, and re-examines in full
only the rows whose every candidate qualified, so the answer equals a full batch top-k.
"""

from __future__ import annotations

import torch
from torch import Tensor

from crossdiff.crosscoder.distributed import all_gather_1d, all_reduce_sum


def topk_per_row(pre: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """(rows, cols) of each row's k largest entries that are > 0, grouped by row."""
    batch = pre.shape[0]
    values, cols = pre.topk(k, dim=1, sorted=False)
    rows = torch.arange(batch, device=pre.device).repeat_interleave(k)
    keep = values.reshape(-1) > 0
    return rows[keep], cols.reshape(-1)[keep]


def _kth_largest(values: Tensor, count: int) -> Tensor:
    """The count-th largest element of a 1-D tensor (the smallest if count exceeds its size)."""
    count = min(count, values.numel())
    if count <= 0:
        return values.new_tensor(float("inf"))
    return values.topk(count, sorted=False).values.min()


def batch_topk(score: Tensor, total: int, candidates_per_row: int) -> tuple[Tensor, Tensor, Tensor]:
    """(rows, cols, threshold) of the `total` largest positive scores of the global batch.

    `total` counts entries over all processes (k × global batch). Ties at the threshold are all
    kept. `threshold` is the smallest kept score (inf if nothing is positive).
    """
    batch, dict_size = score.shape
    width = min(dict_size, max(1, candidates_per_row))
    cand_values, cand_cols = score.topk(width, dim=1, sorted=True)
    threshold = _kth_largest(all_gather_1d(cand_values.reshape(-1)), total)
    saturated = torch.zeros(batch, dtype=torch.bool, device=score.device)
    if width < dict_size:
        saturated = (cand_values[:, -1] >= threshold) & (cand_values[:, -1] > 0)
        if int(all_reduce_sum(saturated.any().to(torch.int64).reshape(1))) > 0:
            # Rows whose every candidate qualified may hide more qualifying entries: use the
            # whole row for them. The threshold can only rise, so other rows stay exact.
            pool = torch.cat([cand_values[~saturated].reshape(-1), score[saturated].reshape(-1)])
            threshold = _kth_largest(all_gather_1d(pool), total)
    threshold = threshold.clamp_min(torch.finfo(score.dtype).tiny)
    keep = (cand_values >= threshold) & ~saturated[:, None]
    cand_rows, slots = keep.nonzero(as_tuple=True)
    rows_parts, cols_parts = [cand_rows], [cand_cols[cand_rows, slots]]
    if bool(saturated.any()):
        sat_rows = saturated.nonzero(as_tuple=True)[0]
        sub_rows, sub_cols = (score[sat_rows] >= threshold).nonzero(as_tuple=True)
        rows_parts.append(sat_rows[sub_rows])
        cols_parts.append(sub_cols)
    rows, cols = torch.cat(rows_parts), torch.cat(cols_parts)
    order = torch.argsort(rows, stable=True)
    return rows[order], cols[order], threshold


def above_threshold(score: Tensor, threshold: float) -> tuple[Tensor, Tensor]:
    """(rows, cols) of entries with score > threshold and > 0: inference-time batch top-k."""
    return ((score > threshold) & (score > 0)).nonzero(as_tuple=True)
