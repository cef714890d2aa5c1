"""Speed of crossdiff's sparse crosscoder training step, in one run, against
(1) a plain dense implementation (mask, then dense decode, dense autograd; batch top-k over the
    flattened batch) and
(2) the encoder GEMM alone: forward and backward (weight gradient) of x @ W_encᵀ.

Prints ONE JSON object. Each step includes (the same fused) Adam; the DFC variants also mask
gradients and re-zero the partition. Usage: python benchmarks/crosscoder_speed.py [--repeats 3]
Targets (issue 4): speedup_vs_dense >= 5 and step_vs_gemm_ratio <= 1.5 for batchtopk and dfc.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch

from crossdiff.crosscoder import Crosscoder, CrosscoderConfig
from crossdiff.crosscoder.losses import training_loss
from crossdiff.crosscoder.optim import enforce_partition, mask_partition_gradients
from crossdiff.crosscoder.reference import dense_mse_step

WIDTH, BATCH, K = 256, 4096, 32


def _seconds(step: Callable[[], None], repeats: int) -> float:
    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _model(size: int, partition: tuple[float, float] | None) -> Crosscoder:
    config = CrosscoderConfig(
        widths=(WIDTH, WIDTH),
        dict_size=size,
        sparsity="batchtopk",
        k=K,
        partition=partition,
        normalisation="none",
    )
    return Crosscoder(config)


def sparse_step(model: Crosscoder, x_norm: torch.Tensor) -> Callable[[], None]:
    """crossdiff's training step (what trainer.py runs, without logging)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)

    def step() -> None:
        out = model.training_forward(x_norm)
        loss, _ = training_loss(model, out)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        mask_partition_gradients(model)
        optimizer.step()
        enforce_partition(model, optimizer)

    return step


def dense_step(model: Crosscoder, x_norm: torch.Tensor) -> Callable[[], None]:
    """The plain dense implementation: masked weights, dense codes, dense decode, autograd."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    mask = model.partition.allowed_mask() if model.partition.enabled else None

    def step() -> None:
        if mask is not None:
            with torch.no_grad():
                model.W_enc_Dd.mul_(mask)
                model.W_dec_Dd.mul_(mask)
        loss = dense_mse_step(model, x_norm, K)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if mask is not None:
            model.W_enc_Dd.grad.mul_(mask)
            model.W_dec_Dd.grad.mul_(mask)
        optimizer.step()

    return step


def gemm_step(model: Crosscoder, x_norm: torch.Tensor) -> Callable[[], None]:
    """Forward and weight-gradient backward of the encoder product alone."""
    weight = model.W_enc_Dd.detach().clone().requires_grad_(True)

    def step() -> None:
        weight.grad = None
        (x_norm @ weight.t()).sum().backward()

    return step


def main() -> None:
    """Measure every variant and print one JSON object."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[8192, 16384])
    args = parser.parse_args()
    torch.manual_seed(0)
    x_norm = torch.randn(BATCH, 2 * WIDTH)
    result: dict[str, object] = {
        "batch": BATCH,
        "width_per_model": WIDTH,
        "k": K,
        "threads": torch.get_num_threads(),
        "gemm_measures": "forward + weight-gradient backward of x @ W_enc^T",
    }
    for size in args.sizes:
        gemm = _seconds(gemm_step(_model(size, None), x_norm), args.repeats)
        result[f"gemm.D{size}.seconds"] = gemm
        for name, partition in (("batchtopk", None), ("dfc", (0.1, 0.1))):
            sparse = _seconds(sparse_step(_model(size, partition), x_norm), args.repeats)
            dense = _seconds(dense_step(_model(size, partition), x_norm), args.repeats)
            prefix = f"{name}.D{size}"
            result[f"{prefix}.step_seconds"] = sparse
            result[f"{prefix}.dense_step_seconds"] = dense
            result[f"{prefix}.tokens_per_s"] = BATCH / sparse
            result[f"{prefix}.dense_tokens_per_s"] = BATCH / dense
            result[f"{prefix}.gemm_tokens_per_s"] = BATCH / gemm
            result[f"{prefix}.speedup_vs_dense"] = dense / sparse
            result[f"{prefix}.step_vs_gemm_ratio"] = sparse / gemm
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
