"""`crossdiff analyze` end to end: a real tiny store (collected from two tiny models) and a real
crosscoder trained on it for a few steps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from crossdiff.activations.collect import CollectConfig, collect
from crossdiff.activations.sources import SourceSpec
from crossdiff.activations.store import ActivationStore
from crossdiff.analysis import AnalysisConfig, analyze_store, load_analysis, run_analysis
from crossdiff.cli import app
from crossdiff.crosscoder import CrosscoderConfig, RunConfig, TrainConfig
from crossdiff.crosscoder.checkpoint import load_crosscoder
from crossdiff.crosscoder.trainer import train_crosscoder
from crossdiff.errors import CrossdiffError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store_dir(tiny_pair_dirs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    model_a, model_b = tiny_pair_dirs
    out = tmp_path_factory.mktemp("analysis_store") / "store"
    config = CollectConfig(
        model_a=str(model_a),
        model_b=str(model_b),
        hook_point="resid_post.1",
        sources=[
            SourceSpec(kind="tool_prompts", split="dev", count=12),
            SourceSpec(kind="general", split="train", count=12),
        ],
        positions="all",
        max_length=40,
        batch_size=8,
        shard_size=200,
    )
    collect(config, out, show_progress=False)
    return out


@pytest.fixture(scope="module")
def crosscoder_dir(store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = ActivationStore(store_dir)
    run = RunConfig(
        crosscoder=CrosscoderConfig(
            widths=store.widths,
            dict_size=64,
            sparsity="topk",
            k=6,
            partition=(0.1, 0.1),
            dead_after_tokens=256,
        ),
        train=TrainConfig(steps=40, batch_size=64, lr=3e-3, log_every=20),
    )
    out = tmp_path_factory.mktemp("analysis_cc") / "run"
    train_crosscoder(run, store, out, show_progress=False)
    return out / "crosscoder"


def test_analysis_of_a_real_store(store_dir: Path, crosscoder_dir: Path) -> None:
    store = ActivationStore(store_dir)
    crosscoder = load_crosscoder(crosscoder_dir)
    config = AnalysisConfig(batch_size=50, min_tool_rate=0.0, max_general_rate=1.0)
    result = analyze_store(crosscoder, store, config, show_progress=False)
    size = crosscoder.config.dict_size
    assert result.dict_size == size
    assert result.info["tool_texts"] == 12 and result.info["general_texts"] == 12
    assert result.geometry.partition[:6].tolist() == ["a_exclusive"] * 6
    # The DFC masks: A-exclusive decoders write nothing into B.
    assert (result.geometry.norm_b[:6] == 0).all() and (
        result.geometry.relative_norm[:6] == 1
    ).all()
    # Firing rates equal a direct computation on all codes.
    x_a, x_b = store.load_all()
    codes = crosscoder.encode(x_a, x_b).double().numpy()
    sources = [row["source"] for row in store.rows()]
    for k, source in enumerate(result.firing.sources):
        mask = np.array([s == source for s in sources])
        np.testing.assert_allclose(result.firing.rate[k], (codes[mask] > 0.1).mean(axis=0))
        np.testing.assert_allclose(result.firing.mean[k], codes[mask].mean(axis=0), atol=1e-6)
    # The top row of each fired feature holds its maximum over the store (ties are common: the
    # tool prompts share their first tokens).
    fired = codes.max(axis=0) > 0
    top_rows = result.top.rows[fired, 0]
    np.testing.assert_allclose(codes[top_rows, np.flatnonzero(fired)], codes.max(axis=0)[fired])
    np.testing.assert_allclose(result.top.values[fired, 0], codes.max(axis=0)[fired], rtol=1e-6)
    # With the filter open every feature is a candidate, ranked by d.
    assert result.ranking.num_candidates == size
    ds = [e.cohens_d for e in result.ranking.scopes["all"] if e.cohens_d is not None]
    assert ds == sorted(ds, reverse=True)
    assert result.examples and all(
        "⟦" in ex.rendered for examples in result.examples.values() for ex in examples
    )


def test_cli_writes_files_skips_when_unchanged_and_round_trips(
    store_dir: Path, crosscoder_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "analysis"
    runner = CliRunner()
    args = ["analyze", "--crosscoder", str(crosscoder_dir), "--store", str(store_dir)]
    first = runner.invoke(app, [*args, "--out", str(out), "--quiet"])
    assert first.exit_code == 0, first.output
    assert "candidates" in first.output
    for name in ("features.safetensors", "features.json", "ranking.json", "examples.json"):
        assert (out / name).is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["inputs"]["sha256"]) == {
        "crosscoder_config",
        "crosscoder_weights",
        "store_manifest",
        "store_texts",
    }
    assert manifest["rendering"].startswith("tokenizer ")
    features = json.loads((out / "features.json").read_text())
    assert len(features["features"]) == 64
    assert {"relative_norm", "latent_scaling", "cohens_d", "template_detector"} <= set(
        features["features"][0]
    )
    second = runner.invoke(app, [*args, "--out", str(out), "--quiet"])
    assert second.exit_code == 0 and "up to date" in second.output
    loaded = load_analysis(out)
    fresh = run_analysis(crosscoder_dir, store_dir, tmp_path / "again", show_progress=False)
    assert not fresh.skipped
    np.testing.assert_array_equal(loaded.top.rows, load_analysis(fresh.out).top.rows)
    assert loaded.ranking == load_analysis(fresh.out).ranking
    # Same inputs, same numbers: every per-feature array is identical (NaN where undefined).
    first_arrays = load_file(str(out / "features.safetensors"))
    again_arrays = load_file(str(fresh.out / "features.safetensors"))
    assert set(first_arrays) == set(again_arrays) and "latent_scaling.beta_error" in first_arrays
    for name, array in first_arrays.items():
        torch.testing.assert_close(array, again_arrays[name], rtol=0, atol=0, equal_nan=True)
    assert (
        loaded.geometry.partition.tolist() == load_analysis(fresh.out).geometry.partition.tolist()
    )


def test_changed_config_recomputes_and_foreign_dirs_are_refused(
    store_dir: Path, crosscoder_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "analysis"
    run_analysis(crosscoder_dir, store_dir, out, show_progress=False)
    again = run_analysis(
        crosscoder_dir, store_dir, out, AnalysisConfig(min_tool_rate=0.5), show_progress=False
    )
    assert not again.skipped
    assert json.loads((out / "ranking.json").read_text())["criteria"]["min_tool_rate"] == 0.5
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(CrossdiffError, match="--force"):
        run_analysis(crosscoder_dir, store_dir, foreign, show_progress=False)
    assert (foreign / "notes.txt").read_text() == "mine"


def test_bad_inputs_are_one_line_errors(store_dir: Path, crosscoder_dir: Path, tmp_path: Path):
    with pytest.raises(CrossdiffError, match="ranking needs at least 2"):
        run_analysis(
            crosscoder_dir,
            store_dir,
            tmp_path / "a",
            AnalysisConfig(tool_sources=("jsonl",)),
            show_progress=False,
        )
    with pytest.raises(CrossdiffError, match="not found"):
        run_analysis(tmp_path / "missing", store_dir, tmp_path / "b", show_progress=False)
