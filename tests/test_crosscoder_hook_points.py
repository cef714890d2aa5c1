"""A trained crosscoder records the hook point of its activations; older checkpoints still load."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crossdiff.activations.synthetic import write_synthetic_store
from crossdiff.crosscoder import Crosscoder, CrosscoderConfig, RunConfig, TrainConfig
from crossdiff.crosscoder.checkpoint import load_metadata, save_crosscoder
from crossdiff.crosscoder.data import TensorPairs, open_store, source_hook_points
from crossdiff.crosscoder.trainer import FINAL_DIR, train_crosscoder
from crossdiff.errors import CrossdiffError
from crossdiff.evals.harness import choose_hook_points, load_dictionary

WIDTHS = (6, 5)


def _run() -> RunConfig:
    crosscoder = CrosscoderConfig(
        widths=WIDTHS, dict_size=24, sparsity="topk", k=3, dead_after_tokens=8
    )
    return RunConfig(crosscoder=crosscoder, train=TrainConfig(steps=3, batch_size=32, log_every=1))


def test_training_on_a_store_records_its_hook_point(tmp_path: Path) -> None:
    write_synthetic_store(tmp_path / "store", num_rows=200, widths=WIDTHS, shard_size=100)
    train_crosscoder(_run(), open_store(tmp_path / "store"), tmp_path / "run", show_progress=False)
    checkpoint = tmp_path / "run" / FINAL_DIR
    assert load_metadata(checkpoint)["hook_point"] == "synthetic"
    loaded = load_dictionary(str(checkpoint))
    assert (loaded.hook_point, loaded.hook_point_b) == ("synthetic", None)
    assert choose_hook_points(None, None, loaded) == ("synthetic", None)
    with pytest.raises(CrossdiffError, match="does not match the crosscoder's hook point"):
        choose_hook_points("resid_post.3", None, loaded)


def test_in_memory_sources_take_the_hook_point_from_the_caller(tmp_path: Path) -> None:
    generator = torch.Generator().manual_seed(0)
    pairs = TensorPairs(
        torch.randn(64, 6, generator=generator), torch.randn(64, 5, generator=generator)
    )
    assert source_hook_points(pairs) == {}
    points = {"hook_point": "resid_post.1", "hook_point_b": "resid_post.2"}
    train_crosscoder(_run(), pairs, tmp_path / "run", show_progress=False, hook_points=points)
    loaded = load_dictionary(str(tmp_path / "run" / FINAL_DIR))
    assert (loaded.hook_point, loaded.hook_point_b) == ("resid_post.1", "resid_post.2")


def test_a_store_with_a_different_b_hook_point_records_both() -> None:
    class Store:
        def __init__(self, name_b: str) -> None:
            self.manifest = {
                "hook_point": "resid_post.4",
                "models": {
                    "a": {"hook_point": {"name": "resid_post.4"}},
                    "b": {"hook_point": {"name": name_b}},
                },
            }

    both = {"hook_point": "resid_post.4", "hook_point_b": "resid_post.6"}
    assert source_hook_points(Store("resid_post.6")) == both
    assert source_hook_points(Store("resid_post.4")) == {"hook_point": "resid_post.4"}


def test_a_checkpoint_without_a_hook_point_still_loads(tmp_path: Path) -> None:
    model = Crosscoder(
        CrosscoderConfig(
            widths=WIDTHS,
            dict_size=24,
            sparsity="topk",
            k=3,
            normalisation="none",
            dead_after_tokens=8,
        )
    )
    save_crosscoder(model, tmp_path / "old", {"steps": 10})
    loaded = load_dictionary(str(tmp_path / "old"))
    assert loaded.hook_point is None and loaded.dictionary is not None
    assert choose_hook_points("resid_post.2", None, loaded) == ("resid_post.2", None)
    with pytest.raises(CrossdiffError, match="no hook point: pass --hook-point"):
        choose_hook_points(None, None, loaded)
