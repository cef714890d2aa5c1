"""Atomic writes, content hashes and run manifests: how every stage leaves files on disk.

A stage never leaves something that looks finished when it is killed half-way: files are written to
a temporary sibling and renamed into place, and output directories are built in a temporary sibling
directory that is renamed at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crossdiff.errors import CrossdiffError


def sha256_file(path: str | os.PathLike[str], chunk_bytes: int = 1 << 20) -> str:
    """Return the hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def sha256_json(value: Any) -> str:
    """Return the hex SHA-256 of a JSON-serialisable value in canonical form (sorted keys)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write bytes to `path` through a temporary sibling and a rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def write_json_atomic(path: str | os.PathLike[str], value: Any) -> None:
    """Write `value` as indented JSON to `path` atomically."""
    text = json.dumps(value, indent=2, sort_keys=False, default=str) + "\n"
    write_bytes_atomic(path, text.encode())


def read_json(path: str | os.PathLike[str], what: str = "JSON file") -> Any:
    """Read a JSON file, turning a missing or malformed file into a CrossdiffError."""
    source = Path(path)
    if not source.is_file():
        raise CrossdiffError(f"{what} not found: {source} (check the path or create it first)")
    try:
        return json.loads(source.read_text())
    except json.JSONDecodeError as exc:
        raise CrossdiffError(
            f"{source}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc


def prepare_output_dir(path: str | os.PathLike[str], force: bool) -> Path:
    """Check that `path` may be (re)written: refuse a non-empty directory unless `force`.

    Also checks that the parent directory can be created and written, so the error comes before
    any work is done.
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise CrossdiffError(f"{target} exists and is not a directory: choose another --out path")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise CrossdiffError(
            f"{target} exists and is not empty: pass --force to replace it, or choose another --out"
        )
    parent = target.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CrossdiffError(
            f"cannot create {parent}: {exc.strerror}; choose a writable --out path"
        ) from exc
    if not os.access(parent, os.W_OK):
        raise CrossdiffError(f"{parent} is not writable: choose a writable --out path")
    return target


@contextlib.contextmanager
def atomic_output_dir(path: str | os.PathLike[str], force: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that replaces `path` only if the block finishes without error.

    On any exception (including KeyboardInterrupt) the temporary directory is removed and `path`
    is left as it was.
    """
    target = prepare_output_dir(path, force)
    parent = target.resolve().parent
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if target.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=parent))
        os.replace(target, trash / "old")
        os.replace(staging, target)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(staging, target)
