"""The top-N activating rows of every feature, kept while batches stream past.

Merging a batch is one `topk` over the concatenation of the running top-N and the batch, so the
cost does not depend on how many features there are beyond one matrix operation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class TopActivations:
    """For each feature its best rows: `rows` (D, N) global row indices (−1 = none), `values`."""

    rows: np.ndarray  # (D, N) int64, sorted by activation, descending
    values: np.ndarray  # (D, N) float64; 0 where rows == -1

    def examples(self, feature: int) -> list[tuple[int, float]]:
        """(row, activation) pairs of one feature, best first, only rows where it fired."""
        keep = self.rows[feature] >= 0
        return list(
            zip(self.rows[feature][keep].tolist(), self.values[feature][keep].tolist(), strict=True)
        )


class TopActivationTracker:
    """Running top-N (row, activation) per feature; only activations > 0 are kept."""

    def __init__(self, dict_size: int, count: int) -> None:
        self.count = count
        self.values = torch.zeros(count, dict_size)
        self.rows = torch.full((count, dict_size), -1, dtype=torch.int64)

    def add(self, codes: Tensor, first_row: int) -> None:
        """Merge a batch of codes (B, D) whose first row has global index `first_row`."""
        batch = codes.shape[0]
        if batch == 0:
            return
        # The batch's own top rows first, so the merge only concatenates (2N, D) tensors.
        batch_values, batch_slots = codes.float().topk(min(self.count, batch), dim=0)
        values = torch.cat([self.values, batch_values])
        rows = torch.cat([self.rows, batch_slots + first_row])
        best_values, best_slots = values.topk(self.count, dim=0)
        self.values = best_values
        self.rows = rows.gather(0, best_slots)

    def result(self) -> TopActivations:
        """The top rows of every feature; rows whose activation is not > 0 become −1."""
        fired = self.values > 0
        rows = torch.where(fired, self.rows, -1)
        values = torch.where(fired, self.values, 0.0)
        return TopActivations(rows=rows.t().numpy().copy(), values=values.t().double().numpy())


def top_activations(codes: Tensor, count: int, first_row: int = 0) -> TopActivations:
    """The top-`count` rows of every feature of an in-memory code matrix (n, D)."""
    tracker = TopActivationTracker(codes.shape[1], count)
    tracker.add(codes, first_row)
    return tracker.result()
