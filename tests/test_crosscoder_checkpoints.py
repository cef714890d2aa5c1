"""Checkpoints: crossdiff's own format round-trips; the study's and dictionary_learning's layouts
import and export with the same behaviour on raw activations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from crossdiff.crosscoder import Crosscoder, CrosscoderConfig
from crossdiff.crosscoder.checkpoint import load_crosscoder, save_crosscoder
from crossdiff.crosscoder.formats import (
    export_dictionary_learning,
    export_study,
    import_dictionary_learning,
    import_study,
)
from crossdiff.errors import CrossdiffError
from crossdiff.normstats import NormStats


def _data(n: int = 64, width: int = 6):
    gen = torch.Generator().manual_seed(0)
    return torch.randn(n, width, generator=gen) * 2 + 1, torch.randn(n, width, generator=gen) - 3


def _model(rule: str, normalisation: str = "per_channel", partition=(0.125, 0.25)) -> Crosscoder:
    x_a, x_b = _data()
    config = CrosscoderConfig(
        widths=(6, 6),
        dict_size=16,
        sparsity=rule,
        k=3,
        partition=partition,
        normalisation=normalisation,
        init_seed=4,
    )
    stats = (NormStats.from_tensor(x_a), NormStats.from_tensor(x_b))
    model = Crosscoder(config, stats if normalisation != "none" else None)
    gen = torch.Generator().manual_seed(9)
    with torch.no_grad():
        for p in (model.b_enc_D, model.b_dec_d):
            p.normal_(0, 0.3, generator=gen)
        model.partition.zero_forbidden(model.W_enc_Dd)
        model.threshold.fill_(0.05)
    return model.eval()


@pytest.mark.parametrize("rule", ["relu", "topk", "batchtopk", "jumprelu"])
def test_round_trip_gives_identical_outputs(tmp_path: Path, rule: str) -> None:
    model = _model(rule)
    save_crosscoder(model, tmp_path / "cc", metadata={"note": "hi"})
    loaded = load_crosscoder(tmp_path / "cc")
    x_a, x_b = _data()
    assert torch.equal(loaded.encode(x_a, x_b), model.encode(x_a, x_b))
    for got, want in zip(loaded.reconstruct(x_a, x_b), model.reconstruct(x_a, x_b), strict=True):
        assert torch.equal(got, want)
    assert loaded.config == model.config
    assert loaded.stats is not None and torch.equal(loaded.stats[0].mean, model.stats[0].mean)
    document = json.loads((tmp_path / "cc" / "config.json").read_text())
    assert document["metadata"] == {"note": "hi"} and document["normalisation_stats"]["A"]


def test_checkpoint_without_statistics_cannot_be_used_raw(tmp_path: Path) -> None:
    config = CrosscoderConfig(widths=(6, 6), dict_size=16, k=3, normalisation="scalar")
    save_crosscoder(Crosscoder(config), tmp_path / "cc")
    loaded = load_crosscoder(tmp_path / "cc")
    with pytest.raises(CrossdiffError, match="no statistics"):
        loaded.encode(*_data())


def test_mismatched_files_are_refused(tmp_path: Path) -> None:
    save_crosscoder(_model("topk"), tmp_path / "cc")
    save_file({"W_enc_Dd": torch.zeros(2, 2)}, str(tmp_path / "cc" / "weights.safetensors"))
    with pytest.raises(CrossdiffError, match="do not match"):
        load_crosscoder(tmp_path / "cc")


@pytest.mark.parametrize("rule", ["topk", "batchtopk"])
def test_study_layout_round_trip_on_raw_activations(tmp_path: Path, rule: str) -> None:
    model = _model(rule)
    export_study(model, tmp_path / "study")
    from safetensors.torch import load_file

    tensors = load_file(str(tmp_path / "study" / "weights.safetensors"))
    assert tensors["W_enc"].shape == (2, 6, 16) and tensors["W_dec"].shape == (16, 2, 6)
    assert tensors["b_enc"].shape == (16,) and tensors["b_dec"].shape == (2, 6)
    again = import_study(tmp_path / "study")
    assert again.config.partition_sizes == model.config.partition_sizes == (2, 4)
    x_a, x_b = _data()
    if rule == "topk":  # BatchTopK's ranking uses decoder norms, which folding rescales
        torch.testing.assert_close(again.encode(x_a, x_b), model.encode(x_a, x_b))
    codes = model.encode(x_a, x_b)
    for got, want in zip(again.decode(codes), model.decode(codes), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_study_checkpoint_without_statistics_needs_a_decision(tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(1)
    tensors = {
        "W_enc": torch.randn(2, 4, 10, generator=gen),
        "W_dec": torch.randn(10, 2, 4, generator=gen),
        "b_enc": torch.zeros(10),
        "b_dec": torch.zeros(2, 4),
    }
    torch.save(tensors, tmp_path / "cc.pt")
    with pytest.raises(CrossdiffError, match="no normalisation statistics"):
        import_study(tmp_path / "cc.pt", k=2)
    x_a = torch.randn(30, 4, generator=gen) * 5
    x_b = torch.randn(30, 4, generator=gen)
    stats = (NormStats.from_tensor(x_a), NormStats.from_tensor(x_b))
    model = import_study(tmp_path / "cc.pt", k=2, partition_sizes=(1, 1), stats=stats)
    z = (torch.cat([x_a, x_b], 1) - torch.cat([s.mean for s in stats]).float()) / torch.cat(
        [s.std for s in stats]
    ).float()
    pre = torch.einsum("nmd,mdD->nD", z.view(30, 2, 4), tensors["W_enc"]) + tensors["b_enc"]
    want = torch.zeros_like(pre).scatter(1, pre.topk(2, dim=1).indices, 1) * pre.relu()
    torch.testing.assert_close(model.encode(x_a, x_b), want)
    raw = import_study(tmp_path / "cc.pt", k=2, trained_on_raw=True)
    assert raw.config.normalisation == "none"


def _dl_encode(tensors: dict, x_a, x_b, keep_relative: bool) -> torch.Tensor:
    """dictionary_learning's CrossCoder encode, written from its documented layout."""
    x = torch.stack([x_a, x_b], dim=1)  # (n, L, d)
    x = x - tensors["activation_mean"]
    if keep_relative:
        scale = tensors["target_rms"] / (tensors["activation_std"].pow(2).sum(-1) + 1e-8).sqrt()
        x = x * scale[None, :, None]
    else:
        x = x / (tensors["activation_std"] + 1e-8)
    return torch.relu(
        torch.einsum("nld,ldf->nf", x, tensors["encoder.weight"]) + tensors["encoder.bias"]
    )


@pytest.mark.parametrize("normalisation", ["scalar", "per_channel", "none"])
def test_dictionary_learning_layout(tmp_path: Path, normalisation: str) -> None:
    model = _model("relu", normalisation, partition=None)
    export_dictionary_learning(model, tmp_path / "dl")
    document = json.loads((tmp_path / "dl" / "config.json").read_text())
    assert document["dict_class"] == "CrossCoder"
    from safetensors.torch import load_file

    tensors = load_file(str(tmp_path / "dl" / "model.safetensors"))
    assert tensors["encoder.weight"].shape == (2, 6, 16)
    assert tensors["decoder.weight"].shape == (2, 16, 6)
    assert tensors["decoder.bias"].shape == (2, 6)
    x_a, x_b = _data()
    if normalisation != "none":
        want = _dl_encode(tensors, x_a, x_b, document["keep_relative_variance"])
        torch.testing.assert_close(model.encode(x_a, x_b), want, rtol=1e-4, atol=1e-5)
    again = import_dictionary_learning(tmp_path / "dl")
    torch.testing.assert_close(again.encode(x_a, x_b), model.encode(x_a, x_b))
    codes = model.encode(x_a, x_b)
    for got, want in zip(again.decode(codes), model.decode(codes), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_dictionary_learning_batchtopk_keeps_k_and_threshold(tmp_path: Path) -> None:
    model = _model("batchtopk", partition=None)
    export_dictionary_learning(model, tmp_path / "dl")
    again = import_dictionary_learning(tmp_path / "dl")
    assert again.config.sparsity == "batchtopk" and again.config.k == 3
    assert float(again.threshold) == pytest.approx(0.05)
    x_a, x_b = _data()
    torch.testing.assert_close(again.encode(x_a, x_b), model.encode(x_a, x_b))
    with pytest.raises(CrossdiffError, match="dictionary_learning"):
        export_dictionary_learning(_model("topk"), tmp_path / "no")
