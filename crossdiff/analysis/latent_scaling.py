"""Latent Scaling (Minder et al. 2025): is a feature that looks exclusive really absent elsewhere?

What is computed, for every feature i (raw activation space throughout):
- the owner o(i) is the model with the larger decoder norm (A on ties), the other model ō;
  u_i = d_i^{o(i)}, the owner's decoder vector, is the direction tested in BOTH models;
- for a model m with targets y_{n,i}^m over the store's rows n, the least-squares scale
      β_i^m = Σ_n f_{n,i} <u_i, y_{n,i}^m> / (||u_i||² Σ_n f_{n,i}²)
  is the β minimising Σ_n ||β f_{n,i} u_i − y_{n,i}^m||² (closed form, summed over the dataset);
- two targets per model:
    error:           y = x^m − x̂^m + f_i d_i^m   (the activation left unexplained by all the
                     OTHER features: the reconstruction error with feature i's own write put back)
    reconstruction:  y = x̂^m − x̂^m(0)          (what the features write, x̂^m(0) = decode(0) being
                     the constant bias-and-mean part)
- the ratios ν_ε = β_ε^ō / β_ε^o and ν_r = β_r^ō / β_r^o. For an A-owned feature these are the
  base-to-tuned ratios of the paper. ν near 0: the other model does not carry the direction (the
  feature is truly exclusive); ν near 1: it does, and the feature only looks exclusive (Complete
  Shrinkage shows in ν_ε, Latent Decoupling in ν_r).
Nothing is defined when a feature never fires (Σ f² = 0) or has a zero decoder; the other model's
β is undefined when the widths differ (u does not live in its space). Those entries are NaN.

Vectorised over the non-zero codes: per batch, Σ_n f_{n,i} <u_i, y_n> is summed over the (n, i)
pairs with f_{n,i} ≠ 0 only (gathered rows of Y and U, then index_add into the D sums), for the
i-independent part of y; the own-write term <u_i, d_i^m> Σ_n f_{n,i}² is added once at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

MODELS = ("A", "B")
NONZERO_CHUNK = 1 << 22  # elements of the (pairs, d) gathers held at once


@dataclass(frozen=True)
class LatentScaling:
    """Latent Scaling results; arrays of length D (NaN where undefined)."""

    owner: np.ndarray  # str "A" | "B": whose decoder vector is the tested direction
    beta_error: np.ndarray  # (2, D) β of the error target, rows: model A, model B
    beta_reconstruction: np.ndarray  # (2, D) β of the reconstruction target
    nu_error: np.ndarray  # β_ε(other) / β_ε(owner)
    nu_reconstruction: np.ndarray  # β_r(other) / β_r(owner)


class LatentScalingAccumulator:
    """Accumulates the closed-form sums over batches; `result()` gives LatentScaling."""

    def __init__(self, dec_a: Tensor, dec_b: Tensor, constant: tuple[Tensor, Tensor]) -> None:
        """dec_a (D, d_A), dec_b (D, d_B): raw-space decoders; constant: decode(0) per model."""
        self.decoders = (dec_a.double(), dec_b.double())
        self.constant = (constant[0].double(), constant[1].double())
        owner_is_a = dec_a.norm(dim=1) >= dec_b.norm(dim=1)
        self.owner_is_a = owner_is_a
        # The tested direction in each model's space; with different widths each model can only
        # be tested along its own decoder vector (used for the owner only).
        same_width = dec_a.shape[1] == dec_b.shape[1]
        self.directions: list[Tensor]
        if same_width:
            u = torch.where(owner_is_a[:, None], self.decoders[0], self.decoders[1])
            self.directions = [u, u]
        else:
            self.directions = [self.decoders[0], self.decoders[1]]  # valid only for the owner
        self.same_width = same_width
        self._cast: dict[torch.dtype, list[Tensor]] = {}
        size = dec_a.shape[0]
        self.sum_sq = torch.zeros(size, dtype=torch.float64)
        self.num_error = torch.zeros(2, size, dtype=torch.float64)
        self.num_recon = torch.zeros(2, size, dtype=torch.float64)

    def add(self, codes: Tensor, x: tuple[Tensor, Tensor], x_hat: tuple[Tensor, Tensor]) -> None:
        """Add a batch: codes (B, D), raw activations and their reconstructions per model."""
        # Only (sample, feature) pairs with f ≠ 0 contribute: <y_n, u_i> is computed for those
        # pairs alone, NONZERO_CHUNK of them at a time, instead of a dense (B, d) x (d, D) product.
        rows, cols = codes.nonzero(as_tuple=True)
        values = codes[rows, cols].double()
        self.sum_sq.index_add_(0, cols, values.pow(2))
        for m in (0, 1):
            dtype = torch.promote_types(x[m].dtype, x_hat[m].dtype)
            u = self._directions_in(dtype)[m]
            width = u.shape[1]
            targets = torch.cat(  # (B, 2, d): the error and the written reconstruction
                [
                    x[m].to(dtype) - x_hat[m].to(dtype),
                    x_hat[m].to(dtype) - self.constant[m].to(dtype),
                ],
                dim=1,
            ).view(-1, 2, width)
            step = max(1, NONZERO_CHUNK // (2 * width))
            for start in range(0, rows.numel(), step):
                r, c = rows[start : start + step], cols[start : start + step]
                dots = (targets[r] * u[c][:, None, :]).sum(dim=2).double()  # (pairs, 2)
                weighted = dots * values[start : start + step, None]
                self.num_error[m].index_add_(0, c, weighted[:, 0])
                self.num_recon[m].index_add_(0, c, weighted[:, 1])

    def _directions_in(self, dtype: torch.dtype) -> list[Tensor]:
        if dtype not in self._cast:
            self._cast[dtype] = [u.to(dtype) for u in self.directions]
        return self._cast[dtype]

    def result(self) -> LatentScaling:
        """β per model and target, and the other-to-owner ratios."""
        betas = []
        for numerators, own_write in ((self.num_error, True), (self.num_recon, False)):
            per_model = []
            for m in (0, 1):
                u = self.directions[m]
                numerator = numerators[m].clone()
                if own_write:  # the error target puts feature i's own write f_i d_i^m back
                    numerator += (u * self.decoders[m]).sum(dim=1) * self.sum_sq
                denominator = u.pow(2).sum(dim=1) * self.sum_sq
                beta = torch.where(
                    denominator > 0, numerator / denominator.clamp_min(1e-300), torch.nan
                )
                if not self.same_width:  # the owner's direction does not exist in the other model
                    owner_m = self.owner_is_a if m == 0 else ~self.owner_is_a
                    beta = torch.where(owner_m, beta, torch.nan)
                per_model.append(beta)
            betas.append(torch.stack(per_model))
        beta_error, beta_recon = betas
        return LatentScaling(
            owner=np.where(self.owner_is_a.numpy(), "A", "B").astype(object),
            beta_error=beta_error.numpy(),
            beta_reconstruction=beta_recon.numpy(),
            nu_error=self._ratio(beta_error),
            nu_reconstruction=self._ratio(beta_recon),
        )

    def _ratio(self, beta: Tensor) -> np.ndarray:
        owner = torch.where(self.owner_is_a, beta[0], beta[1])
        other = torch.where(self.owner_is_a, beta[1], beta[0])
        ratio = torch.where(owner != 0, other / owner, torch.nan)
        return ratio.numpy()
