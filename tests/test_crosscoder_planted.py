"""The planted-feature generator, and a small crosscoder recovering planted features."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crossdiff.crosscoder import CrosscoderConfig, RunConfig, TrainConfig
from crossdiff.crosscoder.data import TensorPairs
from crossdiff.crosscoder.planted import (
    A_ONLY,
    B_ONLY,
    SHARED,
    evaluate_planted,
    make_planted,
    sample_planted,
)
from crossdiff.crosscoder.trainer import train_crosscoder


def test_generator_plants_what_it_says() -> None:
    planted = make_planted(num_features=100, width=16, seed=3)
    kinds = planted.kinds
    assert int((kinds == A_ONLY).sum()) == 10 and int((kinds == B_ONLY).sum()) == 10
    assert torch.all(planted.directions_b[kinds == A_ONLY] == 0)
    assert torch.all(planted.directions_a[kinds == B_ONLY] == 0)
    shared = kinds == SHARED
    cosine = (planted.directions_a[shared] * planted.directions_b[shared]).sum(1)
    assert float(cosine.min()) >= 0.5 - 1e-5 and float(cosine.max()) <= 0.9 + 1e-5
    x_a, x_b = sample_planted(planted, 4000, seed=1)
    again_a, _ = sample_planted(planted, 4000, seed=1)
    assert torch.equal(x_a, again_a) and x_b.shape == (4000, 16)
    assert float(planted.firing_probability.sum()) == pytest.approx(6.0, rel=1e-3)


@pytest.fixture
def one_thread():
    """A tiny problem runs fastest (and steadiest on a loaded machine) on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("one_thread")
def test_small_crosscoder_recovers_planted_features(tmp_path: Path) -> None:
    planted = make_planted(num_features=48, width=16, mean_active=3.0, seed=0)
    data = TensorPairs(*sample_planted(planted, 16384, seed=1))
    run = RunConfig(
        crosscoder=CrosscoderConfig(
            widths=(16, 16), dict_size=96, sparsity="topk", k=4, dead_after_tokens=20_000, k_aux=16
        ),
        train=TrainConfig(steps=400, batch_size=256, lr=3e-3, warmup_steps=20, log_every=50),
    )
    model = train_crosscoder(run, data, tmp_path, show_progress=False)
    held_a, held_b = sample_planted(planted, 4096, seed=2)
    live = (model.encode(held_a, held_b) > 0).any(dim=0)
    scores = evaluate_planted(model, planted, live)
    assert scores["recovery"] >= 0.8, scores
    assert scores["relative_norm_auroc"] >= 0.9, scores
