"""A plain dense top-k crosscoder step (mask, then dense decode, dense autograd).

It is the yardstick the sparse kernels are tested against (same values and gradients) and the
baseline of benchmarks/crosscoder_speed.py; it is never used for training.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from crossdiff.crosscoder.model import Crosscoder


def dense_codes(model: Crosscoder, x_norm: Tensor, k: int) -> Tensor:
    """Differentiable dense codes (B, D) under the model's top-k rule, selected the plain way:
    per-row top-k, or one top-k over the flattened batch of norm-scaled activations."""
    pre = F.linear(x_norm, model.W_enc_Dd, model.b_enc_D)
    post = F.relu(pre)
    if model.config.sparsity == "topk":
        indices = post.topk(k, dim=1).indices
        mask = torch.zeros_like(post).scatter_(1, indices, 1.0)
    else:
        score = (post * model.decoder_norms().sum(dim=1)).detach().flatten()
        indices = score.topk(k * x_norm.shape[0]).indices
        mask = torch.zeros_like(score).scatter_(0, indices, 1.0).view_as(post)
    return post * mask


def dense_mse_step(model: Crosscoder, x_norm: Tensor, k: int) -> Tensor:
    """MSE of the dense reference forward (call .backward() on it for the dense gradients)."""
    codes = dense_codes(model, x_norm, k)
    x_hat = codes @ model.W_dec_Dd + model.b_dec_d
    return (x_norm - x_hat).pow(2).mean()
