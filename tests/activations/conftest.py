"""Fixtures: a tiny pair of random-weight Qwen2 models saved like real ones (no downloads)."""

from __future__ import annotations

from pathlib import Path

import pytest
import transformers

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
def text_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A text file with one text per line (and a blank line, which is skipped)."""
    path = tmp_path_factory.mktemp("texts") / "texts.txt"
    path.write_text("\n".join([*TEXTS[:3], "", *TEXTS[3:]]) + "\n")
    return path
