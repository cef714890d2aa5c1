"""Firing statistics per dataset (store source), accumulated batch by batch.

For every source s and feature i: the firing rate (share of the source's rows with f_i > threshold),
the mean activation over all of the source's rows, and the mean activation over the rows where it
fires. Also the maximum activation over the whole store.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class FiringStats:
    """Per source (rows of the arrays) and feature (columns) statistics."""

    sources: tuple[str, ...]
    rows: np.ndarray  # (S,) number of rows of each source
    rate: np.ndarray  # (S, D) share of rows with activation > threshold
    mean: np.ndarray  # (S, D) mean activation over all rows of the source
    mean_when_firing: np.ndarray  # (S, D) mean activation over firing rows (NaN if none)
    max_activation: np.ndarray  # (D,) over all rows
    threshold: float


class FiringAccumulator:
    """Sums per (source, feature) over batches of codes; `result()` gives FiringStats."""

    def __init__(self, sources: tuple[str, ...], dict_size: int, threshold: float) -> None:
        self.sources = sources
        self.threshold = threshold
        count = len(sources)
        self.rows = torch.zeros(count, dtype=torch.float64)
        self.fire_count = torch.zeros(count, dict_size, dtype=torch.float64)
        self.total = torch.zeros(count, dict_size, dtype=torch.float64)
        self.firing_total = torch.zeros(count, dict_size, dtype=torch.float64)
        self.max_activation = torch.full((dict_size,), -torch.inf, dtype=torch.float64)

    def add(self, codes: Tensor, source_index: Tensor) -> None:
        """Add a batch: codes (B, D) and each row's source index (B,)."""
        size = codes.shape[1]
        count = len(self.sources)
        self.rows += torch.bincount(source_index, minlength=count).double()
        # Only non-zero codes contribute to the sums: one bincount over (source, feature) cells.
        rows, cols = codes.nonzero(as_tuple=True)
        values = codes[rows, cols].double()
        cells = source_index[rows] * size + cols
        fires = values > self.threshold

        def per_cell(weights: Tensor) -> Tensor:
            return torch.bincount(cells, weights=weights, minlength=count * size).view(count, size)

        self.fire_count += per_cell(fires.double())
        self.total += per_cell(values)
        self.firing_total += per_cell(values * fires)
        if codes.shape[0]:
            self.max_activation = torch.maximum(self.max_activation, codes.amax(dim=0).double())

    def result(self) -> FiringStats:
        """The statistics of everything added so far."""
        rows = self.rows[:, None].clamp_min(1)
        fired = self.fire_count.clamp_min(1)
        mean_when_firing = torch.where(self.fire_count > 0, self.firing_total / fired, torch.nan)
        return FiringStats(
            sources=self.sources,
            rows=self.rows.numpy().astype(np.int64),
            rate=(self.fire_count / rows).numpy(),
            mean=(self.total / rows).numpy(),
            mean_when_firing=mean_when_firing.numpy(),
            max_activation=self.max_activation.numpy(),
            threshold=self.threshold,
        )
