"""Writing and reading an analysis directory.

    features.safetensors   every numeric per-feature array, named "<part>.<field>"
    features.json          string columns, scalars, and one readable record per feature
    ranking.json           the candidate rankings (all / a_exclusive / shared / b_exclusive)
    examples.json          rendered max-activating examples of the ranked features
    manifest.json          inputs' hashes, config, versions, fingerprint (written last)
The directory is built in a temporary sibling and renamed into place.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from crossdiff.analysis.examples import ActivatingExample
from crossdiff.analysis.firing import FiringStats
from crossdiff.analysis.geometry import DecoderGeometry
from crossdiff.analysis.latent_scaling import LatentScaling
from crossdiff.analysis.pipeline import AnalysisResult
from crossdiff.analysis.ranking import BehaviourScores, Ranking, candidate_mask, finite_or_none
from crossdiff.analysis.template import TemplateFlags
from crossdiff.analysis.topk import TopActivations
from crossdiff.errors import CrossdiffError
from crossdiff.files import atomic_output_dir, read_json, write_json_atomic

FORMAT = "crossdiff-analysis"
FORMAT_VERSION = 1
FILES = ("features.safetensors", "features.json", "ranking.json", "examples.json", "manifest.json")
_PARTS: dict[str, type] = {
    "geometry": DecoderGeometry,
    "firing": FiringStats,
    "latent_scaling": LatentScaling,
    "behaviour": BehaviourScores,
    "template": TemplateFlags,
    "top": TopActivations,
}


def _split_part(name: str, value: Any) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Numeric arrays -> tensors; string/object arrays and scalars -> JSON values."""
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, Any] = {}
    for field in dataclasses.fields(value):
        item = getattr(value, field.name)
        key = f"{name}.{field.name}"
        if isinstance(item, np.ndarray) and item.dtype != object:
            tensors[key] = torch.from_numpy(np.ascontiguousarray(item))
        elif isinstance(item, np.ndarray):
            plain[key] = item.tolist()
        else:
            plain[key] = list(item) if isinstance(item, tuple) else item
    return tensors, plain


def _join_part(name: str, kind: type, tensors: dict[str, torch.Tensor], plain: dict) -> Any:
    values = {}
    for field in dataclasses.fields(kind):
        key = f"{name}.{field.name}"
        if key in tensors:
            values[field.name] = tensors[key].numpy()
        elif (
            key in plain
            and isinstance(plain[key], list)
            and not str(field.type).startswith("tuple")
        ):
            values[field.name] = np.array(plain[key], dtype=object)
        elif key in plain:
            item = plain[key]
            values[field.name] = tuple(item) if isinstance(item, list) else item
        else:
            raise CrossdiffError(f"analysis files lack '{key}': the directory is damaged or old")
    return kind(**values)


def feature_records(result: AnalysisResult) -> list[dict[str, Any]]:
    """One JSON-ready dict per feature with its headline numbers."""
    g, f, ls, b, t = (
        result.geometry,
        result.firing,
        result.latent_scaling,
        result.behaviour,
        result.template,
    )
    ranking = result.ranking
    candidates = candidate_mask(
        b, float(ranking.criteria["min_tool_rate"]), float(ranking.criteria["max_general_rate"])
    )
    num = finite_or_none
    records = []
    for i in range(result.dict_size):
        records.append(
            {
                "feature": i,
                "partition": str(g.partition[i]),
                "norm_class": str(g.norm_class[i]),
                "decoder_norm_a": num(g.norm_a[i]),
                "decoder_norm_b": num(g.norm_b[i]),
                "relative_norm": num(g.relative_norm[i]),
                "decoder_cosine": num(g.cosine[i]),
                "firing_rate": {s: num(f.rate[k, i]) for k, s in enumerate(f.sources)},
                "mean_activation": {s: num(f.mean[k, i]) for k, s in enumerate(f.sources)},
                "max_activation": num(f.max_activation[i]),
                "latent_scaling": {
                    "owner": str(ls.owner[i]),
                    "beta_error": [num(ls.beta_error[0, i]), num(ls.beta_error[1, i])],
                    "beta_reconstruction": [
                        num(ls.beta_reconstruction[0, i]),
                        num(ls.beta_reconstruction[1, i]),
                    ],
                    "nu_error": num(ls.nu_error[i]),
                    "nu_reconstruction": num(ls.nu_reconstruction[i]),
                    "looks_exclusive_only": result.looks_exclusive_only[i],
                },
                "cohens_d": num(b.cohens_d[i]),
                "auroc": num(b.auroc[i]),
                "rate_tool": num(b.rate_tool[i]),
                "rate_general": num(b.rate_general[i]),
                "candidate": bool(candidates[i]),
                "template_detector": t.flag[i],
                "template_share": num(t.share[i]),
                "template_ngram": t.ngram[i].tolist(),
            }
        )
    return records


def _json_safe(value: Any) -> Any:
    """Replace non-finite floats (which JSON cannot hold) by None, recursively."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def save_analysis(
    result: AnalysisResult, path: str | os.PathLike[str], manifest: dict[str, Any], force: bool
) -> None:
    """Write `result` as an analysis directory at `path`, atomically; manifest.json last."""
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, Any] = {}
    for name in _PARTS:
        part_tensors, part_plain = _split_part(name, getattr(result, name))
        tensors.update(part_tensors)
        plain.update(part_plain)
    plain["looks_exclusive_only"] = result.looks_exclusive_only.tolist()
    with atomic_output_dir(path, force=force) as staging:
        save_file(tensors, str(staging / "features.safetensors"))
        features = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "dict_size": result.dict_size,
            "info": result.info,
            "columns": _json_safe(plain),
            "features": _json_safe(feature_records(result)),
        }
        write_json_atomic(staging / "features.json", features)
        write_json_atomic(staging / "ranking.json", _json_safe(result.ranking.to_dict()))
        examples = {str(k): [e.to_dict() for e in v] for k, v in result.examples.items()}
        write_json_atomic(staging / "examples.json", examples)
        write_json_atomic(staging / "manifest.json", {"format": FORMAT, **manifest})


def load_analysis(path: str | os.PathLike[str]) -> AnalysisResult:
    """Read an analysis directory written by `save_analysis`."""
    directory = Path(path)
    manifest = read_json(directory / "manifest.json", "analysis manifest")
    if manifest.get("format") != FORMAT:
        raise CrossdiffError(f"{directory / 'manifest.json'}: not a crossdiff analysis directory")
    features = read_json(directory / "features.json", "analysis features")
    if features.get("format_version", 0) > FORMAT_VERSION:
        raise CrossdiffError(f"{directory}: written by a newer crossdiff; upgrade crossdiff")
    tensors = load_file(str(directory / "features.safetensors"))
    plain = features["columns"]
    parts = {name: _join_part(name, kind, tensors, plain) for name, kind in _PARTS.items()}
    examples = {
        int(k): [ActivatingExample(**e) for e in v]
        for k, v in read_json(directory / "examples.json", "analysis examples").items()
    }
    return AnalysisResult(
        looks_exclusive_only=np.array(plain["looks_exclusive_only"], dtype=object),
        ranking=Ranking.from_dict(read_json(directory / "ranking.json", "analysis ranking")),
        examples=examples,
        info=features["info"],
        **parts,
    )
