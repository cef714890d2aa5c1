"""Where the collected texts come from: the world's prompts and prose, files, or a HF dataset.

Every source becomes a list of `TextRecord`s: the exact text the models will read, an id, the
source's label, and whether the tokenizer should add its special tokens (BOS) to it. Tool prompts
are rendered with the tokenizer's chat template (its template supplies the special tokens) or,
with `chat_template=False`, in the study's raw-text layout; plain texts are used as they are.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from transformers import PreTrainedTokenizerBase

from crossdiff.errors import CrossdiffError

SourceKind = Literal["tool_prompts", "general", "jsonl", "text_file", "hf"]


@dataclass(frozen=True)
class TextRecord:
    """One text to collect from."""

    source: str
    text_id: str
    text: str
    add_special_tokens: bool


class SourceSpec(BaseModel):
    """One input of a collection.

    kind: 'tool_prompts' (the world's tool prompts of `split`), 'general' (the world's general
    texts of `split`), 'jsonl' (tool prompts in the world's JSONL format, or {"text": ...,
    "id": ...} lines), 'text_file' (one text per non-blank line) or 'hf' (a Hugging Face dataset
    `name`, its `split` and text `column`; needs the optional `datasets` package).
    """

    model_config = ConfigDict(extra="forbid")

    kind: SourceKind
    split: str | None = None
    count: int | None = Field(default=None, ge=1)
    seed: int = Field(default=0, ge=0)
    path: str | None = None
    name: str | None = None
    column: str = "text"

    def label(self) -> str:
        """The `source` value stored with every row of this input."""
        if self.kind in ("tool_prompts", "general"):
            return f"{self.kind}:{self.split or 'train'}"
        if self.kind == "hf":
            return f"hf:{self.name}"
        return f"{self.kind}:{Path(self.path or '').name}"


def _world() -> Any:
    try:
        return importlib.import_module("crossdiff.world")
    except ImportError as exc:  # the world package lands from another branch
        raise CrossdiffError(f"the world's datasets are not available: {exc}") from exc


def _render_prompts(
    prompts: list[Any], label: str, tokenizer: PreTrainedTokenizerBase, chat_template: bool
) -> list[TextRecord]:
    world = _world()
    if chat_template and not getattr(tokenizer, "chat_template", None):
        raise CrossdiffError(
            f"source {label}: the tokenizer has no chat template; pass --raw to render prompts "
            "in the raw-text layout"
        )
    return [
        TextRecord(
            source=label,
            text_id=prompt.id,
            text=world.render_prompt(prompt, tokenizer, chat_template=chat_template),
            # a chat template writes its own special tokens; raw text gets the tokenizer's BOS
            add_special_tokens=not chat_template,
        )
        for prompt in prompts
    ]


def _take(items: list[Any], count: int | None, label: str) -> list[Any]:
    if count is not None and count > len(items):
        raise CrossdiffError(
            f"source {label}: asked for {count} texts but only {len(items)} exist; lower the count"
        )
    return items if count is None else items[:count]


def _tool_prompts(
    spec: SourceSpec, tokenizer: PreTrainedTokenizerBase, chat: bool
) -> list[TextRecord]:
    world = _world()
    split = spec.split or "train"
    size = spec.count if split == "train" else None
    prompts = _take(world.load_split(split, seed=spec.seed, size=size), spec.count, spec.label())
    return _render_prompts(prompts, spec.label(), tokenizer, chat)


def _general(spec: SourceSpec) -> list[TextRecord]:
    if spec.count is None:
        raise CrossdiffError("source general: give a count (e.g. --general train:2000)")
    texts = _world().general_texts(spec.count, seed=spec.seed, split=spec.split or "train")
    label = spec.label()
    return [TextRecord(label, f"{label}-{i:06d}", text, True) for i, text in enumerate(texts)]


def _existing_file(spec: SourceSpec) -> Path:
    if not spec.path:
        raise CrossdiffError(f"source {spec.kind}: give a file path")
    path = Path(spec.path)
    if not path.is_file():
        raise CrossdiffError(
            f"input file not found: {path} (check the --{spec.kind.replace('_', '-')} path)"
        )
    return path


def _jsonl(spec: SourceSpec, tokenizer: PreTrainedTokenizerBase, chat: bool) -> list[TextRecord]:
    path = _existing_file(spec)
    label = spec.label()
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    try:
        first = json.loads(lines[0]) if lines else {}
    except json.JSONDecodeError as exc:
        raise CrossdiffError(f"{path}:1: not valid JSON: {exc.msg}") from exc
    if isinstance(first, dict) and "text" in first:
        records = []
        for number, line in enumerate(lines, start=1):
            try:
                row = json.loads(line)
                text = row["text"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise CrossdiffError(
                    f"{path}:{number}: expected a JSON object with a string field 'text'"
                ) from exc
            if not isinstance(text, str):
                raise CrossdiffError(f"{path}:{number}: field 'text' must be a string")
            text_id = str(row.get("id", f"{path.name}:{number}"))
            records.append(TextRecord(label, text_id, text, True))
        return _take(records, spec.count, label)
    prompts = _take(_world().load_prompts_jsonl(path), spec.count, label)
    return _render_prompts(prompts, label, tokenizer, chat)


def _text_file(spec: SourceSpec) -> list[TextRecord]:
    path = _existing_file(spec)
    label = spec.label()
    records = [
        TextRecord(label, f"{path.name}:{number}", line, True)
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if line.strip()
    ]
    return _take(records, spec.count, label)


def _hf_dataset(spec: SourceSpec) -> list[TextRecord]:
    if not spec.name:
        raise CrossdiffError("source hf: give a dataset name (e.g. --hf-dataset org/name:train)")
    try:
        datasets = importlib.import_module("datasets")
    except ImportError as exc:
        raise CrossdiffError(
            "reading a Hugging Face dataset needs the optional 'datasets' package "
            "(pip install datasets), or export the texts to a JSONL or text file"
        ) from exc
    split = spec.split or "train"
    try:
        data = datasets.load_dataset(spec.name, split=split, streaming=True)
    except Exception as exc:  # network or hub errors come in many types
        raise CrossdiffError(f"cannot load dataset '{spec.name}' split '{split}': {exc}") from exc
    label = spec.label()
    records = []
    for number, row in enumerate(data):
        if spec.count is not None and number >= spec.count:
            break
        if spec.column not in row:
            raise CrossdiffError(
                f"dataset '{spec.name}' has no column '{spec.column}' (columns: {sorted(row)}); "
                "name the text column"
            )
        records.append(TextRecord(label, f"{spec.name}:{split}:{number}", row[spec.column], True))
    return records


def load_records(
    specs: list[SourceSpec], tokenizer: PreTrainedTokenizerBase, chat_template: bool = True
) -> list[TextRecord]:
    """All texts of all sources, in order; an error if there are none."""
    if not specs:
        raise CrossdiffError(
            "no inputs given: add --tool-prompts, --general, --jsonl, --text-file or --hf-dataset"
        )
    records: list[TextRecord] = []
    for spec in specs:
        if spec.kind == "tool_prompts":
            found = _tool_prompts(spec, tokenizer, chat_template)
        elif spec.kind == "general":
            found = _general(spec)
        elif spec.kind == "jsonl":
            found = _jsonl(spec, tokenizer, chat_template)
        elif spec.kind == "text_file":
            found = _text_file(spec)
        else:
            found = _hf_dataset(spec)
        if not found:
            raise CrossdiffError(f"source {spec.label()} is empty: it gave no texts to collect")
        records.extend(found)
    return records
