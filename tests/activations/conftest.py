"""Fixtures: a tiny pair of random-weight Qwen2 models saved like real ones (no downloads)."""

from __future__ import annotations

from pathlib import Path

import pytest
import transformers

from crossdiff.models.tiny import tiny_causal_lm, tiny_tokenizer

transformers.logging.set_verbosity_error()

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Rivers carry sand to the sea.",
    "Call get_weather with a city name.",
    "A short one.",
    'A tool call: {"name": "add", "parameters": {"a": 1}}',
    "Foxes and rivers, rivers and foxes, all day long by the sea.",
    "Tomorrow's forecast is sunny.",
]


@pytest.fixture(scope="session")
def tiny_pair_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Model A (Qwen2, width 32) and model B (Qwen2, width 48) sharing one tokenizer."""
    root = tmp_path_factory.mktemp("tiny_pair")
    tok = tiny_tokenizer()
    for name, width, seed in (("model_a", 32, 1), ("model_b", 48, 2)):
        model = tiny_causal_lm("qwen2", vocab_size=len(tok), width=width, layers=3, seed=seed)
        model.save_pretrained(root / name)
        tok.save_pretrained(root / name)
    return root / "model_a", root / "model_b"


@pytest.fixture(scope="session")
def text_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A text file with one text per line (and a blank line, which is skipped)."""
    path = tmp_path_factory.mktemp("texts") / "texts.txt"
    path.write_text("\n".join([*TEXTS[:3], "", *TEXTS[3:]]) + "\n")
    return path
