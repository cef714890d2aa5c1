"""The store's streaming loader: seeded shuffles, every row once per epoch, disjoint ranks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crossdiff.activations.store import ActivationStore
from crossdiff.activations.synthetic import write_synthetic_store
from crossdiff.errors import CrossdiffError

ROWS = 95  # ten shards of 10 rows, the last one partial


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ActivationStore:
    path = tmp_path_factory.mktemp("store") / "s"
    write_synthetic_store(path, ROWS, widths=(4, 6), shard_size=10, rows_per_text=5)
    return ActivationStore(path)


def _ids(batches: list[tuple[torch.Tensor, torch.Tensor]]) -> list[int]:
    ids: list[int] = []
    for x_a, x_b in batches:
        assert x_a.dtype == torch.float32 and x_a.shape[1] == 4 and x_b.shape[1] == 6
        assert torch.equal(x_a[:, 0], x_b[:, 0])  # the pair stays together
        ids.extend(int(v) for v in x_a[:, 0])
    return ids


def test_manifest_shapes_and_rows(store: ActivationStore) -> None:
    assert (store.num_rows, store.widths, len(store.shards)) == (ROWS, (4, 6), 10)
    assert [s.rows for s in store.shards] == [10] * 9 + [5]
    rows = store.rows()
    assert len(rows) == ROWS
    assert rows[7] == {
        "source": "synthetic",
        "text_id": "synthetic-1",
        "text_index": 1,
        "position": 2,
        "token_id": 7,
    }


@pytest.mark.parametrize("window", [1, 3, 20])
def test_every_row_exactly_once_per_epoch(store: ActivationStore, window: int) -> None:
    ids = _ids(list(store.batches(8, seed=3, drop_last=False, window_shards=window)))
    assert sorted(ids) == list(range(ROWS))
    assert ids != list(range(ROWS))  # shuffled


def test_shuffle_is_seeded_and_changes_with_epoch(store: ActivationStore) -> None:
    first = _ids(list(store.batches(8, seed=1, drop_last=False)))
    assert first == _ids(list(store.batches(8, seed=1, drop_last=False)))
    assert first != _ids(list(store.batches(8, seed=2, drop_last=False)))
    assert first != _ids(list(store.batches(8, seed=1, epoch=1, drop_last=False)))


def test_drop_last_keeps_only_full_batches(store: ActivationStore) -> None:
    batches = list(store.batches(8, seed=0))
    assert len(batches) == ROWS // 8 and all(b[0].shape[0] == 8 for b in batches)
    assert len(set(_ids(batches))) == 8 * (ROWS // 8)


@pytest.mark.parametrize("world_size", [2, 3])
def test_ranks_are_disjoint_and_cover_the_store(store: ActivationStore, world_size: int) -> None:
    per_rank = [
        _ids(list(store.batches(4, seed=5, rank=r, world_size=world_size, drop_last=False)))
        for r in range(world_size)
    ]
    assert sorted(i for ids in per_rank for i in ids) == list(range(ROWS))
    dropped = [
        list(store.batches(4, seed=5, rank=r, world_size=world_size)) for r in range(world_size)
    ]
    assert len({len(batches) for batches in dropped}) == 1  # same step count on every rank
    seen = [set(_ids(batches)) for batches in dropped]
    assert sum(len(s) for s in seen) == len(set().union(*seen))


def test_each_shard_is_read_once_per_epoch(
    store: ActivationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[int] = []
    real = ActivationStore.read_shard
    monkeypatch.setattr(
        ActivationStore, "read_shard", lambda self, i: reads.append(i) or real(self, i)
    )
    list(store.batches(8, seed=0, window_shards=2))
    assert sorted(reads) == list(range(10))


def test_load_all_and_bad_arguments(store: ActivationStore) -> None:
    x_a, x_b = store.load_all()
    assert torch.equal(x_a[:, 0], torch.arange(ROWS).float())
    assert x_b.shape == (ROWS, 6)
    with pytest.raises(CrossdiffError, match="rank must be in"):
        next(store.batches(4, seed=0, rank=2, world_size=2))
    with pytest.raises(CrossdiffError, match="batch_size must be at least 1"):
        next(store.batches(0, seed=0))


def test_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(CrossdiffError, match=r"not an activation store: .*manifest.json not found"):
        ActivationStore(tmp_path)
