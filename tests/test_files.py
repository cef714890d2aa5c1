"""Atomic output directories and JSON writes leave nothing half-written."""

from pathlib import Path

import pytest

from crossdiff.errors import CrossdiffError
from crossdiff.files import atomic_output_dir, read_json, sha256_file, write_json_atomic


def test_atomic_output_dir_renames_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with atomic_output_dir(target) as staging:
        (staging / "a.txt").write_text("hello")
        assert not target.exists()
    assert (target / "a.txt").read_text() == "hello"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_atomic_output_dir_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with pytest.raises(RuntimeError), atomic_output_dir(target) as staging:
        (staging / "a.txt").write_text("half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_non_empty_directory_needs_force(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(CrossdiffError, match="--force"), atomic_output_dir(target):
        pass
    with atomic_output_dir(target, force=True) as staging:
        (staging / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_json_round_trip_and_hash(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    write_json_atomic(path, {"a": 1})
    assert read_json(path) == {"a": 1}
    assert len(sha256_file(path)) == 64


def test_read_json_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(CrossdiffError, match=r"bad\.json"):
        read_json(bad)
    with pytest.raises(CrossdiffError, match="not found"):
        read_json(tmp_path / "missing.json")
