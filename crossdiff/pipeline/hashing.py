"""Content hashes of stage inputs and outputs, with a cache keyed by path, size and mtime.

Hashing a directory means hashing every file in it (relative path + SHA-256), so a renamed, edited,
added or removed file changes the hash. Large external inputs (model directories) are re-hashed only
when a file's size or modification time changed, which keeps a fully cached run fast.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from crossdiff.files import read_json, sha256_file, sha256_json, write_json_atomic

MANIFEST_NAME = "stage.json"


def list_files(root: Path, skip: frozenset[str] = frozenset()) -> list[Path]:
    """Every regular file below `root` (sorted, relative), skipping hidden names and `skip`."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            relative = (Path(dirpath) / name).relative_to(root)
            if str(relative) not in skip:
                found.append(relative)
    return found


class HashCache:
    """SHA-256 of files, remembered across runs by (absolute path, size, mtime_ns)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        self.dirty = False
        if path is not None and path.is_file():
            try:
                loaded = read_json(path, "hash cache")
                if isinstance(loaded, dict):
                    self.entries = loaded
            except Exception:  # a damaged cache only costs a re-hash
                self.entries = {}

    def file_sha256(self, file: Path) -> str:
        """The file's SHA-256, from the cache when its size and mtime are unchanged."""
        stat = file.stat()
        key = str(file.resolve())
        entry = self.entries.get(key)
        if entry and entry.get("size") == stat.st_size and entry.get("mtime") == stat.st_mtime_ns:
            return str(entry["sha256"])
        digest = sha256_file(file)
        self.entries[key] = {"size": stat.st_size, "mtime": stat.st_mtime_ns, "sha256": digest}
        self.dirty = True
        return digest

    def save(self) -> None:
        """Write the cache back if anything new was hashed."""
        if self.path is not None and self.dirty:
            write_json_atomic(self.path, self.entries)
            self.dirty = False


def file_hashes(root: Path, cache: HashCache, skip: frozenset[str] = frozenset()) -> dict[str, str]:
    """{relative path: sha256} for every file below `root`."""
    return {str(rel): cache.file_sha256(root / rel) for rel in list_files(root, skip)}


def input_fingerprint(source: str | Path, cache: HashCache) -> str:
    """Hash of an external input: a file's or directory's content, or the string itself.

    A string that is not an existing path (e.g. a Hugging Face hub id) is hashed as text.
    """
    path = Path(source)
    if path.is_file():
        return cache.file_sha256(path)
    if path.is_dir():
        return sha256_json(file_hashes(path, cache))
    return sha256_json({"identifier": str(source)})
