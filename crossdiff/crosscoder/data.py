"""Where training batches come from: a tiny protocol that the activation store and in-memory
tensors both satisfy, plus loaders for a safetensors file of pairs and for a store directory.

A source yields `batch_size` rows per process; with `world_size` processes the global batch is
their union, and every rank sees a disjoint part of the same global batch as a single process
with `batch_size × world_size` rows would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor

from crossdiff.errors import CrossdiffError
from crossdiff.normstats import NormStats
from crossdiff.seeding import derive_seed


@runtime_checkable
class PairBatchSource(Protocol):
    """Anything that yields paired activation batches (x_A, x_B) in a seeded order."""

    @property
    def widths(self) -> tuple[int, int]:
        """(d_A, d_B)."""
        ...

    def batches(
        self,
        batch_size: int,
        seed: int,
        epoch: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = True,
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """Batches of one epoch; the same (seed, epoch) gives the same order."""
        ...


class TensorPairs:
    """In-memory paired activations, shuffled per (seed, epoch) and sharded over ranks."""

    def __init__(self, x_a: Tensor, x_b: Tensor) -> None:
        if x_a.ndim != 2 or x_b.ndim != 2 or x_a.shape[0] != x_b.shape[0]:
            raise CrossdiffError(
                f"paired activations need shapes (n, d_A) and (n, d_B) with the same n, got "
                f"{tuple(x_a.shape)} and {tuple(x_b.shape)}"
            )
        self.x_a = x_a.float()
        self.x_b = x_b.float()
        self.num_rows = int(x_a.shape[0])
        self.stats = (NormStats.from_tensor(self.x_a), NormStats.from_tensor(self.x_b))

    @property
    def widths(self) -> tuple[int, int]:
        """(d_A, d_B)."""
        return (int(self.x_a.shape[1]), int(self.x_b.shape[1]))

    def batches(
        self,
        batch_size: int,
        seed: int,
        epoch: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = True,
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """Rank `rank`'s share of each global batch of `batch_size × world_size` rows."""
        generator = torch.Generator().manual_seed(derive_seed(seed, "epoch", epoch))
        order = torch.randperm(self.num_rows, generator=generator)
        global_batch = batch_size * world_size
        stop = self.num_rows - global_batch + 1 if drop_last else self.num_rows
        for start in range(0, max(stop, 0), global_batch):
            rows = order[start : start + global_batch][rank * batch_size : (rank + 1) * batch_size]
            yield self.x_a[rows], self.x_b[rows]


def load_activation_file(path: str | Path) -> TensorPairs:
    """Read a .safetensors file holding tensors `x_a` (n, d_A) and `x_b` (n, d_B)."""
    source = Path(path)
    if not source.is_file():
        raise CrossdiffError(f"activations file not found: {source} (check --activations)")
    try:
        tensors = load_file(str(source))
    except (SafetensorError, OSError) as exc:
        raise CrossdiffError(f"{source}: not a readable safetensors file ({exc})") from exc
    missing = [name for name in ("x_a", "x_b") if name not in tensors]
    if missing:
        raise CrossdiffError(
            f"{source}: missing tensor(s) {missing}; expected x_a (n, d_A) and x_b (n, d_B)"
        )
    return TensorPairs(tensors["x_a"], tensors["x_b"])


def open_store(path: str | Path) -> PairBatchSource:
    """Open an activation store directory (crossdiff.activations) as a batch source."""
    from crossdiff.activations.store import ActivationStore

    return ActivationStore(path)


def source_hook_points(source: PairBatchSource) -> dict[str, str]:
    """The hook points a source's activations were read at, as checkpoint metadata.

    {"hook_point": model A's} plus {"hook_point_b": model B's} when it differs, read from an
    activation store's manifest; empty for sources that do not record them (in-memory tensors,
    a safetensors file of pairs).
    """
    manifest = getattr(source, "manifest", None)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("hook_point"), str):
        return {}
    points = {"hook_point": manifest["hook_point"]}
    models = manifest.get("models")
    entry_b = models.get("b") if isinstance(models, dict) else None
    point_b = entry_b.get("hook_point") if isinstance(entry_b, dict) else None
    name_b = point_b.get("name") if isinstance(point_b, dict) else None
    if isinstance(name_b, str) and name_b != points["hook_point"]:
        points["hook_point_b"] = name_b
    return points


def source_stats(source: PairBatchSource) -> tuple[NormStats, NormStats]:
    """The normalisation statistics a source carries (the store's manifest or in-memory)."""
    stats = getattr(source, "stats", None)
    if stats is None or len(stats) != 2:
        raise CrossdiffError(
            f"{type(source).__name__} carries no normalisation statistics (stats = (A, B)): "
            "pass stats explicitly or use normalisation = 'none'"
        )
    return (stats[0], stats[1])
