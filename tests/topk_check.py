"""The one check that a selection is exactly the batch's top-k entries, rows ascending."""

from __future__ import annotations

import torch


def assert_full_batch_topk(selection, score: torch.Tensor, total: int) -> None:
    """Assert `selection` holds exactly the `total` largest entries of `score`, rows ascending."""
    rows, cols = selection.rows, selection.cols
    assert torch.equal(selection.scores, score[rows, cols])
    want = torch.zeros_like(score).flatten()
    want[score.flatten().topk(total).indices] = 1
    got = torch.zeros_like(score)
    got[rows, cols] = 1
    assert torch.equal(got.flatten(), want)
    assert selection.threshold == float(score.flatten().topk(total).values.min())
    assert torch.all(rows[1:] >= rows[:-1])
