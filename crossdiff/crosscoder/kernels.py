"""Sparse kernels for top-k rules: pre-activations with a sparse backward, and sparse decode.

The forward of the encoder is one dense GEMM (every weight must be read), but with k active
features per sample the gradients of W_enc and W_dec are non-zero only in the rows of features
that fired, and they are sums over the k·B active (sample, feature) entries. Both are computed
as sparse(D, B) @ dense(B, d) (an embedding_bag over the entries ordered by feature once per
step). Decoding reads only the k active decoder rows per sample (embedding_bag), and the
gradient of the code values is a sampled matrix product over the same pattern.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run a short op on one thread: torch's parallel sort stalls on a loaded machine, and one
    thread sorts k·B indices in milliseconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class FeatureOrder:
    """The active entries ordered by feature: the layout of the (D, d) sparse weight gradients."""

    def __init__(self, rows: Tensor, cols: Tensor, dict_size: int) -> None:
        with one_thread():
            self.permutation = torch.argsort(cols, stable=True)
        counts = torch.bincount(cols, minlength=dict_size)
        self.crow = torch.zeros(dict_size + 1, dtype=torch.int64, device=cols.device)
        self.crow[1:] = torch.cumsum(counts, 0)
        self.sample_of_entry = rows[self.permutation]

    def transpose_matmul(self, values: Tensor, dense: Tensor) -> Tensor:
        """Sᵀ @ dense, where S (batch, D) holds `values` at the active entries: (D, d).

        Feature i's row is the value-weighted sum of the dense rows of the samples it fired in:
        one embedding_bag over the entries in feature order, which writes its output once (a
        CSR product zero-fills and then copies a (D, d) buffer, twice the time).
        """
        return F.embedding_bag(
            self.sample_of_entry,
            dense,
            self.crow[:-1],
            mode="sum",
            per_sample_weights=values[self.permutation],
        )


class CodeLayout:
    """Where the active entries of a (batch, D) code matrix are, grouped by sample.

    It carries no values, so autograd contexts can hold it without keeping outputs alive.
    """

    def __init__(self, rows: Tensor, cols: Tensor, dict_size: int, batch_size: int) -> None:
        self.rows, self.cols = rows, cols
        self.dict_size, self.batch_size = dict_size, batch_size
        self._order: FeatureOrder | None = None
        counts = torch.bincount(rows, minlength=batch_size)
        self.offsets = torch.cumsum(counts, 0) - counts

    def entry_dots(self, dense_Bd: Tensor, weight_Dd: Tensor) -> Tensor:
        """<dense[row], weight[col]> for every active entry, in entry order: a sampled matrix
        product over the (batch, D) CSR pattern, parallel over rows, with no (nnz, d) buffer."""
        crow = torch.cat([self.offsets, self.offsets.new_tensor([self.rows.numel()])])
        with warnings.catch_warnings():  # "CSR support is in beta"
            warnings.simplefilter("ignore", UserWarning)
            pattern = torch.sparse_csr_tensor(
                crow,
                self.cols,
                dense_Bd.new_zeros(self.cols.numel()),  # ignored: beta = 0
                (self.batch_size, self.dict_size),
                check_invariants=False,
            )
            return torch.sparse.sampled_addmm(pattern, dense_Bd, weight_Dd.t(), beta=0.0).values()

    @property
    def order(self) -> FeatureOrder:
        """The entries ordered by feature (computed once, shared by both backward passes)."""
        if self._order is None:
            self._order = FeatureOrder(self.rows, self.cols, self.dict_size)
        return self._order


@dataclass
class SparseCodes:
    """Active entries of a (batch, D) code matrix: their layout and (differentiable) values."""

    layout: CodeLayout
    values: Tensor

    @property
    def rows(self) -> Tensor:
        """Sample index of each active entry (ascending)."""
        return self.layout.rows

    @property
    def cols(self) -> Tensor:
        """Feature index of each active entry."""
        return self.layout.cols

    def to_dense(self) -> Tensor:
        """The (batch, D) dense code matrix."""
        dense = self.values.new_zeros(self.layout.batch_size, self.layout.dict_size)
        dense.index_put_((self.rows, self.cols), self.values, accumulate=True)
        return dense


class _LinearAt(torch.autograd.Function):
    """values = (x @ Wᵀ + b)[rows, cols], given those values computed without autograd."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        x: Tensor,
        weight: Tensor,
        bias: Tensor,
        values: Tensor,
        layout: CodeLayout,
    ) -> Tensor:
        ctx.save_for_backward(x, weight)
        ctx.layout = layout  # type: ignore[attr-defined]
        return values.clone()

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, grad_values: Tensor
    ) -> tuple[Tensor | None, ...]:
        x, weight = ctx.saved_tensors  # type: ignore[attr-defined]
        layout: CodeLayout = ctx.layout  # type: ignore[attr-defined]
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[1]:  # type: ignore[attr-defined]
            grad_weight = layout.order.transpose_matmul(grad_values, x)
        if ctx.needs_input_grad[2]:  # type: ignore[attr-defined]
            grad_bias = torch.zeros(layout.dict_size, dtype=grad_values.dtype, device=x.device)
            grad_bias.index_add_(0, layout.cols, grad_values)
        if ctx.needs_input_grad[0]:  # type: ignore[attr-defined]
            grad_x = torch.zeros_like(x)
            grad_x.index_add_(0, layout.rows, grad_values[:, None] * weight[layout.cols])
        return grad_x, grad_weight, grad_bias, None, None


def linear_at(
    x: Tensor, weight_Dd: Tensor, bias_D: Tensor, values: Tensor, rows: Tensor, cols: Tensor
) -> SparseCodes:
    """Sparse codes whose values are the pre-activations at (rows, cols), differentiable w.r.t.
    x, weight and bias.

    `values` must equal (x @ weight_Ddᵀ + bias_D)[rows, cols], computed without autograd (the
    forward GEMM already produced them); the backward touches only the selected entries.
    `rows` must be ascending.
    """
    layout = CodeLayout(rows, cols, weight_Dd.shape[0], x.shape[0])
    return SparseCodes(layout, _LinearAt.apply(x, weight_Dd, bias_D, values.detach(), layout))


class _SparseDecode(torch.autograd.Function):
    """Σ_active value · weight[feature] per sample, with the CSR weight gradient."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        values: Tensor,
        weight: Tensor,
        layout: CodeLayout,
    ) -> Tensor:
        ctx.save_for_backward(values, weight)
        ctx.layout = layout  # type: ignore[attr-defined]
        return F.embedding_bag(
            layout.cols, weight, layout.offsets, mode="sum", per_sample_weights=values
        )

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, grad_out: Tensor
    ) -> tuple[Tensor | None, ...]:
        values, weight = ctx.saved_tensors  # type: ignore[attr-defined]
        layout: CodeLayout = ctx.layout  # type: ignore[attr-defined]
        grad_values = grad_weight = None
        grad_out = grad_out.contiguous()
        if ctx.needs_input_grad[0]:  # type: ignore[attr-defined]
            grad_values = layout.entry_dots(grad_out, weight)
        if ctx.needs_input_grad[1]:  # type: ignore[attr-defined]
            grad_weight = layout.order.transpose_matmul(values, grad_out)
        return grad_values, grad_weight, None


def sparse_decode(codes: SparseCodes, weight_Dd: Tensor) -> Tensor:
    """Σ_active value · weight[feature] per sample: (batch, d), without a bias."""
    return _SparseDecode.apply(codes.values, weight_Dd, codes.layout)
