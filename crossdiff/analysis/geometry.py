"""Decoder geometry per feature: per-model decoder norms, relative norm, cosine, partition label.

Everything is measured on the crosscoder's decoder vectors in RAW activation space
(`Crosscoder.decoder_vectors`), i.e. with the normalisation scale applied, so the numbers describe
what a feature writes into each model's residual stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from crossdiff.analysis.config import PARTITIONS
from crossdiff.crosscoder import Crosscoder

NORM_CLASSES: tuple[str, ...] = ("a_only", "shared", "b_only", "dead")


@dataclass(frozen=True)
class DecoderGeometry:
    """Per-feature decoder geometry; arrays of length D (NaN where undefined)."""

    norm_a: np.ndarray  # ||d_A||, raw space
    norm_b: np.ndarray  # ||d_B||, raw space
    relative_norm: np.ndarray  # ||d_A|| / (||d_A|| + ||d_B||); NaN when both are zero
    cosine: np.ndarray  # cos(d_A, d_B); NaN when the widths differ or a vector is zero
    partition: np.ndarray  # str: "a_exclusive" | "shared" | "b_exclusive" (the DFC's ranges)
    norm_class: np.ndarray  # str: "a_only" | "shared" | "b_only" | "dead" (by relative norm)


def partition_labels(slices: dict[str, slice], dict_size: int) -> np.ndarray:
    """The partition name of every feature, from `Crosscoder.partition_slices()`."""
    labels = np.full(dict_size, "shared", dtype=object)
    for name in PARTITIONS:
        labels[slices[name]] = name
    return labels


def relative_norm_class(relative_norm: np.ndarray, exclusive_at: float) -> np.ndarray:
    """'a_only' when r >= exclusive_at, 'b_only' when r <= 1 - exclusive_at, 'dead' when NaN."""
    labels = np.full(relative_norm.shape, "shared", dtype=object)
    with np.errstate(invalid="ignore"):
        labels[relative_norm >= exclusive_at] = "a_only"
        labels[relative_norm <= 1 - exclusive_at] = "b_only"
    labels[np.isnan(relative_norm)] = "dead"
    return labels


def geometry_from_vectors(
    dec_a: torch.Tensor, dec_b: torch.Tensor, slices: dict[str, slice], exclusive_at: float = 0.9
) -> DecoderGeometry:
    """Geometry of decoder vectors dec_a (D, d_A) and dec_b (D, d_B) in raw space."""
    a64, b64 = dec_a.detach().double(), dec_b.detach().double()
    norm_a, norm_b = a64.norm(dim=1), b64.norm(dim=1)
    total = norm_a + norm_b
    relative = torch.where(total > 0, norm_a / total.clamp_min(1e-300), torch.nan)
    if a64.shape[1] == b64.shape[1]:
        both = (norm_a > 0) & (norm_b > 0)
        dots = (a64 * b64).sum(dim=1)
        cosine = torch.where(both, dots / (norm_a * norm_b).clamp_min(1e-300), torch.nan)
    else:
        cosine = torch.full_like(norm_a, torch.nan)
    relative_np = relative.numpy()
    return DecoderGeometry(
        norm_a=norm_a.numpy(),
        norm_b=norm_b.numpy(),
        relative_norm=relative_np,
        cosine=cosine.clamp(-1, 1).numpy(),
        partition=partition_labels(slices, a64.shape[0]),
        norm_class=relative_norm_class(relative_np, exclusive_at),
    )


def decoder_geometry(crosscoder: Crosscoder, exclusive_at: float = 0.9) -> DecoderGeometry:
    """Decoder geometry of every feature of `crosscoder` (raw activation space)."""
    return geometry_from_vectors(
        crosscoder.decoder_vectors(0),
        crosscoder.decoder_vectors(1),
        crosscoder.partition_slices(),
        exclusive_at,
    )
