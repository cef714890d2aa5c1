"""JumpReLU with straight-through gradients for its threshold (Rajamanoharan et al. 2024).

f = pre · H(pre − θ). The Heaviside step has no useful derivative with respect to θ, so the
backward uses a rectangle kernel of width `bandwidth` around the threshold instead.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _rectangle(x: Tensor) -> Tensor:
    return ((x > -0.5) & (x < 0.5)).to(x.dtype)


class _JumpReLU(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, pre: Tensor, threshold: Tensor, bandwidth: float
    ) -> Tensor:
        ctx.save_for_backward(pre, threshold)
        ctx.bandwidth = bandwidth  # type: ignore[attr-defined]
        return pre * (pre > threshold).to(pre.dtype)

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, grad: Tensor
    ) -> tuple[Tensor, Tensor, None]:
        pre, threshold = ctx.saved_tensors  # type: ignore[attr-defined]
        bandwidth = ctx.bandwidth  # type: ignore[attr-defined]
        grad_pre = grad * (pre > threshold).to(pre.dtype)
        kernel = _rectangle((pre - threshold) / bandwidth)
        grad_threshold = -(threshold / bandwidth) * kernel * grad
        return grad_pre, grad_threshold.sum(dim=0), None


class _Step(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, pre: Tensor, threshold: Tensor, bandwidth: float
    ) -> Tensor:
        ctx.save_for_backward(pre, threshold)
        ctx.bandwidth = bandwidth  # type: ignore[attr-defined]
        return (pre > threshold).to(pre.dtype)

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, grad: Tensor
    ) -> tuple[None, Tensor, None]:
        pre, threshold = ctx.saved_tensors  # type: ignore[attr-defined]
        bandwidth = ctx.bandwidth  # type: ignore[attr-defined]
        kernel = _rectangle((pre - threshold) / bandwidth)
        grad_threshold = -(1.0 / bandwidth) * kernel * grad
        return None, grad_threshold.sum(dim=0), None


def jumprelu(pre: Tensor, threshold_D: Tensor, bandwidth: float) -> Tensor:
    """pre · H(pre − θ) with a straight-through gradient for θ."""
    return _JumpReLU.apply(pre, threshold_D, bandwidth)


def step_count(pre: Tensor, threshold_D: Tensor, bandwidth: float) -> Tensor:
    """H(pre − θ) (the L0 indicator) with a straight-through gradient for θ."""
    return _Step.apply(pre, threshold_D, bandwidth)
