"""Prompt suites for evaluation: a built-in split (`test40`, `test`, `dev`) or a JSONL file."""

from __future__ import annotations

from pathlib import Path

from crossdiff.errors import CrossdiffError
from crossdiff.world import ToolPrompt, load_prompts_jsonl, load_split

BUILTIN_SUITES = ("test40", "test", "dev")


def load_suite(suite: str, seed: int = 0, limit: int | None = None) -> list[ToolPrompt]:
    """Load a built-in suite by name, or a JSONL prompt file by path (validated line by line).

    `limit` keeps only the first prompts (for quick runs). Every problem is a CrossdiffError
    raised here, before any model is run.
    """
    if limit is not None and limit < 1:
        raise CrossdiffError(f"--limit must be >= 1, got {limit}")
    if suite in BUILTIN_SUITES:
        prompts = load_split(suite, seed=seed)
    else:
        path = Path(suite)
        if not path.exists():
            raise CrossdiffError(
                f"suite {suite!r} is neither a built-in suite {BUILTIN_SUITES} nor an existing "
                "JSONL file: give one of the names or a path to a prompt file"
            )
        if path.is_dir():
            raise CrossdiffError(f"suite {suite!r} is a directory: give a JSONL prompt file")
        prompts = load_prompts_jsonl(path)
    return prompts[:limit] if limit is not None else prompts
