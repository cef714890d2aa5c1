"""One shard of the activation store: a safetensors file of paired rows, written and verified.

A shard holds `x_a` (n, d_A) and `x_b` (n, d_B) in the storage dtype, and per row `text_index`
(int64, into the store's texts table), `position` (int32, token position within the text) and
`token_id` (int64). Its byte count and SHA-256 are recorded in the manifest; reading checks both
and names the shard when they disagree.
"""

from __future__ import annotations

import errno
import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from torch import Tensor

from crossdiff.errors import CrossdiffError
from crossdiff.files import sha256_file, write_bytes_atomic

STORAGE_DTYPES: dict[str, torch.dtype] = {
    "fp32": torch.float32,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}
ROW_FIELDS = ("text_index", "position", "token_id")


@dataclass(frozen=True)
class ShardInfo:
    """What the manifest records about one shard."""

    file: str
    rows: int
    bytes: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any], where: str) -> ShardInfo:
        """Parse a manifest entry, naming `where` on a malformed one."""
        try:
            return ShardInfo(
                file=str(data["file"]),
                rows=int(data["rows"]),
                bytes=int(data["bytes"]),
                sha256=str(data["sha256"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CrossdiffError(
                f"{where}: a shard entry needs file, rows, bytes and sha256, got {data!r}"
            ) from exc


def shard_name(index: int) -> str:
    """File name of the shard with this index."""
    return f"shard-{index:05d}.safetensors"


def disk_full_error(path: Path, exc: OSError) -> CrossdiffError:
    """The error a user sees when the disk fills up while writing `path`."""
    return CrossdiffError(
        f"disk full while writing {path} ({exc.strerror}): free some space or choose another "
        "--out, then rerun the same command to resume; finished shards are kept and the store "
        "has no manifest.json until it is complete"
    )


def write_store_file(path: Path, payload: bytes) -> None:
    """Write one file of a store atomically, turning a full disk into a clear CrossdiffError."""
    try:
        write_bytes_atomic(path, payload)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise disk_full_error(path, exc) from exc
        raise


def write_shard(directory: Path, index: int, tensors: dict[str, Tensor]) -> ShardInfo:
    """Serialise one shard, write it atomically and return its manifest entry."""
    payload = safetensors.torch.save({k: v.contiguous() for k, v in tensors.items()})
    path = directory / shard_name(index)
    write_store_file(path, payload)
    return ShardInfo(
        file=path.name,
        rows=int(tensors["x_a"].shape[0]),
        bytes=len(payload),
        sha256=hashlib.sha256(payload).hexdigest(),
    )


def check_shard_size(directory: Path, info: ShardInfo) -> None:
    """Raise a CrossdiffError naming the shard if it is missing or has the wrong size."""
    path = directory / info.file
    if not path.is_file():
        raise CrossdiffError(
            f"shard {info.file} listed in {directory / 'manifest.json'} is missing: the store is "
            "damaged, collect it again"
        )
    size = path.stat().st_size
    if size != info.bytes:
        raise CrossdiffError(
            f"shard {path} is truncated or altered: {size} bytes on disk, the manifest says "
            f"{info.bytes}; collect the store again"
        )


def read_shard(directory: Path, info: ShardInfo) -> dict[str, Tensor]:
    """Read one shard, verifying its size and SHA-256 against the manifest entry."""
    check_shard_size(directory, info)
    path = directory / info.file
    # Hash by streaming, then load through a memory map: no second in-memory copy of the shard.
    if sha256_file(path) != info.sha256:
        raise CrossdiffError(
            f"shard {path} is corrupted: its SHA-256 does not match the manifest; collect the "
            "store again"
        )
    try:
        tensors = safetensors.torch.load_file(path)
    except Exception as exc:  # safetensors raises its own error types on a bad header
        raise CrossdiffError(f"shard {path} is not a readable safetensors file: {exc}") from exc
    missing = {"x_a", "x_b", *ROW_FIELDS} - set(tensors)
    if missing or tensors["x_a"].shape[0] != info.rows:
        raise CrossdiffError(
            f"shard {path} does not match the manifest (missing {sorted(missing)} or a row "
            f"count other than {info.rows}); collect the store again"
        )
    return tensors


def read_row_fields(directory: Path, info: ShardInfo) -> dict[str, Tensor]:
    """Read only the per-row metadata tensors of a shard (no activations, no checksum)."""
    check_shard_size(directory, info)
    with safetensors.safe_open(str(directory / info.file), framework="pt") as handle:
        available = set(handle.keys())
        missing = [name for name in ROW_FIELDS if name not in available]
        if missing:
            raise CrossdiffError(
                f"shard {directory / info.file} lacks the row fields {missing}: it was written by "
                "an older crossdiff; collect the store again"
            )
        return {name: handle.get_tensor(name) for name in ROW_FIELDS}
