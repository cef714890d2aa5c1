"""crossdiff's crosscoder checkpoint: a directory with config.json and weights.safetensors.

config.json holds the architecture, the normalisation statistics (for provenance; the applied
mean and scale are buffers in the weights) and free-form metadata. No pickle anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from crossdiff import __version__
from crossdiff.crosscoder.config import CrosscoderConfig, build_config
from crossdiff.crosscoder.model import Crosscoder
from crossdiff.errors import CrossdiffError
from crossdiff.files import atomic_output_dir, read_json, write_json_atomic
from crossdiff.normstats import NormStats

FORMAT = "crossdiff-crosscoder"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"


def write_crosscoder_files(model: Crosscoder, directory: Path, metadata: dict | None) -> None:
    """Write config.json and weights.safetensors into an existing directory."""
    stats = None
    if model.stats is not None:
        stats = {"A": model.stats[0].to_dict(), "B": model.stats[1].to_dict()}
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "crossdiff_version": __version__,
        "config": model.config.model_dump(mode="json"),
        "normalisation_stats": stats,
        "metadata": metadata or {},
    }
    tensors = {name: t.detach().contiguous().cpu() for name, t in model.state_dict().items()}
    save_file(tensors, str(directory / WEIGHTS_FILE))
    write_json_atomic(directory / CONFIG_FILE, document)


def save_crosscoder(
    model: Crosscoder, path: str | os.PathLike[str], metadata: dict | None = None
) -> None:
    """Save `model` as a checkpoint directory at `path`, atomically (replacing it if present)."""
    with atomic_output_dir(path, force=True) as staging:
        write_crosscoder_files(model, staging, metadata)


def read_crosscoder_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed config.json of a checkpoint directory, checked for format."""
    directory = Path(path)
    document = read_json(directory / CONFIG_FILE, what="crosscoder config")
    if document.get("format") != FORMAT:
        raise CrossdiffError(
            f"{directory / CONFIG_FILE}: format is {document.get('format')!r}, expected "
            f"{FORMAT!r}; to read the study's or dictionary_learning's layout use "
            "crossdiff.crosscoder.formats"
        )
    if document.get("format_version", 0) > FORMAT_VERSION:
        raise CrossdiffError(
            f"{directory / CONFIG_FILE}: format_version {document['format_version']} is newer "
            f"than this crossdiff understands ({FORMAT_VERSION}): upgrade crossdiff"
        )
    return document


def load_crosscoder(path: str | os.PathLike[str]) -> Crosscoder:
    """Load a checkpoint directory written by `save_crosscoder`."""
    directory = Path(path)
    document = read_crosscoder_config(directory)
    config = build_config(CrosscoderConfig, document["config"], str(directory / CONFIG_FILE))
    model = Crosscoder(config)
    weights_path = directory / WEIGHTS_FILE
    if not weights_path.is_file():
        raise CrossdiffError(f"{weights_path} not found: the checkpoint is incomplete")
    try:
        tensors = load_file(str(weights_path))
    except (SafetensorError, OSError) as exc:
        raise CrossdiffError(f"{weights_path}: not a readable safetensors file ({exc})") from exc
    expected = set(model.state_dict())
    if set(tensors) != expected:
        raise CrossdiffError(
            f"{weights_path}: tensors {sorted(set(tensors) ^ expected)} do not match the config's "
            "architecture: the files belong to different checkpoints"
        )
    model.load_state_dict(tensors, strict=True)
    stats = document.get("normalisation_stats")
    if stats is not None:
        model.stats = (NormStats.from_dict(stats["A"]), NormStats.from_dict(stats["B"]))
    model.eval()
    return model


def load_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The free-form metadata stored with a checkpoint."""
    return dict(read_crosscoder_config(path).get("metadata", {}))


def clone_crosscoder(model: Crosscoder) -> Crosscoder:
    """An independent copy of `model` (weights, buffers and statistics)."""
    copy = Crosscoder(model.config)
    copy.load_state_dict({k: v.clone() for k, v in model.state_dict().items()})
    copy.stats = model.stats
    return copy
