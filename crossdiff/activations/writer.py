"""Write paired rows into fixed-size shards, resumably, and finish with the manifest.

Rows arrive batch by batch. Every `shard_size` rows become one shard, written atomically by a
background thread (serialising, hashing, fsync and statistics overlap the next forward pass);
after each shard `progress.json` records the finished shards and where to restart: the batch holding
the first row not yet in a shard, and how many of that batch's rows are already written. Batches
are a fixed partition of the texts, so a resumed run recomputes exactly the same rows and the
finished store is byte-identical to an uninterrupted one. `manifest.json` is written last: a
directory without it is never mistaken for a complete store.
"""

from __future__ import annotations

import json
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from crossdiff.activations.shards import (
    ROW_FIELDS,
    ShardInfo,
    read_shard,
    write_shard,
    write_store_file,
)
from crossdiff.errors import CrossdiffError
from crossdiff.files import read_json
from crossdiff.normstats import NormStats

PROGRESS_FILE = "progress.json"
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class ResumePoint:
    """Where a collection restarts: a batch index and how many of its rows are already stored."""

    batch: int
    skip_rows: int


@dataclass
class _Segment:
    batch: int
    first_row: int  # global row index of the batch's first row
    buffered: int  # rows of this batch still in the buffer


class StoreWriter:
    """Accumulates rows, writes full shards, keeps running NormStats, and writes progress."""

    def __init__(self, directory: Path, shard_size: int, dtype: torch.dtype, fingerprint: str):
        if shard_size < 1:
            raise CrossdiffError(f"--shard-size must be at least 1 row, got {shard_size}")
        self.directory = directory
        self.shard_size = shard_size
        self.dtype = dtype
        self.fingerprint = fingerprint
        self.shards: list[ShardInfo] = []
        self.stats: tuple[NormStats, NormStats] | None = None
        self.rows_written = 0
        self._buffer: dict[str, list[Tensor]] = {}
        self._buffered = 0
        self._segments: list[_Segment] = []
        self._next_batch = 0
        # Main-thread counters; `shards`, `stats` and `rows_written` belong to the writer thread
        # (read them only after `drain`).
        self._rows_flushed = 0
        self._shards_submitted = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self._pending: deque[Future[None]] = deque()
        self._failed = False

    # ---- resuming -------------------------------------------------------------------------
    def resume(self) -> ResumePoint:
        """Load progress.json if it matches this collection; keep its verified shards."""
        progress_path = self.directory / PROGRESS_FILE
        if not progress_path.is_file():
            self._clean_strays()
            return ResumePoint(batch=0, skip_rows=0)
        progress = read_json(progress_path, "collection progress file")
        if progress.get("fingerprint") != self.fingerprint:
            raise CrossdiffError(
                f"{self.directory} holds a partial collection with different settings or inputs: "
                "delete it or pass --force to start over"
            )
        for entry in progress["shards"]:
            info = ShardInfo.from_dict(entry, str(progress_path))
            self._add_stats(read_shard(self.directory, info))  # verifies the checksum
            self.shards.append(info)
            self.rows_written += info.rows
        self._rows_flushed = self.rows_written
        self._shards_submitted = len(self.shards)
        self._clean_strays()
        point = ResumePoint(
            batch=int(progress["resume_batch"]),
            skip_rows=self.rows_written - int(progress["resume_batch_row"]),
        )
        self._next_batch = point.batch
        return point

    def _clean_strays(self) -> None:
        """Remove temporary files and shards not listed in the progress file."""
        keep = {info.file for info in self.shards} | {PROGRESS_FILE}
        for path in self.directory.iterdir():
            if path.name not in keep and path.is_file():
                path.unlink()

    # ---- writing --------------------------------------------------------------------------
    def add(self, batch: int, rows: dict[str, Tensor], skip_rows: int = 0) -> None:
        """Add the rows of batch `batch` (x_a, x_b and the row fields), minus the first `skip_rows`.

        `skip_rows` is non-zero only for the first batch after a resume: those rows are already in
        finished shards.
        """
        if batch != self._next_batch:
            raise RuntimeError(f"batches must arrive in order: expected {self._next_batch}")
        self._next_batch = batch + 1
        count = int(rows["x_a"].shape[0]) - skip_rows
        first_row = self._rows_flushed + self._buffered - skip_rows
        self._segments.append(_Segment(batch, first_row, count))
        for name, value in rows.items():
            value = value[skip_rows:]
            if name in ("x_a", "x_b"):
                value = value.to(self.dtype)
            self._buffer.setdefault(name, []).append(value)
        self._buffered += count
        while self._buffered >= self.shard_size:
            self._flush(self.shard_size)

    def _flush(self, count: int) -> None:
        """Hand the next `count` buffered rows to the background thread as one shard."""
        merged = {name: torch.cat(parts) for name, parts in self._buffer.items()}
        shard = {name: value[:count] for name, value in merged.items()}
        self._buffer = {name: [value[count:]] for name, value in merged.items()}
        self._buffered -= count
        self._rows_flushed += count
        self._consume_segments(count)
        resume_batch, resume_row = self._resume_point()
        index = self._shards_submitted
        self._shards_submitted += 1
        self._pending.append(
            self._executor.submit(self._write_shard_job, index, shard, resume_batch, resume_row)
        )
        # At most two shards wait in memory; a failed write surfaces at the next flush.
        while self._pending and (len(self._pending) > 2 or self._pending[0].done()):
            self._pending.popleft().result()

    def _write_shard_job(
        self, index: int, shard: dict[str, Tensor], resume_batch: int, resume_row: int
    ) -> None:
        """Background thread: write one shard, fold in its statistics, then record progress."""
        if self._failed:
            return  # never record a shard after one that failed: progress must stay a prefix
        try:
            info = write_shard(self.directory, index, shard)
            self._add_stats(shard)
            self.shards.append(info)
            self.rows_written += info.rows
            self._write_json(
                PROGRESS_FILE,
                {
                    "fingerprint": self.fingerprint,
                    "shards": [entry.to_dict() for entry in self.shards],
                    "resume_batch": resume_batch,
                    "resume_batch_row": resume_row,
                },
            )
        except BaseException:
            self._failed = True
            raise

    def drain(self) -> None:
        """Wait until every handed-over shard is written; re-raise the first failure."""
        while self._pending:
            self._pending.popleft().result()

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Wait for the background thread without raising (used when collection is aborted)."""
        for future in self._pending:
            future.exception()
        self._pending.clear()
        self._executor.shutdown(wait=True)

    def _consume_segments(self, count: int) -> None:
        while count and self._segments:
            take = min(count, self._segments[0].buffered)
            self._segments[0].buffered -= take
            count -= take
            if self._segments[0].buffered == 0:
                self._segments.pop(0)
        while self._segments and self._segments[0].buffered == 0:
            self._segments.pop(0)

    def _resume_point(self) -> tuple[int, int]:
        if self._segments:
            return self._segments[0].batch, self._segments[0].first_row
        return self._next_batch, self._rows_flushed

    def _add_stats(self, shard: dict[str, Tensor]) -> None:
        # Statistics of the stored values (after the dtype cast), so they equal what a reader sees.
        new = (NormStats.from_tensor(shard["x_a"]), NormStats.from_tensor(shard["x_b"]))
        self.stats = (
            new
            if self.stats is None
            else (self.stats[0].merge(new[0]), self.stats[1].merge(new[1]))
        )

    def _write_json(self, name: str, value: Any) -> None:
        text = json.dumps(value, indent=2, default=str) + "\n"
        write_store_file(self.directory / name, text.encode())

    def finish(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Write the last partial shard and manifest.json (the completeness marker).

        `manifest` holds the collection's description; this adds shards, row count and statistics.
        """
        if self._buffered:
            self._flush(self._buffered)
        self.drain()
        if self.rows_written == 0 or self.stats is None:
            raise CrossdiffError(
                "the collection produced no rows: every text was empty or made only of special "
                "tokens; check the inputs"
            )
        full = {
            **manifest,
            "num_rows": self.rows_written,
            "shard_size": self.shard_size,
            "widths": [self.stats[0].width, self.stats[1].width],
            "shards": [info.to_dict() for info in self.shards],
            "row_fields": list(ROW_FIELDS),
            "stats": {"a": self.stats[0].to_dict(), "b": self.stats[1].to_dict()},
        }
        self._write_json(MANIFEST_FILE, full)
        os.unlink(self.directory / PROGRESS_FILE)
        return full
