"""The files of an evaluation run: every generation as JSONL, and a summary with Wilson intervals.

A run directory holds `generations.jsonl` (one record per prompt and sample: prompt id, sample
index, condition, full text, and every score with its failure reason) and `summary.json` (the
configuration, and each rate as count/total with a Wilson 95 % interval). Both are written into a
staging directory that is renamed into place, so a killed run leaves nothing that looks finished.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossdiff.errors import CrossdiffError
from crossdiff.evals.statistics import wilson_interval
from crossdiff.files import atomic_output_dir, read_json, write_bytes_atomic, write_json_atomic

GENERATIONS_FILE = "generations.jsonl"
SUMMARY_FILE = "summary.json"

# rate name -> (Score field counted, which prompts are the denominator)
RATES: dict[str, tuple[str, str]] = {
    "full_correctness": ("full", "tool"),
    "format_rate": ("format_ok", "tool"),
    "selection_rate": ("selection_ok", "tool"),
    "arguments_rate": ("arguments_ok", "tool"),
    "call_rate": ("made_call", "tool"),
    "study_format_rate": ("study_format", "tool"),
    "study_tool_rate": ("study_tool", "tool"),
    "false_call_rate": ("false_call", "no_tool"),
    "overall_full_correctness": ("full", "all"),
}


@dataclass(frozen=True)
class GenerationRecord:
    """One generation of one prompt under one condition, with every score and failure reason."""

    prompt_id: str
    sample: int
    condition: str
    text: str
    stopped: bool
    score: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The JSONL form."""
        return {
            "prompt_id": self.prompt_id,
            "sample": self.sample,
            "condition": self.condition,
            "text": self.text,
            "stopped": self.stopped,
            "score": self.score,
        }


def rate_summary(scores: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Every rate of `RATES` as {count, total, rate, low, high} (Wilson 95 %), plus counts.

    `scores` are `Score.to_dict()` forms (as stored in generations.jsonl).
    """
    groups: dict[str, list[dict[str, Any]]] = {
        "tool": [s for s in scores if s["has_tool"]],
        "no_tool": [s for s in scores if not s["has_tool"]],
        "all": list(scores),
    }
    rates = {}
    for name, (field, group) in RATES.items():
        members = groups[group]
        count = sum(bool(s[field]) for s in members)
        rates[name] = wilson_interval(count, len(members)).to_dict()
    tool = groups["tool"]
    reasons = Counter(str(s["reason"]) for s in scores if s.get("reason") is not None)
    return {
        "n": len(scores),
        "n_tool_prompts": len(tool),
        "n_no_tool_prompts": len(groups["no_tool"]),
        "rates": rates,
        "study_overall_mean": sum(s["study_overall"] for s in tool) / len(tool) if tool else None,
        "failure_reasons": dict(sorted(reasons.items())),
    }


def write_run(
    out_dir: str | Path,
    records: Sequence[GenerationRecord],
    summary: dict[str, Any],
    force: bool = False,
) -> Path:
    """Write generations.jsonl and summary.json into `out_dir`, atomically."""
    with atomic_output_dir(out_dir, force=force) as staging:
        lines = "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in records)
        write_bytes_atomic(staging / GENERATIONS_FILE, lines.encode())
        write_json_atomic(staging / SUMMARY_FILE, summary)
    return Path(out_dir)


@dataclass(frozen=True)
class LoadedRun:
    """A run directory read back: its summary and its records in file order."""

    path: Path
    summary: dict[str, Any]
    records: list[dict[str, Any]]


def load_run(path: str | Path) -> LoadedRun:
    """Read a run directory written by `write_run`; CrossdiffError naming the file and line."""
    directory = Path(path)
    if not directory.is_dir():
        raise CrossdiffError(f"run directory not found: {directory} (a `crossdiff eval` --out)")
    summary = read_json(directory / SUMMARY_FILE, what="run summary")
    generations = directory / GENERATIONS_FILE
    if not generations.is_file():
        raise CrossdiffError(f"{generations} not found: the run directory is incomplete")
    records = []
    for number, line in enumerate(generations.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise CrossdiffError(f"{generations}:{number}: not valid JSON ({exc})") from None
        if not isinstance(record, dict) or not {"prompt_id", "sample", "score"} <= set(record):
            raise CrossdiffError(
                f"{generations}:{number}: a record needs prompt_id, sample and score fields"
            )
        records.append(record)
    if not records:
        raise CrossdiffError(f"{generations}: no generations in the run")
    return LoadedRun(directory, summary, records)
