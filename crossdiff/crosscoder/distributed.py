"""torch.distributed helpers: the process group from torchrun's environment, and collectives
that are no-ops in a single process, so the same code runs with and without torchrun.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist
from torch import Tensor


def is_distributed() -> bool:
    """True inside an initialised process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_and_world() -> tuple[int, int]:
    """(rank, world size); (0, 1) without a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@contextmanager
def process_group_from_environment() -> Iterator[bool]:
    """Join the process group torchrun describes (gloo on CPU, nccl on GPU) for the body of the
    `with`, then leave it; yields False (and does nothing) outside torchrun (no WORLD_SIZE in the
    environment) or when a group is already initialised.

    Leaving matters: gloo's worker threads hold finished collectives, whose tensors need the
    GIL to be freed; if the group is freed only by the interpreter's last garbage collection,
    those threads find it shutting down and abort the process ("terminate called without an
    active exception") after the work is done. So the group is destroyed and collected here.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        yield False
        return
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend=backend)
    try:
        yield True
        dist.barrier()  # no rank leaves while another still has collectives to run
    finally:
        dist.destroy_process_group()
        # after destroy, a `crossdiff train` run still had gloo's threads alive until the final
        # collection at exit (seen in a core dump); collect now, while the interpreter is whole
        gc.collect()


def all_reduce_sum(tensor: Tensor) -> Tensor:
    """Sum of `tensor` over all processes (in place; returned for chaining)."""
    if is_distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_gather_1d(values: Tensor) -> Tensor:
    """Concatenation of a 1-D tensor of any length over all processes, in rank order."""
    if not is_distributed():
        return values
    world = dist.get_world_size()
    size = torch.tensor([values.numel()], dtype=torch.int64, device=values.device)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size)
    longest = int(max(int(s) for s in sizes))
    padded = values.new_zeros(longest)
    padded[: values.numel()] = values
    gathered = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(gathered, padded)
    return torch.cat([part[: int(n)] for part, n in zip(gathered, sizes, strict=True)])


def average_gradients(parameters: list[torch.nn.Parameter]) -> None:
    """Average the gradients of `parameters` over processes with one flat all-reduce.

    Done by hand rather than with DistributedDataParallel because the sparse encoder backward
    and the batch-global top-k already synchronise inside the forward pass.
    """
    if not is_distributed():
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= dist.get_world_size()
    offset = 0
    for grad in grads:
        grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
        offset += grad.numel()
