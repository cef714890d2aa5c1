"""The crosscoder: one shared sparse code for two models' activations; the DFC is the same class
with a partition.

Weights are feature-major over the concatenated activation vector [x_A, x_B]:
W_enc_Dd and W_dec_Dd are (D, d_A + d_B). Normalisation statistics are buffers: callers pass and
receive raw activations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from crossdiff.crosscoder.config import TOP_K_RULES, CrosscoderConfig
from crossdiff.crosscoder.distributed import all_reduce_sum, rank_and_world
from crossdiff.crosscoder.jumprelu import jumprelu, step_count
from crossdiff.crosscoder.kernels import linear_at, sparse_decode
from crossdiff.crosscoder.normalisation import concatenated_mean_scale
from crossdiff.crosscoder.partition import Partition
from crossdiff.crosscoder.sparsity import (
    Selection,
    above_threshold,
    batch_topk,
    batch_topk_filtered,
    linear_scores,
    row_candidates,
    topk_per_row,
)
from crossdiff.errors import CrossdiffError
from crossdiff.normstats import NormStats


@dataclass
class TrainOutput:
    """What one training forward pass produces (normalised space)."""

    x_norm: Tensor  # (B, d_A + d_B)
    x_hat: Tensor  # (B, d_A + d_B), differentiable
    abs_sum_D: Tensor  # Σ_batch |f_i|, differentiable
    count_D: Tensor  # number of samples in which feature i fired
    aux_loss: Tensor | None  # AuxK loss (already normalised), differentiable
    l0_soft: Tensor | None  # JumpReLU: mean over batch of Σ_i H(pre − θ), differentiable
    batch_threshold: float | None  # BatchTopK: smallest selected score of this batch


class Crosscoder(nn.Module):
    """A (dedicated feature) crosscoder; see METHOD.md §2–3."""

    def __init__(
        self, config: CrosscoderConfig, stats: tuple[NormStats, NormStats] | None = None
    ) -> None:
        super().__init__()
        self.config = config
        d_a, d_b = config.widths
        n_a, n_b = config.partition_sizes
        self.partition = Partition(config.dict_size, n_a, n_b, d_a, d_b)
        size, d_total = config.dict_size, config.d_total
        self.W_enc_Dd = nn.Parameter(torch.empty(size, d_total))
        self.b_enc_D = nn.Parameter(torch.zeros(size))
        self.W_dec_Dd = nn.Parameter(torch.empty(size, d_total))
        self.b_dec_d = nn.Parameter(torch.zeros(d_total))
        if config.sparsity == "jumprelu":
            log_threshold = math.log(config.jumprelu_init_threshold)
            self.log_threshold_D = nn.Parameter(torch.full((size,), log_threshold))
        self.register_buffer("norm_mean_d", torch.zeros(d_total))
        self.register_buffer("norm_scale_d", torch.ones(d_total))
        self.register_buffer("has_stats", torch.tensor(config.normalisation == "none"))
        self.register_buffer("threshold", torch.tensor(-1.0))
        self.stats: tuple[NormStats, NormStats] | None = None
        self._initialise()
        if stats is not None:
            self.set_normalisation(stats)

    @torch.no_grad()
    def _initialise(self) -> None:
        generator = torch.Generator().manual_seed(self.config.init_seed)
        weights = torch.randn(self.W_dec_Dd.shape, generator=generator)
        for model in (0, 1):
            channels = self.partition.model_channels(model)
            block = weights[:, channels]
            block /= block.norm(dim=1, keepdim=True).clamp_min(1e-12)
            block *= self.config.dec_init_norm
        self.partition.zero_forbidden(weights)
        self.W_dec_Dd.copy_(weights)
        self.W_enc_Dd.copy_(weights)

    # ----- normalisation -------------------------------------------------------------------
    def set_normalisation(self, stats: tuple[NormStats, NormStats]) -> None:
        """Install per-model statistics (A, B); they are applied in every encode and decode."""
        mean, scale = concatenated_mean_scale(stats, self.config.normalisation, self.config.widths)
        self.norm_mean_d.copy_(mean)
        self.norm_scale_d.copy_(scale)
        self.has_stats.fill_(True)
        self.stats = stats

    def _check_inputs(self, x_a: Tensor, x_b: Tensor) -> None:
        if not bool(self.has_stats):
            raise CrossdiffError(
                f"this crosscoder was configured with normalisation '{self.config.normalisation}' "
                "but holds no statistics, so raw activations cannot be encoded correctly: call "
                "set_normalisation((stats_A, stats_B)) or load a checkpoint that stores them"
            )
        d_a, d_b = self.config.widths
        for name, x, width in (("x_a", x_a, d_a), ("x_b", x_b, d_b)):
            if x.ndim != 2 or x.shape[1] != width:
                raise CrossdiffError(
                    f"{name} has shape {tuple(x.shape)}, expected (n, {width}): pass activations "
                    "of the hook point the crosscoder was trained on"
                )
        if x_a.shape[0] != x_b.shape[0]:
            raise CrossdiffError(f"x_a has {x_a.shape[0]} rows but x_b has {x_b.shape[0]}")

    def normalise(self, x_a: Tensor, x_b: Tensor) -> Tensor:
        """Raw (x_A, x_B) -> the normalised concatenated vector (n, d_A + d_B)."""
        self._check_inputs(x_a, x_b)
        x = torch.cat([x_a, x_b], dim=1).to(self.W_enc_Dd.dtype)
        return (x - self.norm_mean_d) / self.norm_scale_d

    def denormalise(self, x_norm: Tensor) -> tuple[Tensor, Tensor]:
        """Normalised concatenated vectors -> raw (x̂_A, x̂_B)."""
        raw = x_norm * self.norm_scale_d + self.norm_mean_d
        return raw[:, : self.config.widths[0]], raw[:, self.config.widths[0] :]

    # ----- geometry ------------------------------------------------------------------------
    def decoder_norms(self) -> Tensor:
        """(D, 2) per-model decoder norms in normalised space (differentiable)."""
        return torch.stack(
            [self.W_dec_Dd[:, self.partition.model_channels(m)].norm(dim=1) for m in (0, 1)], 1
        )

    def decoder_vectors(self, model: int) -> Tensor:
        """(D, d_model) decoder vectors of model 0 (A) or 1 (B) in RAW activation space."""
        channels = self.partition.model_channels(model)
        return (self.W_dec_Dd[:, channels] * self.norm_scale_d[channels]).detach()

    def partition_slices(self) -> dict[str, slice]:
        """Feature ranges {"a_exclusive", "b_exclusive", "shared"}."""
        return self.partition.slices()

    # ----- inference -----------------------------------------------------------------------
    def _preactivations(self, x_norm: Tensor) -> Tensor:
        return torch.addmm(self.b_enc_D, x_norm, self.W_enc_Dd.t())

    @torch.no_grad()
    def _score_weights(self) -> tuple[Tensor, Tensor, Tensor | None]:
        """(weight, bias, scale) of the linear map whose output ranks features.

        BatchTopK ranks pre-activations × summed decoder norm; folding the norm into the
        weights gives those scores straight from the GEMM.
        """
        if self.config.sparsity == "batchtopk":
            scale = self.decoder_norms().sum(dim=1)
            return self.W_enc_Dd * scale[:, None], self.b_enc_D * scale, scale
        return self.W_enc_Dd, self.b_enc_D, None

    @torch.no_grad()
    def _select(self, x_norm: Tensor, k: int, batch_rule: bool) -> tuple[Selection, Tensor]:
        """Active entries under a top-k rule and their pre-activation values.

        `batch_rule` selects BatchTopK's batch-level top-k (training) instead of its learned
        threshold (inference).
        """
        weight, bias, scale = self._score_weights()
        size = self.config.dict_size
        if self.config.sparsity == "topk":
            selection = topk_per_row(*row_candidates(x_norm, weight, bias, k))
        elif batch_rule or float(self.threshold) <= 0:
            _, world = rank_and_world()
            total = k * x_norm.shape[0] * world
            found = batch_topk_filtered(x_norm, weight, bias, k, total)
            if found is None:  # the first block's estimate was too high: the slow exact path
                width = min(size, self.config.candidates_per_row or 2 * k)
                values, cols = row_candidates(x_norm, weight, bias, width)
                scores = linear_scores(x_norm, weight, bias)
                found = batch_topk(values, cols, total, scores, size)
            selection = found
        else:
            scores = torch.addmm(bias, x_norm, weight.t())
            selection = above_threshold(scores, float(self.threshold))
        pre = selection.scores if scale is None else selection.scores / scale[selection.cols]
        return selection, pre

    @torch.no_grad()
    def encode_normalised(self, x_norm: Tensor, k: int | None = None) -> Tensor:
        """Dense codes (n, D) of normalised inputs, with inference semantics.

        BatchTopK uses its learned threshold, so a sample's code does not depend on its batch;
        before any training step it falls back to the batch's top-k.
        """
        rule = self.config.sparsity
        if rule in ("relu", "jumprelu"):
            pre = self._preactivations(x_norm)
            if rule == "relu":
                return F.relu(pre)
            return pre * (pre > self.log_threshold_D.exp())
        selection, values = self._select(x_norm, k or self.config.k, batch_rule=False)
        codes = x_norm.new_zeros(x_norm.shape[0], self.config.dict_size)
        codes[selection.rows, selection.cols] = values
        return codes

    def encode(self, x_a: Tensor, x_b: Tensor) -> Tensor:
        """Raw activations (n, d_A), (n, d_B) -> codes f (n, D)."""
        return self.encode_normalised(self.normalise(x_a, x_b))

    @torch.no_grad()
    def decode(self, f: Tensor) -> tuple[Tensor, Tensor]:
        """Codes f (n, D) -> raw-space reconstructions (x̂_A, x̂_B)."""
        return self.denormalise(torch.addmm(self.b_dec_d, f.to(self.W_dec_Dd.dtype), self.W_dec_Dd))

    def reconstruct(self, x_a: Tensor, x_b: Tensor) -> tuple[Tensor, Tensor]:
        """Encode then decode raw activations."""
        return self.decode(self.encode(x_a, x_b))

    # ----- training ------------------------------------------------------------------------
    def training_forward(
        self, x_norm: Tensor, k: int | None = None, dead_D: Tensor | None = None
    ) -> TrainOutput:
        """One differentiable pass on normalised inputs; updates the BatchTopK threshold."""
        rule = self.config.sparsity
        k = k or self.config.k
        l0_soft, batch_threshold = None, None
        if rule in TOP_K_RULES:
            selection, pre_values = self._select(x_norm, k, batch_rule=True)
            found = selection.threshold
            if rule == "batchtopk" and found is not None and math.isfinite(found):
                batch_threshold = found
                self._update_threshold(batch_threshold)
            rows, cols = selection.rows, selection.cols
            codes = linear_at(x_norm, self.W_enc_Dd, self.b_enc_D, pre_values, rows, cols)
            x_hat = sparse_decode(codes, self.W_dec_Dd) + self.b_dec_d
            abs_sum = torch.zeros_like(self.b_enc_D).index_add(0, cols, codes.values)
            count = torch.bincount(cols, minlength=self.config.dict_size)
        else:
            pre_grad = self._preactivations(x_norm)
            if rule == "relu":
                f = F.relu(pre_grad)
            else:
                threshold = self.log_threshold_D.exp()
                f = jumprelu(pre_grad, threshold, self.config.jumprelu_bandwidth)
                l0_soft = step_count(pre_grad, threshold, self.config.jumprelu_bandwidth)
                l0_soft = l0_soft.sum(dim=1).mean()
            x_hat = torch.addmm(self.b_dec_d, f, self.W_dec_Dd)
            abs_sum = f.abs().sum(dim=0)
            count = (f.detach() > 0).sum(dim=0)
        aux = self._auxk_loss(x_norm, x_hat, dead_D)
        return TrainOutput(x_norm, x_hat, abs_sum, count, aux, l0_soft, batch_threshold)

    @torch.no_grad()
    def _update_threshold(self, batch_threshold: float | None) -> None:
        if batch_threshold is None:
            return
        if float(self.threshold) < 0:
            self.threshold.fill_(batch_threshold)
        else:
            momentum = self.config.threshold_momentum
            self.threshold.mul_(momentum).add_((1 - momentum) * batch_threshold)

    def _auxk_loss(self, x_norm: Tensor, x_hat: Tensor, dead_D: Tensor | None) -> Tensor | None:
        """Reconstruct the residual with each sample's top-k_aux dead features (OpenAI 2024)."""
        if dead_D is None or self.config.auxk_coeff == 0:
            return None
        dead = dead_D.nonzero(as_tuple=True)[0]
        if int(all_reduce_sum(torch.tensor([dead.numel()]))) == 0:
            return None
        residual = (x_norm - x_hat).detach()
        centred = residual - all_reduce_sum(residual.sum(0)) / all_reduce_sum(
            torch.tensor(float(residual.shape[0]))
        )
        denominator = all_reduce_sum(centred.pow(2).sum()).clamp_min(1e-12)
        _, world = rank_and_world()
        if dead.numel() == 0:
            return (x_hat * 0).sum()
        with torch.no_grad():
            width = min(self.config.k_aux, dead.numel())
            candidates = row_candidates(x_norm, self.W_enc_Dd[dead], self.b_enc_D[dead], width)
            selection = topk_per_row(*candidates)
        rows, cols = selection.rows, dead[selection.cols]
        codes = linear_at(x_norm, self.W_enc_Dd, self.b_enc_D, selection.scores, rows, cols)
        residual_hat = sparse_decode(codes, self.W_dec_Dd)
        return (residual - residual_hat).pow(2).sum() * world / denominator
