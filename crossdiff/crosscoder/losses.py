"""The training loss: MSE, decoder-norm-weighted L1, the study's DFC penalties, AuxK, JumpReLU L0.

All terms are means over the local batch (or normalised by global statistics), so averaging
gradients over data-parallel processes equals the gradient on the global batch.
"""

from __future__ import annotations

import torch
from torch import Tensor

from crossdiff.crosscoder.model import Crosscoder, TrainOutput


def mse(out: TrainOutput) -> Tensor:
    """Mean squared error over samples and the concatenated channels (normalised space)."""
    return (out.x_norm - out.x_hat).pow(2).mean()


def decoder_weighted_l1(model: Crosscoder, out: TrainOutput) -> Tensor:
    """Anthropic's penalty: mean over samples of Σ_i f_i Σ_m ||W_dec[i, m]||."""
    batch = out.x_norm.shape[0]
    return (out.abs_sum_D * model.decoder_norms().sum(dim=1)).sum() / batch


def dfc_penalties(model: Crosscoder, out: TrainOutput) -> tuple[Tensor, Tensor]:
    """The study's (mean|f_shared|, ½(mean|f_{A∪shared}| + mean|f_{B∪shared}|)).

    With `dfc_norm_weighted`, every |f_i| is multiplied by Σ_m ||W_dec[i, m]|| first.
    """
    batch = out.x_norm.shape[0]
    ranges = model.partition_slices()
    abs_sum_D = out.abs_sum_D
    if model.config.dfc_norm_weighted:
        abs_sum_D = abs_sum_D * model.decoder_norms().sum(dim=1)
    a_sum = abs_sum_D[ranges["a_exclusive"]].sum()
    b_sum = abs_sum_D[ranges["b_exclusive"]].sum()
    shared_sum = abs_sum_D[ranges["shared"]].sum()
    n_a, n_b = model.config.partition_sizes
    n_shared = model.config.dict_size - n_a - n_b
    shared = shared_sum / (batch * n_shared)
    a_side = (a_sum + shared_sum) / (batch * (n_a + n_shared))
    b_side = (b_sum + shared_sum) / (batch * (n_b + n_shared))
    return shared, 0.5 * (a_side + b_side)


def training_loss(model: Crosscoder, out: TrainOutput) -> tuple[Tensor, dict[str, float]]:
    """The total loss and its parts (as floats, for logging)."""
    config = model.config
    parts: dict[str, Tensor] = {"mse": mse(out)}
    if config.l1_coeff > 0:
        parts["l1"] = config.l1_coeff * decoder_weighted_l1(model, out)
    if config.lambda_shared > 0 or config.lambda_excl > 0:
        shared, exclusive = dfc_penalties(model, out)
        parts["dfc_shared"] = config.lambda_shared * shared
        parts["dfc_excl"] = config.lambda_excl * exclusive
    if out.aux_loss is not None:
        parts["auxk"] = config.auxk_coeff * out.aux_loss
    if out.l0_soft is not None and config.l0_coeff > 0:
        parts["l0"] = config.l0_coeff * out.l0_soft
    total = torch.stack(list(parts.values())).sum()
    return total, {name: float(value.detach()) for name, value in parts.items()}
