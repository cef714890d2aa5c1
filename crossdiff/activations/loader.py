"""Streaming, shuffled, rank-split batches from an activation store with bounded memory.

The shards are visited in a seeded random order, `window_shards` at a time. A window's rows are
copied into one preallocated buffer and permuted; each window's rows are numbered globally across
the epoch, and rank r takes the rows whose global number is r modulo world_size. Batches may span
windows (a remainder smaller than a batch is carried over). Memory: one window of shards, one
shard being read, and one batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from crossdiff.errors import CrossdiffError
from crossdiff.seeding import check_seed, derive_seed

if TYPE_CHECKING:
    from crossdiff.activations.store import ActivationStore


def _check_arguments(
    batch_size: int, epoch: int, rank: int, world_size: int, window_shards: int
) -> None:
    if batch_size < 1:
        raise CrossdiffError(f"batch_size must be at least 1, got {batch_size}")
    if epoch < 0:
        raise CrossdiffError(f"epoch must be non-negative, got {epoch}")
    if world_size < 1 or not 0 <= rank < world_size:
        raise CrossdiffError(f"rank must be in [0, world_size), got rank {rank} of {world_size}")
    if window_shards < 1:
        raise CrossdiffError(f"window_shards must be at least 1, got {window_shards}")


def stream_batches(
    store: ActivationStore,
    batch_size: int,
    seed: int,
    epoch: int = 0,
    rank: int = 0,
    world_size: int = 1,
    drop_last: bool = True,
    window_shards: int = 4,
) -> Iterator[tuple[Tensor, Tensor]]:
    """Yield float32 (x_a, x_b) batches of one epoch for one rank; see the module docstring."""
    check_seed(seed, "seed")
    _check_arguments(batch_size, epoch, rank, world_size, window_shards)
    generator = torch.Generator().manual_seed(derive_seed(seed, "store-batches", epoch))
    order = torch.randperm(len(store.shards), generator=generator).tolist()
    # With drop_last every rank stops at the same row count, hence the same number of batches.
    budget = store.num_rows // world_size if drop_last else store.num_rows
    carry_a = torch.empty(0, store.widths[0])
    carry_b = torch.empty(0, store.widths[1])
    global_offset = 0
    for start in range(0, len(order), window_shards):
        window = order[start : start + window_shards]
        rows = sum(store.shards[i].rows for i in window)
        buf_a = torch.empty(rows, store.widths[0], dtype=store.dtype)
        buf_b = torch.empty(rows, store.widths[1], dtype=store.dtype)
        filled = 0
        for index in window:
            shard = store.read_shard(index)
            count = int(shard["x_a"].shape[0])
            buf_a[filled : filled + count] = shard["x_a"]
            buf_b[filled : filled + count] = shard["x_b"]
            filled += count
            del shard
        permutation = torch.randperm(rows, generator=generator)
        mine = permutation[(rank - global_offset) % world_size :: world_size]
        global_offset += rows
        mine = mine[:budget]
        budget -= int(mine.shape[0])
        cursor = 0
        if carry_a.shape[0]:
            need = min(batch_size - carry_a.shape[0], int(mine.shape[0]))
            carry_a = torch.cat([carry_a, buf_a[mine[:need]].float()])
            carry_b = torch.cat([carry_b, buf_b[mine[:need]].float()])
            cursor = need
            if carry_a.shape[0] == batch_size:
                yield carry_a, carry_b
                carry_a, carry_b = carry_a[:0], carry_b[:0]
        while cursor + batch_size <= mine.shape[0]:
            index = mine[cursor : cursor + batch_size]
            yield buf_a[index].float(), buf_b[index].float()
            cursor += batch_size
        if cursor < mine.shape[0]:
            carry_a = torch.cat([carry_a, buf_a[mine[cursor:]].float()])
            carry_b = torch.cat([carry_b, buf_b[mine[cursor:]].float()])
        del buf_a, buf_b
    if carry_a.shape[0] and not drop_last:
        yield carry_a, carry_b
