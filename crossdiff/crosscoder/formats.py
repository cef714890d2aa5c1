"""Import and export other crosscoder layouts, reading tensors without unpickling.

- The study's layout: W_enc (2, d, D), W_dec (D, 2, d), b_enc (D), b_dec (2, d), plus partition
  sizes. Its released checkpoints carried no normalisation statistics although training used
  z-scored activations, so importing one demands either the statistics or an explicit
  statement that it was trained on raw activations. Exports fold crossdiff's normalisation
  into the weights, so the exported file works on raw activations.
- `dictionary_learning`'s crosscoders (CrossCoder, BatchTopKCrossCoder): config.json with
  `dict_class`, and model.safetensors with encoder.weight (L, d, D), encoder.bias (D),
  decoder.weight (L, D, d), decoder.bias (L, d) and the normalisation buffers activation_mean,
  activation_std (L, d), target_rms, plus k and threshold for BatchTopK.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from crossdiff.crosscoder.config import CrosscoderConfig, SparsityRule, build_config
from crossdiff.crosscoder.model import Crosscoder
from crossdiff.errors import CrossdiffError
from crossdiff.files import atomic_output_dir, read_json, write_json_atomic
from crossdiff.normstats import NormStats

STUDY_WEIGHTS = "weights.safetensors"
DL_WEIGHTS = "model.safetensors"
DL_CLASSES = {"CrossCoder": "relu", "BatchTopKCrossCoder": "batchtopk"}


def read_tensors(path: Path) -> dict[str, Tensor]:
    """Tensors of a .safetensors file, or of a .pt/.bin file loaded with weights_only=True."""
    if not path.is_file():
        raise CrossdiffError(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            return load_file(str(path))
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise CrossdiffError(f"{path}: cannot read tensors ({exc})") from exc
    if not isinstance(loaded, dict):
        raise CrossdiffError(f"{path}: expected a dict of tensors (a state dict)")
    return {str(k): v for k, v in loaded.items() if isinstance(v, Tensor)}


def _need(tensors: dict[str, Tensor], name: str, shape: tuple[int, ...], source: Path) -> Tensor:
    if name not in tensors:
        raise CrossdiffError(f"{source}: missing tensor {name!r} (found {sorted(tensors)})")
    tensor = tensors[name].float()
    if tuple(tensor.shape) != shape:
        raise CrossdiffError(
            f"{source}: tensor {name!r} has shape {tuple(tensor.shape)}, expected {shape}"
        )
    return tensor


@torch.no_grad()
def _set_weights(
    model: Crosscoder, W_enc_Dd: Tensor, b_enc_D: Tensor, W_dec_Dd: Tensor, b_dec_d: Tensor
) -> None:
    model.W_enc_Dd.copy_(W_enc_Dd)
    model.b_enc_D.copy_(b_enc_D)
    model.W_dec_Dd.copy_(W_dec_Dd)
    model.b_dec_d.copy_(b_dec_d)


@torch.no_grad()
def _set_mean_scale(model: Crosscoder, mean_d: Tensor, scale_d: Tensor) -> None:
    model.norm_mean_d.copy_(mean_d)
    model.norm_scale_d.copy_(scale_d)
    model.has_stats.fill_(True)


@torch.no_grad()
def folded_weights(model: Crosscoder) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(W_enc_Dd, b_enc_D, W_dec_Dd, b_dec_d) acting on raw activations, normalisation folded in.

    pre = W (x − μ)/s + b = (W/s) x + (b − W μ/s); x̂ = s (W_dec f + b_dec) + μ.
    """
    mean, scale = model.norm_mean_d, model.norm_scale_d
    W_enc = model.W_enc_Dd / scale
    b_enc = model.b_enc_D - W_enc @ mean
    return W_enc, b_enc, model.W_dec_Dd * scale, model.b_dec_d * scale + mean


# ----- the study's layout -------------------------------------------------------------------
def export_study(model: Crosscoder, path: str | os.PathLike[str]) -> None:
    """Write the study's layout: weights.safetensors + config.json, normalisation folded in."""
    d_a, d_b = model.config.widths
    if d_a != d_b:
        raise CrossdiffError(
            f"the study's layout needs equal widths, this crosscoder has {d_a}, {d_b}"
        )
    size = model.config.dict_size
    W_enc, b_enc, W_dec, b_dec = folded_weights(model)
    tensors = {
        "W_enc": W_enc.t().reshape(2, d_a, size).contiguous(),
        "W_dec": W_dec.reshape(size, 2, d_a).contiguous(),
        "b_enc": b_enc.contiguous(),
        "b_dec": b_dec.reshape(2, d_a).contiguous(),
    }
    n_a, n_b = model.config.partition_sizes
    info = {
        "layout": "study",
        "dict_size": size,
        "d_model": d_a,
        "k": model.config.k,
        "sparsity": model.config.sparsity,
        "n_a_exclusive": n_a,
        "n_b_exclusive": n_b,
        "normalisation_folded": True,
        "batchtopk_threshold": float(model.threshold),
    }
    with atomic_output_dir(path, force=True) as staging:
        save_file(tensors, str(staging / STUDY_WEIGHTS))
        write_json_atomic(staging / "config.json", info)


def import_study(
    path: str | os.PathLike[str],
    *,
    k: int | None = None,
    sparsity: SparsityRule | None = None,
    partition_sizes: tuple[int, int] | None = None,
    stats: tuple[NormStats, NormStats] | None = None,
    trained_on_raw: bool = False,
) -> Crosscoder:
    """Read the study's layout from a directory (weights.safetensors or a .pt state dict, with
    an optional config.json) or from a single weights file.

    Arguments override config.json. Without folded normalisation in config.json, pass the
    per-channel `stats` the crosscoder was trained with, or `trained_on_raw=True`.
    """
    source = Path(path)
    info: dict[str, Any] = {}
    weights = source
    if source.is_dir():
        if (source / "config.json").is_file():
            info = read_json(source / "config.json", "study crosscoder config")
        candidates = [source / STUDY_WEIGHTS, *sorted(source.glob("*.pt"))]
        weights = next((p for p in candidates if p.is_file()), source / STUDY_WEIGHTS)
    tensors = read_tensors(weights)
    if "W_enc" not in tensors or tensors["W_enc"].ndim != 3:
        raise CrossdiffError(f"{weights}: expected W_enc of shape (2, d, D)")
    _, width, size = tensors["W_enc"].shape
    W_enc = _need(tensors, "W_enc", (2, width, size), weights)
    W_dec = _need(tensors, "W_dec", (size, 2, width), weights)
    b_enc = _need(tensors, "b_enc", (size,), weights)
    b_dec = _need(tensors, "b_dec", (2, width), weights)
    sizes = partition_sizes or (
        int(info.get("n_a_exclusive", 0)),
        int(info.get("n_b_exclusive", 0)),
    )
    folded = bool(info.get("normalisation_folded", False))
    if stats is None and not (trained_on_raw or folded):
        raise CrossdiffError(
            f"{source}: the study's checkpoints carry no normalisation statistics but were "
            "trained on per-channel z-scored activations: pass stats=(stats_A, stats_B) of the "
            "training activations, or trained_on_raw=True if it really saw raw activations"
        )
    values = {
        "widths": (width, width),
        "dict_size": size,
        "sparsity": sparsity or info.get("sparsity", "topk"),
        "k": k or int(info.get("k", 32)),
        "partition": (sizes[0] / size, sizes[1] / size) if any(sizes) else None,
        "normalisation": "per_channel" if stats is not None else "none",
    }
    model = Crosscoder(build_config(CrosscoderConfig, values, str(source)), stats)
    if model.config.partition_sizes != tuple(sizes):
        raise CrossdiffError(f"{source}: partition sizes {sizes} cannot be represented")
    _set_weights(
        model, W_enc.reshape(2 * width, size).t(), b_enc, W_dec.reshape(size, -1), b_dec.reshape(-1)
    )
    if info.get("batchtopk_threshold") is not None:
        model.threshold.fill_(float(info["batchtopk_threshold"]))
    return model.eval()


# ----- dictionary_learning's layout ---------------------------------------------------------
def export_dictionary_learning(model: Crosscoder, path: str | os.PathLike[str]) -> None:
    """Write dictionary_learning's CrossCoder / BatchTopKCrossCoder directory layout."""
    config = model.config
    classes = {rule: name for name, rule in DL_CLASSES.items()}
    if config.sparsity not in classes or config.widths[0] != config.widths[1]:
        raise CrossdiffError(
            "dictionary_learning's crosscoders need sparsity relu or batchtopk and equal widths; "
            f"this one is {config.sparsity} with widths {config.widths}"
        )
    width, size = config.widths[0], config.dict_size
    mean = model.norm_mean_d.reshape(2, width)
    scale = model.norm_scale_d.reshape(2, width)
    tensors = {
        "encoder.weight": model.W_enc_Dd.detach().t().reshape(2, width, size).contiguous(),
        "encoder.bias": model.b_enc_D.detach().clone(),
        "decoder.weight": model.W_dec_Dd.detach()
        .reshape(size, 2, width)
        .transpose(0, 1)
        .contiguous(),
        "decoder.bias": model.b_dec_d.detach().reshape(2, width).contiguous(),
    }
    keep_relative = config.normalisation == "scalar"
    if config.normalisation == "none":
        tensors["activation_mean"] = torch.full((2, width), math.nan)
        tensors["activation_std"] = torch.full((2, width), math.nan)
    else:
        # per channel: x / std; scalar: x · target_rms / sqrt(Σ std²) = x / scale with
        # std = scale and target_rms = sqrt(d).
        tensors["activation_mean"] = mean.clone()
        tensors["activation_std"] = scale.clone()
    tensors["target_rms"] = torch.tensor(math.sqrt(width))
    if config.sparsity == "batchtopk":
        tensors["k"] = torch.tensor(config.k, dtype=torch.int32)
        tensors["threshold"] = model.threshold.detach().clone()
    document = {
        "dict_class": classes[config.sparsity],
        "activation_dim": width,
        "dict_size": size,
        "num_layers": 2,
        "keep_relative_variance": keep_relative,
        "target_rms": math.sqrt(width),
        "crossdiff_partition_sizes": list(config.partition_sizes),
    }
    if config.sparsity == "batchtopk":
        document["k"] = config.k
    with atomic_output_dir(path, force=True) as staging:
        save_file(tensors, str(staging / DL_WEIGHTS))
        write_json_atomic(staging / "config.json", document)


def import_dictionary_learning(path: str | os.PathLike[str]) -> Crosscoder:
    """Read a dictionary_learning crosscoder directory (config.json + model.safetensors)."""
    source = Path(path)
    info = read_json(source / "config.json", "dictionary_learning config")
    name = info.get("dict_class")
    if name not in DL_CLASSES:
        raise CrossdiffError(
            f"{source / 'config.json'}: dict_class {name!r} is not a supported crosscoder "
            f"({sorted(DL_CLASSES)})"
        )
    weights = next(
        (p for p in (source / DL_WEIGHTS, *sorted(source.glob("*.pt"))) if p.is_file()),
        source / DL_WEIGHTS,
    )
    tensors = read_tensors(weights)
    layers = int(info.get("num_layers", info.get("num_encoder_layers", 2)))
    width, size = int(info["activation_dim"]), int(info["dict_size"])
    if layers != 2:
        raise CrossdiffError(f"{source}: num_layers = {layers}; a model diff needs exactly 2")
    W_enc = _need(tensors, "encoder.weight", (2, width, size), weights)
    b_enc = _need(tensors, "encoder.bias", (size,), weights)
    W_dec = _need(tensors, "decoder.weight", (2, size, width), weights)
    b_dec = _need(tensors, "decoder.bias", (2, width), weights)
    mean = tensors.get("activation_mean")
    has_norm = mean is not None and not bool(torch.isnan(mean).any())
    keep_relative = bool(info.get("keep_relative_variance", True))
    mode = ("scalar" if keep_relative else "per_channel") if has_norm else "none"
    sizes = info.get("crossdiff_partition_sizes", [0, 0])
    k = int(tensors["k"]) if "k" in tensors else int(info.get("k", 32))
    values = {
        "widths": (width, width),
        "dict_size": size,
        "sparsity": DL_CLASSES[name],
        "k": k,
        "partition": (sizes[0] / size, sizes[1] / size) if any(sizes) else None,
        "normalisation": mode,
    }
    model = Crosscoder(build_config(CrosscoderConfig, values, str(source / "config.json")))
    _set_weights(
        model,
        W_enc.reshape(2 * width, size).t(),
        b_enc,
        W_dec.transpose(0, 1).reshape(size, 2 * width),
        b_dec.reshape(-1),
    )
    if has_norm:
        std = _need(tensors, "activation_std", (2, width), weights)
        if keep_relative:
            target = float(tensors.get("target_rms", torch.tensor(1.0)))
            scale = std.pow(2).sum(dim=1).add(1e-8).sqrt() / target  # 1 / global scale
            scale_d = scale[:, None].expand(2, width).reshape(-1)
        else:
            scale_d = (std + 1e-8).reshape(-1)
        _set_mean_scale(model, mean.float().reshape(-1), scale_d)
    if "threshold" in tensors and tensors["threshold"].numel() == 1:
        model.threshold.fill_(float(tensors["threshold"]))
    return model.eval()
