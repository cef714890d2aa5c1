"""Load the two models to compare (A = tuned, B = base) and check that they share a tokenizer."""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)

from crossdiff.errors import CrossdiffError

TOKENIZER_FILE = "tokenizer.json"
# the parts of tokenizer.json that decide how text is cut into tokens
SPLITTING_KEYS = ("normalizer", "pre_tokenizer", "model")

TORCH_DTYPES: dict[str, torch.dtype] = {
    "fp32": torch.float32,
    "float32": torch.float32,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp16": torch.float16,
    "float16": torch.float16,
}


@dataclass
class ModelPair:
    """Model A (the tuned model), model B (the base model) and their one shared tokenizer."""

    model_a: PreTrainedModel
    model_b: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    name_a: str
    name_b: str


def parse_dtype(dtype: str, field: str = "--dtype") -> torch.dtype:
    """Map 'fp32' | 'bf16' | 'fp16' (or the long names) to a torch dtype."""
    try:
        return TORCH_DTYPES[dtype.lower()]
    except KeyError:
        raise CrossdiffError(f"{field} must be one of fp32, bf16, fp16, got '{dtype}'") from None


def _looks_like_local_path(name: str) -> bool:
    """Hub ids look like 'org/name'; anything else (absolute, ./x, a/b/c, x) is a local path."""
    return os.path.isabs(name) or name.startswith((".", "~")) or name.count("/") != 1


def _resolve_source(name: str, role: str) -> str:
    """Return a local directory or a hub id for `name`, or raise naming what is missing."""
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise CrossdiffError(
                f"{role} directory {path} has no config.json: point it at a directory written "
                "by save_pretrained"
            )
        return str(path)
    if path.exists():
        raise CrossdiffError(f"{role} {path} is a file, expected a save_pretrained directory")
    if _looks_like_local_path(name):
        raise CrossdiffError(
            f"{role} directory not found: {path} (check the path, or give a hub id 'org/name')"
        )
    return name


def load_tokenizer(name: str, role: str = "model") -> PreTrainedTokenizerBase:
    """Load the tokenizer stored with a model directory or hub id, splitting text exactly as
    the directory's `tokenizer.json` does."""
    source = _resolve_source(name, role)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        return _as_written(tokenizer, Path(source) / TOKENIZER_FILE)
    except (OSError, ValueError) as exc:
        raise CrossdiffError(
            f"cannot load the tokenizer of {role} '{name}': {exc}. Save the tokenizer next to "
            "the model (tokenizer.save_pretrained(dir))"
        ) from exc


def _as_written(tokenizer: PreTrainedTokenizerBase, file: Path) -> PreTrainedTokenizerBase:
    """`tokenizer`, or the one `file` describes if `tokenizer` splits text differently.

    transformers 5 loads every checkpoint of some model types (qwen2 among them) with that
    type's own tokenizer class, which rebuilds the normaliser and pre-tokeniser instead of
    reading them from `tokenizer.json`. A model trained with another split (the organism's)
    would then see token sequences it never saw in training.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or not file.is_file():
        return tokenizer
    written = json.loads(file.read_text(encoding="utf-8"))
    loaded = json.loads(backend.to_str())
    if all(written.get(key) == loaded.get(key) for key in SPLITTING_KEYS):
        return tokenizer
    return PreTrainedTokenizerFast.from_pretrained(file.parent)


def load_model(
    name: str,
    dtype: str = "fp32",
    device: str = "cpu",
    device_map: str | None = None,
    role: str = "model",
) -> PreTrainedModel:
    """Load one causal LM in eval mode without gradients, from a local directory or a hub id."""
    source = _resolve_source(name, role)
    torch_dtype = parse_dtype(dtype)
    if device_map is not None and importlib.util.find_spec("accelerate") is None:
        raise CrossdiffError(
            "--device-map needs the 'accelerate' package: pip install accelerate, or use --device"
        )
    try:
        model = AutoModelForCausalLM.from_pretrained(
            source, dtype=torch_dtype, device_map=device_map
        )
    except (OSError, ValueError) as exc:
        raise CrossdiffError(f"cannot load {role} '{name}': {exc}") from exc
    if device_map is None:
        try:
            model = model.to(device)
        except (RuntimeError, AssertionError) as exc:
            raise CrossdiffError(f"cannot move {role} to device '{device}': {exc}") from exc
    model.eval()
    model.requires_grad_(False)
    return model


def _special_tokens(tok: PreTrainedTokenizerBase) -> dict[str, object]:
    return {
        "bos_token": tok.bos_token,
        "eos_token": tok.eos_token,
        "pad_token": tok.pad_token,
        "unk_token": tok.unk_token,
        "all_special_tokens": sorted(tok.all_special_tokens),
    }


def check_same_tokenizer(tok_a: PreTrainedTokenizerBase, tok_b: PreTrainedTokenizerBase) -> None:
    """Raise a CrossdiffError saying what differs unless both tokenizers encode text identically.

    Compared: the vocabulary (token -> id), the special tokens and the chat template.
    """
    problems: list[str] = []
    vocab_a, vocab_b = tok_a.get_vocab(), tok_b.get_vocab()
    if vocab_a != vocab_b:
        only_a = sorted(set(vocab_a) - set(vocab_b))
        only_b = sorted(set(vocab_b) - set(vocab_a))
        moved = sorted(t for t in set(vocab_a) & set(vocab_b) if vocab_a[t] != vocab_b[t])
        problems.append(
            f"vocabulary differs (sizes {len(vocab_a)} vs {len(vocab_b)}; "
            f"{len(only_a)} tokens only in A e.g. {only_a[:3]}, {len(only_b)} only in B e.g. "
            f"{only_b[:3]}, {len(moved)} with different ids e.g. {moved[:3]})"
        )
    special_a, special_b = _special_tokens(tok_a), _special_tokens(tok_b)
    for key in special_a:
        if special_a[key] != special_b[key]:
            problems.append(f"{key} differs ({special_a[key]!r} vs {special_b[key]!r})")
    template_a = getattr(tok_a, "chat_template", None)
    template_b = getattr(tok_b, "chat_template", None)
    if template_a != template_b:
        problems.append(
            "chat template differs"
            + (" (only one model has one)" if (template_a is None) != (template_b is None) else "")
        )
    if problems:
        raise CrossdiffError(
            "model A and model B must share one tokenizer, but: "
            + "; ".join(problems)
            + ". Use two models of the same family (the tuned model and its base)"
        )


def load_model_pair(
    model_a: str,
    model_b: str,
    dtype: str = "fp32",
    device: str = "cpu",
    device_map: str | None = None,
) -> ModelPair:
    """Load model A (tuned) and model B (base) and their shared tokenizer.

    Each name is a local save_pretrained directory or a hub id (when a hub is reachable). The two
    tokenizers must be identical (`check_same_tokenizer`); the widths may differ.
    """
    tok_a = load_tokenizer(model_a, role="model A")
    tok_b = load_tokenizer(model_b, role="model B")
    check_same_tokenizer(tok_a, tok_b)
    return ModelPair(
        model_a=load_model(model_a, dtype, device, device_map, role="model A"),
        model_b=load_model(model_b, dtype, device, device_map, role="model B"),
        tokenizer=tok_a,
        name_a=model_a,
        name_b=model_b,
    )
