"""Prompt files: one JSON object per line, in the shape of `ToolPrompt.to_dict`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from crossdiff.errors import CrossdiffError
from crossdiff.files import write_bytes_atomic
from crossdiff.world.prompt import ToolPrompt


def save_prompts_jsonl(prompts: Sequence[ToolPrompt], path: str | Path) -> None:
    """Write prompts as JSONL, atomically (temporary file, then rename)."""
    lines = [json.dumps(prompt.to_dict(), ensure_ascii=False) for prompt in prompts]
    try:
        write_bytes_atomic(path, ("\n".join(lines) + "\n" if lines else "").encode())
    except OSError as exc:
        reason = exc.strerror or exc
        raise CrossdiffError(f"cannot write {path}: {reason}; choose a writable path") from None


def load_prompts_jsonl(path: str | Path) -> list[ToolPrompt]:
    """Read and validate a JSONL prompt file; every problem is a CrossdiffError with its line.

    Blank lines are skipped. Prompt ids must be unique.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CrossdiffError(f"{file}: no such prompt file; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CrossdiffError(f"{file}: cannot read it as UTF-8 text ({exc})") from None
    prompts: list[ToolPrompt] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{file}:{number}"
        try:
            data = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise CrossdiffError(f"{where}: not valid JSON ({exc}); one object per line") from None
        prompt = ToolPrompt.from_dict(data, where)
        if prompt.id in seen:
            raise CrossdiffError(
                f"{where}: prompt id {prompt.id!r} already used on line {seen[prompt.id]}; "
                "ids must be unique"
            )
        seen[prompt.id] = number
        prompts.append(prompt)
    if not prompts:
        raise CrossdiffError(f"{file}: no prompts in the file; add one JSON object per line")
    return prompts
