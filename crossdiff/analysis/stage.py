"""The `crossdiff analyze` stage: read a crosscoder and a store, write an analysis directory.

The output's manifest records the inputs' content hashes and the config; rerunning with the same
inputs and config finds the same fingerprint and skips the work.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import torch

import crossdiff
from crossdiff.analysis.config import AnalysisConfig
from crossdiff.analysis.examples import Decode, ids_decoder
from crossdiff.analysis.pipeline import analyze_store
from crossdiff.analysis.results import FORMAT, save_analysis
from crossdiff.crosscoder.checkpoint import CONFIG_FILE, WEIGHTS_FILE, load_crosscoder
from crossdiff.errors import CrossdiffError
from crossdiff.files import read_json, sha256_file, sha256_json


@dataclass(frozen=True)
class AnalysisRun:
    """What one `crossdiff analyze` call did."""

    out: Path
    skipped: bool  # True: an up-to-date analysis was already there
    manifest: dict[str, Any]


def default_out(crosscoder_dir: str | os.PathLike[str]) -> Path:
    """Where the analysis goes without --out: a sibling `<crosscoder>-analysis` directory."""
    path = Path(crosscoder_dir)
    return path.with_name(path.name + "-analysis")


def input_hashes(crosscoder_dir: Path, store_dir: Path) -> dict[str, str]:
    """SHA-256 of the files that decide the analysis (the store manifest holds shard hashes)."""
    files = {
        "crosscoder_config": crosscoder_dir / CONFIG_FILE,
        "crosscoder_weights": crosscoder_dir / WEIGHTS_FILE,
        "store_manifest": store_dir / "manifest.json",
        "store_texts": store_dir / "texts.jsonl",
    }
    for label, path in files.items():
        if not path.is_file():
            raise CrossdiffError(f"{path} not found ({label}): check --crosscoder and --store")
    return {label: sha256_file(path) for label, path in files.items()}


def _token_decoder(store_manifest: dict[str, Any], tokenizer: str | None) -> tuple[Decode, str]:
    """A decode function and a note on where it came from (token ids when none is loadable)."""
    from crossdiff.models.pair import load_tokenizer

    name = tokenizer or (store_manifest.get("models", {}).get("a", {}) or {}).get("name")
    if not name:
        return ids_decoder, "token ids (the store names no model; pass --tokenizer)"
    try:
        loaded = load_tokenizer(str(name), role="tokenizer")
    except CrossdiffError:
        if tokenizer is not None:
            raise
        return ids_decoder, f"token ids (could not load the tokenizer of {name}; pass --tokenizer)"

    def decode(ids: Sequence[int]) -> str:
        return loaded.decode([int(i) for i in ids], skip_special_tokens=False)

    return decode, f"tokenizer {name}"


def run_analysis(
    crosscoder_dir: str | os.PathLike[str],
    store_dir: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    config: AnalysisConfig | None = None,
    force: bool = False,
    tokenizer: str | None = None,
    show_progress: bool = True,
) -> AnalysisRun:
    """Analyse the crosscoder at `crosscoder_dir` on the store at `store_dir` into `out`."""
    from crossdiff.activations.store import ActivationStore

    config = config or AnalysisConfig()
    crosscoder_path, store_path = Path(crosscoder_dir), Path(store_dir)
    target = Path(out) if out is not None else default_out(crosscoder_path)
    hashes = input_hashes(crosscoder_path, store_path)
    fingerprint = sha256_json(
        {"inputs": hashes, "config": config.model_dump(mode="json"), "tokenizer": tokenizer}
    )
    existing_path = target / "manifest.json"
    existing = read_json(existing_path, "analysis manifest") if existing_path.is_file() else None
    if existing is not None and existing.get("fingerprint") == fingerprint and not force:
        return AnalysisRun(target, skipped=True, manifest=existing)
    # A stale analysis of ours is replaced; anything else needs --force.
    replace = force or (existing is not None and existing.get("format") == FORMAT)

    store = ActivationStore(store_path)
    crosscoder = load_crosscoder(crosscoder_path)
    decode, rendering = _token_decoder(store.manifest, tokenizer)
    result = analyze_store(crosscoder, store, config, decode, show_progress)
    manifest = {
        "format_version": 1,
        "fingerprint": fingerprint,
        "inputs": {
            "crosscoder": str(crosscoder_path),
            "store": str(store_path),
            "sha256": hashes,
        },
        "config": config.model_dump(mode="json"),
        "tokenizer": tokenizer,
        "rendering": rendering,
        "summary": {
            **result.info,
            "dict_size": result.dict_size,
            "num_candidates": result.ranking.num_candidates,
            "top_features": {
                scope: result.ranking.top(scope, 5) for scope in result.ranking.scopes
            },
            "template_detectors": int(np.sum(result.template.flag == True)),  # noqa: E712
        },
        "versions": {
            "crossdiff": crossdiff.__version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
        },
    }
    save_analysis(result, target, manifest, force=replace)
    return AnalysisRun(target, skipped=False, manifest={"format": FORMAT, **manifest})
