"""The DFC partition: which (feature, model) weight blocks are forbidden, and keeping them zero.

Features [0, n_A) are A-exclusive (read x_A, write x̂_A), [n_A, n_A + n_B) B-exclusive, the rest
shared. Weights are stored feature-major, (D, d_A + d_B), so every forbidden region is one
contiguous block: zeroing it is cheap and exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Partition:
    """Index ranges of a dictionary of `dict_size` features over models of widths (d_A, d_B)."""

    dict_size: int
    n_a: int
    n_b: int
    d_a: int
    d_b: int

    @property
    def enabled(self) -> bool:
        """True when there is at least one exclusive feature."""
        return self.n_a + self.n_b > 0

    def slices(self) -> dict[str, slice]:
        """{"a_exclusive", "b_exclusive", "shared"} feature ranges (all shared without one)."""
        return {
            "a_exclusive": slice(0, self.n_a),
            "b_exclusive": slice(self.n_a, self.n_a + self.n_b),
            "shared": slice(self.n_a + self.n_b, self.dict_size),
        }

    def model_channels(self, model: int) -> slice:
        """Channel range of model 0 (A) or 1 (B) in the concatenated activation vector."""
        if model == 0:
            return slice(0, self.d_a)
        if model == 1:
            return slice(self.d_a, self.d_a + self.d_b)
        raise ValueError(f"model must be 0 (A) or 1 (B), got {model}")

    def forbidden_blocks(self) -> list[tuple[slice, slice]]:
        """(feature range, channel range) blocks that must stay zero in W_enc and W_dec."""
        ranges = self.slices()
        return [
            (ranges["a_exclusive"], self.model_channels(1)),
            (ranges["b_exclusive"], self.model_channels(0)),
        ]

    def allowed_mask(self) -> torch.Tensor:
        """A (D, d_A + d_B) float mask: 1 where a weight may be non-zero, 0 where forbidden."""
        mask = torch.ones(self.dict_size, self.d_a + self.d_b)
        for rows, cols in self.forbidden_blocks():
            mask[rows, cols] = 0
        return mask

    @torch.no_grad()
    def zero_forbidden(self, tensor: torch.Tensor) -> None:
        """Set the forbidden blocks of a (D, d_A + d_B) tensor to exactly zero, in place."""
        for rows, cols in self.forbidden_blocks():
            tensor[rows, cols] = 0
