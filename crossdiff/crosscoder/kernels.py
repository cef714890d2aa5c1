"""Sparse kernels for top-k rules: gather pre-activations with a sparse backward, sparse decode.

The forward of the encoder is one dense GEMM (no way around reading every weight), but with k
active features per sample the gradient of W_enc is non-zero only in the k·B selected
(sample, feature) entries, so it is computed as sparse(grad)ᵀ @ x (a CSR × dense product)
instead of a second dense GEMM. Decoding reads only the k active decoder rows per sample
(embedding_bag with per-sample weights).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F


@dataclass
class SparseCodes:
    """Active entries of a (batch, D) code matrix, grouped by sample (rows ascending).

    `rows`, `cols` and `values` have one element per active entry; `offsets` (batch,) is where
    each sample's entries start, as embedding_bag expects.
    """

    rows: Tensor
    cols: Tensor
    values: Tensor
    batch_size: int
    dict_size: int

    @property
    def offsets(self) -> Tensor:
        """Start index of each sample's entries."""
        counts = torch.bincount(self.rows, minlength=self.batch_size)
        return torch.cumsum(counts, 0) - counts

    def to_dense(self) -> Tensor:
        """The (batch, D) dense code matrix."""
        dense = self.values.new_zeros(self.batch_size, self.dict_size)
        dense.index_put_((self.rows, self.cols), self.values, accumulate=True)
        return dense


def _csr_by_feature(rows: Tensor, cols: Tensor, values: Tensor, shape: tuple[int, int]) -> Tensor:
    """A (D, batch) CSR matrix with `values` at (cols, rows): the transposed sparse gradient."""
    order = torch.argsort(cols, stable=True)
    counts = torch.bincount(cols, minlength=shape[0])
    crow = torch.zeros(shape[0] + 1, dtype=torch.int64, device=values.device)
    crow[1:] = torch.cumsum(counts, 0)
    with warnings.catch_warnings():  # "CSR support is in beta": we rely only on CSR @ dense
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            crow, rows[order], values[order], shape, check_invariants=False
        )


class _GatherLinear(torch.autograd.Function):
    """values = (x @ Wᵀ + b)[rows, cols], given the already computed dense pre-activations."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        x: Tensor,
        weight: Tensor,
        bias: Tensor,
        pre: Tensor,
        rows: Tensor,
        cols: Tensor,
    ) -> Tensor:
        ctx.save_for_backward(x, weight, rows, cols)
        return pre[rows, cols]

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, grad_values: Tensor
    ) -> tuple[Tensor | None, ...]:
        x, weight, rows, cols = ctx.saved_tensors  # type: ignore[attr-defined]
        grad_x = grad_weight = grad_bias = None
        dict_size, batch = weight.shape[0], x.shape[0]
        if ctx.needs_input_grad[1]:  # type: ignore[attr-defined]
            sparse_t = _csr_by_feature(rows, cols, grad_values, (dict_size, batch))
            grad_weight = sparse_t @ x
        if ctx.needs_input_grad[2]:  # type: ignore[attr-defined]
            grad_bias = torch.zeros(dict_size, dtype=grad_values.dtype, device=grad_values.device)
            grad_bias.index_add_(0, cols, grad_values)
        if ctx.needs_input_grad[0]:  # type: ignore[attr-defined]
            grad_x = torch.zeros_like(x)
            grad_x.index_add_(0, rows, grad_values[:, None] * weight[cols])
        return grad_x, grad_weight, grad_bias, None, None, None


def gather_preactivations(
    x: Tensor, weight_Dd: Tensor, bias_D: Tensor, pre: Tensor, rows: Tensor, cols: Tensor
) -> Tensor:
    """Pre-activation values at (rows, cols), differentiable w.r.t. x, weight and bias.

    `pre` must equal x @ weight_Ddᵀ + bias_D (computed without autograd); the backward touches
    only the selected entries.
    """
    return _GatherLinear.apply(x, weight_Dd, bias_D, pre.detach(), rows, cols)


def sparse_decode(codes: SparseCodes, weight_Dd: Tensor) -> Tensor:
    """Σ_active value · weight[feature] per sample: (batch, d), without a bias."""
    return F.embedding_bag(
        codes.cols,
        weight_Dd,
        codes.offsets,
        mode="sum",
        per_sample_weights=codes.values,
        include_last_offset=False,
    )
