"""The read side of the activation store: manifest checks, rows, statistics and streaming batches.

A store is a directory of `shard-NNNNN.safetensors` files, `texts.jsonl` (source, text id and text
of every collected text) and `manifest.json` (models, hook points, positions, dtype, widths, per
shard row count, size and SHA-256, per-model NormStats). It is readable without loading a model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from crossdiff.activations.loader import stream_batches
from crossdiff.activations.shards import (
    ROW_FIELDS,
    STORAGE_DTYPES,
    ShardInfo,
    check_shard_size,
    read_row_fields,
    read_shard,
)
from crossdiff.activations.writer import MANIFEST_FILE, PROGRESS_FILE
from crossdiff.errors import CrossdiffError
from crossdiff.files import read_json
from crossdiff.normstats import NormStats

STORE_FORMAT = "crossdiff-activation-store"
STORE_VERSION = 1
TEXTS_FILE = "texts.jsonl"
_REQUIRED = ("format", "version", "dtype", "positions", "num_rows", "widths", "shards", "stats")


class ActivationStore:
    """An activation store opened for reading; the manifest is checked on open.

    Opening checks that every shard exists with the recorded size; every read of a shard checks
    its SHA-256 (`verify()` checks them all at once).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        manifest_path = self.path / MANIFEST_FILE
        if not manifest_path.is_file():
            if (self.path / PROGRESS_FILE).is_file() or self.path.name.endswith(".partial"):
                raise CrossdiffError(
                    f"{self.path} is an unfinished collection (no {MANIFEST_FILE}): rerun "
                    "`crossdiff collect` with the same arguments to resume it"
                )
            raise CrossdiffError(
                f"{self.path} is not an activation store: {manifest_path} not found "
                "(create one with `crossdiff collect`)"
            )
        self.manifest: dict[str, Any] = read_json(manifest_path, "store manifest")
        self._check_manifest(manifest_path)
        self.shards = [
            ShardInfo.from_dict(entry, str(manifest_path)) for entry in self.manifest["shards"]
        ]
        for info in self.shards:
            check_shard_size(self.path, info)
        widths = self.manifest["widths"]
        self.widths: tuple[int, int] = (int(widths[0]), int(widths[1]))
        self.num_rows: int = int(self.manifest["num_rows"])
        self.dtype: torch.dtype = STORAGE_DTYPES[self.manifest["dtype"]]
        self.stats: tuple[NormStats, NormStats] = (
            NormStats.from_dict(self.manifest["stats"]["a"]),
            NormStats.from_dict(self.manifest["stats"]["b"]),
        )

    def _check_manifest(self, where: Path) -> None:
        manifest = self.manifest
        missing = [key for key in _REQUIRED if key not in manifest]
        if missing:
            raise CrossdiffError(f"{where}: missing fields {missing}; collect the store again")
        if manifest["format"] != STORE_FORMAT or manifest["version"] != STORE_VERSION:
            raise CrossdiffError(
                f"{where}: format {manifest['format']!r} version {manifest['version']!r}, expected "
                f"{STORE_FORMAT!r} version {STORE_VERSION}"
            )
        if manifest["dtype"] not in STORAGE_DTYPES:
            raise CrossdiffError(
                f"{where}: field 'dtype' is {manifest['dtype']!r}, expected one of "
                f"{sorted(STORAGE_DTYPES)}"
            )
        total = sum(int(entry.get("rows", 0)) for entry in manifest["shards"])
        if total != manifest["num_rows"]:
            raise CrossdiffError(
                f"{where}: shards hold {total} rows but 'num_rows' says {manifest['num_rows']}"
            )

    def __len__(self) -> int:
        return self.num_rows

    def verify(self) -> None:
        """Check the SHA-256 of every shard; raise a CrossdiffError naming the first bad one."""
        for info in self.shards:
            read_shard(self.path, info)

    def read_shard(self, index: int) -> dict[str, Tensor]:
        """All tensors of shard `index` (verified): x_a, x_b, text_index, position, token_id."""
        return read_shard(self.path, self.shards[index])

    def texts(self) -> list[dict[str, Any]]:
        """The texts table: one dict per collected text (index, source, text_id, text)."""
        path = self.path / TEXTS_FILE
        if not path.is_file():
            raise CrossdiffError(f"{path} not found: the store is damaged, collect it again")
        with path.open() as handle:
            return [json.loads(line) for line in handle if line.strip()]

    def row_columns(self) -> dict[str, Tensor]:
        """text_index, position and token_id of every row in store order, as int64 tensors."""
        parts = [read_row_fields(self.path, info) for info in self.shards]
        return {
            name: torch.cat([part[name].long() for part in parts])
            if parts
            else torch.zeros(0, dtype=torch.long)
            for name in ROW_FIELDS
        }

    def rows(self) -> list[dict[str, Any]]:
        """Per-row metadata in store order: source, text_id, text_index, position, token_id.

        One dict per row; for large stores use `row_columns()`.
        """
        texts = self.texts()
        columns = self.row_columns()
        return [
            {
                "source": texts[text_index]["source"],
                "text_id": texts[text_index]["text_id"],
                "text_index": text_index,
                "position": position,
                "token_id": token_id,
            }
            for text_index, position, token_id in zip(
                *(columns[name].tolist() for name in ROW_FIELDS), strict=True
            )
        ]

    def load_all(self) -> tuple[Tensor, Tensor]:
        """Every row as float32 (x_A (n, d_A), x_B (n, d_B)); for stores that fit in memory."""
        x_a = torch.empty(self.num_rows, self.widths[0], dtype=torch.float32)
        x_b = torch.empty(self.num_rows, self.widths[1], dtype=torch.float32)
        start = 0
        for index, info in enumerate(self.shards):
            shard = self.read_shard(index)
            x_a[start : start + info.rows] = shard["x_a"]
            x_b[start : start + info.rows] = shard["x_b"]
            start += info.rows
        return x_a, x_b

    def batches(
        self,
        batch_size: int,
        seed: int,
        epoch: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = True,
        window_shards: int = 4,
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """Shuffled float32 batches (x_a, x_b), holding at most `window_shards` shards in memory.

        Shard order is shuffled per (seed, epoch), and rows are shuffled within each window of
        `window_shards` shards. Rank `rank` of `world_size` gets a disjoint share; together the
        ranks see every row exactly once per epoch (with `drop_last=False`). With `drop_last=True`
        every rank yields the same number of full batches.
        """
        return stream_batches(
            self, batch_size, seed, epoch, rank, world_size, drop_last, window_shards
        )
