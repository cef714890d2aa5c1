"""A store of random rows written through the real writer, for tests and benchmarks without models.

Column 0 of both x_a and x_b holds the row's index (exact in float32 up to 2**24 rows), so a reader
can check which rows it saw; the other columns are seeded Gaussian noise.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from crossdiff.activations.shards import STORAGE_DTYPES, write_store_file
from crossdiff.activations.store import STORE_FORMAT, STORE_VERSION, TEXTS_FILE
from crossdiff.activations.writer import StoreWriter
from crossdiff.errors import CrossdiffError
from crossdiff.files import prepare_output_dir


def write_synthetic_store(
    path: str | Path,
    num_rows: int,
    widths: tuple[int, int] = (16, 24),
    shard_size: int = 1000,
    dtype: str = "fp32",
    seed: int = 0,
    rows_per_text: int = 10,
    force: bool = False,
) -> dict[str, Any]:
    """Write a store of `num_rows` random paired rows to `path`; return its manifest."""
    if num_rows < 1:
        raise CrossdiffError(f"num_rows must be at least 1, got {num_rows}")
    out = prepare_output_dir(path, force)
    staging = out.parent / f"{out.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    writer = StoreWriter(
        staging, shard_size, STORAGE_DTYPES[dtype], fingerprint=f"synthetic-{seed}"
    )
    with writer:
        manifest = _fill(writer, num_rows, widths, seed, rows_per_text, dtype, staging)
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return manifest


def _fill(
    writer: StoreWriter,
    num_rows: int,
    widths: tuple[int, int],
    seed: int,
    rows_per_text: int,
    dtype: str,
    staging: Path,
) -> dict[str, Any]:
    generator = torch.Generator().manual_seed(seed)
    chunk = 4096
    for batch, start in enumerate(range(0, num_rows, chunk)):
        count = min(chunk, num_rows - start)
        index = torch.arange(start, start + count)
        x_a = torch.randn(count, widths[0], generator=generator)
        x_b = torch.randn(count, widths[1], generator=generator)
        x_a[:, 0] = index.float()
        x_b[:, 0] = index.float()
        writer.add(
            batch,
            {
                "x_a": x_a,
                "x_b": x_b,
                "text_index": index // rows_per_text,
                "position": (index % rows_per_text).to(torch.int32),
                "token_id": index % 97,
            },
        )
    num_texts = (num_rows + rows_per_text - 1) // rows_per_text
    texts = "".join(
        json.dumps({"index": i, "source": "synthetic", "text_id": f"synthetic-{i}", "text": ""})
        + "\n"
        for i in range(num_texts)
    )
    write_store_file(staging / TEXTS_FILE, texts.encode())
    return writer.finish(
        {
            "format": STORE_FORMAT,
            "version": STORE_VERSION,
            "models": {"a": {"name": "synthetic-a"}, "b": {"name": "synthetic-b"}},
            "hook_point": "synthetic",
            "positions": "all",
            "dtype": dtype,
            "num_texts": num_texts,
            "texts_file": TEXTS_FILE,
        }
    )
