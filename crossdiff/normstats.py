"""Per-model activation statistics: the one small type shared by the store and the crosscoder.

The activation store accumulates them while it streams; the crosscoder stores them in its
checkpoint and applies them in every later use, so raw activations can never meet a dictionary
trained on normalised ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class NormStats:
    """Running statistics of one model's activations at one hook point.

    `mean` and `std` are per channel (shape (d,)); `mean_norm` is the mean L2 norm of the raw
    vectors; `count` is how many vectors were seen. Statistics are kept in float64.
    """

    mean: torch.Tensor
    m2: torch.Tensor
    norm_sum: float
    count: int

    @property
    def width(self) -> int:
        """The activation width d."""
        return int(self.mean.shape[0])

    @property
    def std(self) -> torch.Tensor:
        """Per-channel population standard deviation (float64)."""
        if self.count == 0:
            return torch.ones_like(self.mean)
        return (self.m2 / self.count).clamp_min(0).sqrt()

    @property
    def mean_norm(self) -> float:
        """Mean L2 norm of the raw vectors."""
        return self.norm_sum / max(self.count, 1)

    @staticmethod
    def empty(width: int) -> NormStats:
        """Statistics of no vectors of width `width`."""
        zeros = torch.zeros(width, dtype=torch.float64)
        return NormStats(mean=zeros, m2=zeros.clone(), norm_sum=0.0, count=0)

    @staticmethod
    def from_tensor(x: torch.Tensor) -> NormStats:
        """Statistics of the rows of a (n, d) tensor."""
        rows = x.detach().reshape(-1, x.shape[-1]).to(torch.float64)
        n = int(rows.shape[0])
        if n == 0:
            return NormStats.empty(int(rows.shape[1]))
        # var_mean makes one pass over the rows instead of three (the store computes this per shard)
        var, mean = torch.var_mean(rows, dim=0, correction=0)
        norm_sum = float(torch.linalg.vector_norm(rows, dim=1).sum())
        return NormStats(mean=mean, m2=var * n, norm_sum=norm_sum, count=n)

    def merge(self, other: NormStats) -> NormStats:
        """Combine two sets of statistics exactly (Chan et al.'s parallel update)."""
        if self.width != other.width:
            raise ValueError(f"cannot merge statistics of widths {self.width} and {other.width}")
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        total = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.count / total)
        m2 = self.m2 + other.m2 + delta**2 * (self.count * other.count / total)
        return NormStats(mean, m2, self.norm_sum + other.norm_sum, total)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (lists of floats)."""
        return {
            "count": self.count,
            "mean": self.mean.tolist(),
            "m2": self.m2.tolist(),
            "std": self.std.tolist(),
            "norm_sum": self.norm_sum,
            "mean_norm": self.mean_norm,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> NormStats:
        """Inverse of `to_dict`."""
        return NormStats(
            mean=torch.tensor(data["mean"], dtype=torch.float64),
            m2=torch.tensor(data["m2"], dtype=torch.float64),
            norm_sum=float(data["norm_sum"]),
            count=int(data["count"]),
        )
