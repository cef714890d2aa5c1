"""Paired collection: the right vectors at the right positions, resumable, with clear errors."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import torch

from crossdiff.activations import shards as shards_module
from crossdiff.activations import writer as writer_module
from crossdiff.activations.collect import CollectConfig, collect
from crossdiff.activations.sources import SourceSpec
from crossdiff.activations.store import ActivationStore
from crossdiff.errors import CrossdiffError
from crossdiff.models.pair import load_model_pair
from crossdiff.normstats import NormStats
from tests.activations.conftest import TEXTS


def _config(dirs: tuple[Path, Path], text_file: Path, **overrides: object) -> CollectConfig:
    values: dict[str, object] = {
        "model_a": str(dirs[0]),
        "model_b": str(dirs[1]),
        "hook_point": "resid_post.1",
        "sources": [SourceSpec(kind="text_file", path=str(text_file))],
        "batch_size": 3,
        "shard_size": 5,
    }
    values.update(overrides)
    return CollectConfig(**values)


def _alone(model: torch.nn.Module, ids: list[int], layer: int) -> torch.Tensor:
    """The hook-point vectors of one unpadded text, from output_hidden_states."""
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids]), output_hidden_states=True)
    return out.hidden_states[layer + 1][0]


@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_last_picks_the_last_real_token(
    tiny_pair_dirs: tuple[Path, Path], text_file: Path, tmp_path: Path, padding_side: str
) -> None:
    config = _config(tiny_pair_dirs, text_file, positions="last", padding_side=padding_side)
    manifest = collect(config, tmp_path / "store", show_progress=False)
    store = ActivationStore(tmp_path / "store")
    assert manifest["num_rows"] == len(TEXTS) == store.num_rows
    assert store.widths == (32, 48)
    pair = load_model_pair(*map(str, tiny_pair_dirs))
    x_a, x_b = store.load_all()
    for row, meta in enumerate(store.rows()):
        ids = pair.tokenizer(TEXTS[meta["text_index"]])["input_ids"]
        assert (meta["position"], meta["token_id"]) == (len(ids) - 1, ids[-1])
        torch.testing.assert_close(x_a[row], _alone(pair.model_a, ids, 1)[-1], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(x_b[row], _alone(pair.model_b, ids, 1)[-1], atol=1e-5, rtol=1e-5)


def test_all_skips_padding_and_special_tokens(
    tiny_pair_dirs: tuple[Path, Path], text_file: Path, tmp_path: Path
) -> None:
    collect(
        _config(tiny_pair_dirs, text_file, positions="all"), tmp_path / "s", show_progress=False
    )
    store = ActivationStore(tmp_path / "s")
    pair = load_model_pair(*map(str, tiny_pair_dirs))
    rows = store.rows()
    x_a, x_b = store.load_all()
    special = set(pair.tokenizer.all_special_ids)
    expected_rows = 0
    for index, text in enumerate(TEXTS):
        ids = pair.tokenizer(text)["input_ids"]
        assert ids[0] == pair.tokenizer.bos_token_id  # raw text gets a BOS, which is skipped
        keep = [p for p, token in enumerate(ids) if token not in special]
        mine = [r for r, meta in enumerate(rows) if meta["text_index"] == index]
        assert [rows[r]["position"] for r in mine] == keep
        assert [rows[r]["token_id"] for r in mine] == [ids[p] for p in keep]
        torch.testing.assert_close(
            x_a[mine], _alone(pair.model_a, ids, 1)[keep], atol=1e-5, rtol=1e-5
        )
        torch.testing.assert_close(
            x_b[mine], _alone(pair.model_b, ids, 1)[keep], atol=1e-5, rtol=1e-5
        )
        expected_rows += len(keep)
    assert store.num_rows == expected_rows
    assert all(meta["token_id"] not in special for meta in rows)


@pytest.mark.parametrize("dtype", ["fp16", "bf16", "fp32"])
def test_statistics_equal_whole_store_statistics(
    tiny_pair_dirs: tuple[Path, Path], text_file: Path, tmp_path: Path, dtype: str
) -> None:
    config = _config(tiny_pair_dirs, text_file, positions="all", dtype=dtype)
    collect(config, tmp_path / "s", show_progress=False)
    store = ActivationStore(tmp_path / "s")
    assert (
        store.read_shard(0)["x_a"].dtype
        == {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[dtype]
    )
    for streamed, full in zip(store.stats, store.load_all(), strict=True):
        whole = NormStats.from_tensor(full)
        assert streamed.count == whole.count == store.num_rows
        torch.testing.assert_close(streamed.mean, whole.mean, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(streamed.std, whole.std, rtol=1e-10, atol=1e-10)
        assert streamed.mean_norm == pytest.approx(whole.mean_norm, rel=1e-12)


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.mark.parametrize("kill_at_shard", [1, 4])
def test_resume_after_a_kill_gives_an_identical_store(
    tiny_pair_dirs: tuple[Path, Path],
    text_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kill_at_shard: int,
) -> None:
    config = _config(tiny_pair_dirs, text_file, positions="all", shard_size=7)
    collect(config, tmp_path / "whole", show_progress=False)

    real_write_shard = writer_module.write_shard

    def killed_write_shard(directory: Path, index: int, tensors: dict) -> object:
        if index == kill_at_shard:
            raise KeyboardInterrupt  # the process dies while writing this shard
        return real_write_shard(directory, index, tensors)

    monkeypatch.setattr(writer_module, "write_shard", killed_write_shard)
    with pytest.raises(KeyboardInterrupt):
        collect(config, tmp_path / "resumed", show_progress=False)
    partial = tmp_path / "resumed.partial"
    assert not (tmp_path / "resumed").exists() and not (partial / "manifest.json").exists()
    with pytest.raises(CrossdiffError, match="unfinished collection"):
        ActivationStore(partial)
    kept = sorted(p.name for p in partial.glob("shard-*"))
    assert len(kept) == kill_at_shard

    monkeypatch.setattr(writer_module, "write_shard", real_write_shard)
    resumed_shards: list[int] = []
    monkeypatch.setattr(
        writer_module,
        "write_shard",
        lambda d, i, t: resumed_shards.append(i) or real_write_shard(d, i, t),
    )
    collect(config, tmp_path / "resumed", show_progress=False)
    assert resumed_shards[0] == kill_at_shard  # finished shards were kept, not rewritten
    assert _files(tmp_path / "resumed") == _files(tmp_path / "whole")
    assert not partial.exists()


def test_resume_after_a_kill_just_before_the_manifest(
    tiny_pair_dirs: tuple[Path, Path],
    text_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _config(tiny_pair_dirs, text_file, positions="all", shard_size=7)
    collect(config, tmp_path / "whole", show_progress=False)
    real = writer_module.StoreWriter._write_json

    def killed(self: writer_module.StoreWriter, name: str, value: object) -> None:
        if name == writer_module.MANIFEST_FILE:
            raise KeyboardInterrupt
        real(self, name, value)

    monkeypatch.setattr(writer_module.StoreWriter, "_write_json", killed)
    with pytest.raises(KeyboardInterrupt):
        collect(config, tmp_path / "resumed", show_progress=False)
    monkeypatch.undo()
    collect(config, tmp_path / "resumed", show_progress=False)
    assert _files(tmp_path / "resumed") == _files(tmp_path / "whole")


def test_resume_refuses_a_partial_collection_with_other_settings(
    tiny_pair_dirs: tuple[Path, Path],
    text_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _config(tiny_pair_dirs, text_file, positions="all")
    monkeypatch.setattr(writer_module, "write_shard", _raise_interrupt_after(1))
    with pytest.raises(KeyboardInterrupt):
        collect(config, tmp_path / "s", show_progress=False)
    monkeypatch.undo()
    other = _config(tiny_pair_dirs, text_file, positions="all", hook_point="resid_post.0")
    with pytest.raises(CrossdiffError, match="partial collection with different settings"):
        collect(other, tmp_path / "s", show_progress=False)
    collect(other, tmp_path / "s", force=True, show_progress=False)
    assert ActivationStore(tmp_path / "s").manifest["hook_point"] == "resid_post.0"


def _raise_interrupt_after(allowed: int):  # type: ignore[no-untyped-def]
    real = writer_module.write_shard

    def write(directory: Path, index: int, tensors: dict) -> object:
        if index >= allowed:
            raise KeyboardInterrupt
        return real(directory, index, tensors)

    return write


def test_complete_store_is_not_recollected(
    tiny_pair_dirs: tuple[Path, Path], text_file: Path, tmp_path: Path
) -> None:
    config = _config(tiny_pair_dirs, text_file)
    first = collect(config, tmp_path / "s", show_progress=False)
    stamp = (tmp_path / "s" / "manifest.json").stat().st_mtime_ns
    assert collect(config, tmp_path / "s", show_progress=False) == first
    assert (tmp_path / "s" / "manifest.json").stat().st_mtime_ns == stamp
    with pytest.raises(CrossdiffError, match="not empty: pass --force"):
        collect(
            _config(tiny_pair_dirs, text_file, positions="all"), tmp_path / "s", show_progress=False
        )


def test_full_disk_gives_a_clear_error_and_no_complete_store(
    tiny_pair_dirs: tuple[Path, Path],
    text_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = shards_module.write_bytes_atomic
    calls: list[Path] = []

    def fill_up(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) >= 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)

    monkeypatch.setattr(shards_module, "write_bytes_atomic", fill_up)
    with pytest.raises(CrossdiffError, match=r"disk full while writing .*shard-00001"):
        collect(
            _config(tiny_pair_dirs, text_file, positions="all"), tmp_path / "s", show_progress=False
        )
    assert not (tmp_path / "s").exists()
    assert not (tmp_path / "s.partial" / "manifest.json").exists()


def test_empty_and_missing_inputs(
    tiny_pair_dirs: tuple[Path, Path], text_file: Path, tmp_path: Path
) -> None:
    blank = tmp_path / "blank.txt"
    blank.write_text("\n  \n")
    with pytest.raises(CrossdiffError, match=r"source text_file:blank.txt is empty"):
        collect(_config(tiny_pair_dirs, blank), tmp_path / "s", show_progress=False)
    with pytest.raises(CrossdiffError, match=r"input file not found: .*nope.txt"):
        collect(_config(tiny_pair_dirs, tmp_path / "nope.txt"), tmp_path / "s", show_progress=False)
    with pytest.raises(CrossdiffError, match="no inputs given"):
        collect(_config(tiny_pair_dirs, blank, sources=[]), tmp_path / "s", show_progress=False)
    with pytest.raises(CrossdiffError, match="model B directory not found"):
        collect(
            _config((tiny_pair_dirs[0], tmp_path / "missing"), text_file),
            tmp_path / "s",
            show_progress=False,
        )
    assert not (tmp_path / "s").exists() and not (tmp_path / "s.partial").exists()


def test_corrupted_and_truncated_shards_are_named(
    tiny_pair_dirs: tuple[Path, Path], text_file: Path, tmp_path: Path
) -> None:
    collect(
        _config(tiny_pair_dirs, text_file, positions="all"), tmp_path / "s", show_progress=False
    )
    shard = tmp_path / "s" / "shard-00002.safetensors"
    data = bytearray(shard.read_bytes())
    data[-3] ^= 0xFF
    shard.write_bytes(bytes(data))
    store = ActivationStore(tmp_path / "s")
    with pytest.raises(CrossdiffError, match=r"shard .*shard-00002.safetensors is corrupted"):
        store.load_all()
    with pytest.raises(CrossdiffError, match=r"shard-00002\.safetensors is corrupted"):
        store.verify()
    shard.write_bytes(bytes(data[:-10]))
    with pytest.raises(CrossdiffError, match=r"shard-00002.safetensors is truncated"):
        ActivationStore(tmp_path / "s")
    shard.unlink()
    with pytest.raises(CrossdiffError, match=r"shard shard-00002.safetensors .* is missing"):
        ActivationStore(tmp_path / "s")
