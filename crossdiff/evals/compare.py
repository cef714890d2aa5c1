"""Compare evaluation runs on the same prompts: flips, exact McNemar, intervals, corrections.

Outcomes are paired by (prompt id, sample). The flip table and the exact McNemar test use those
pairs; the bootstrap and paired-t intervals average the samples of each prompt first, so prompts
(not samples) are the unit of resampling. With one sample per prompt the two coincide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crossdiff.errors import CrossdiffError
from crossdiff.evals.runs import LoadedRun, load_run
from crossdiff.evals.statistics import (
    DifferenceInterval,
    PairedComparison,
    flip_table,
    mcnemar_exact_p,
    paired_bootstrap_interval,
    paired_t_interval,
    wilson_interval,
    with_adjusted_p,
)

METRICS = (
    "full",
    "tool_ok",
    "format_ok",
    "selection_ok",
    "arguments_ok",
    "made_call",
    "study_format",
    "study_tool",
    "false_call",
)
METRIC_MEANINGS = {
    "full": "full correctness over every test prompt (tool prompts: the right call with the "
    "right arguments; no-tool prompts: no call)",
    "tool_ok": "the right tool in a well-formed call, arguments not checked (the study's notion); "
    "no-tool prompts: no call",
    "format_ok": "a well-formed call (a closed <tool_call> block with JSON name and parameters)",
    "selection_ok": "the expected tool called",
    "arguments_ok": "the call's arguments right",
    "made_call": "a <tool_call> tag present",
    "study_format": 'the study\'s format score (a <tool_call> tag and a JSON "name")',
    "study_tool": "the study's tool score (the first JSON name fuzzily matches a listed tool)",
    "false_call": "a call made on a prompt no tool fits",
}


@dataclass(frozen=True)
class RunComparison:
    """One baseline/treatment pair of runs compared on one metric."""

    baseline: str
    treatment: str
    prompts: str
    comparison: PairedComparison
    gained: list[str]
    lost: list[str]
    samples_per_prompt: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "baseline_run": self.baseline,
            "treatment_run": self.treatment,
            "prompts": self.prompts,
            "samples_per_prompt": self.samples_per_prompt,
            **self.comparison.to_dict(),
            "flipped_to_pass": self.gained,
            "flipped_to_fail": self.lost,
        }


def _outcomes(run: LoadedRun, metric: str, prompts: str) -> dict[tuple[str, int], bool]:
    outcomes: dict[tuple[str, int], bool] = {}
    for record in run.records:
        score = record["score"]
        if metric not in score:
            raise CrossdiffError(f"{run.path}: records have no score field {metric!r}")
        has_tool = bool(score.get("has_tool", record.get("has_tool", True)))
        if (prompts == "tool" and not has_tool) or (prompts == "no_tool" and has_tool):
            continue
        outcomes[(str(record["prompt_id"]), int(record["sample"]))] = bool(score[metric])
    return outcomes


def compare_runs(
    baseline: str | Path | LoadedRun,
    treatment: str | Path | LoadedRun,
    metric: str = "full",
    prompts: str = "all",
    seed: int = 0,
    num_resamples: int = 10_000,
) -> RunComparison:
    """Compare two runs on `metric` over `prompts` ("all", "tool" or "no_tool")."""
    if metric not in METRICS:
        raise CrossdiffError(f"unknown metric {metric!r}; choose one of {METRICS}")
    if prompts not in ("all", "tool", "no_tool"):
        raise CrossdiffError(f"--prompts must be all, tool or no_tool, got {prompts!r}")
    base_run = baseline if isinstance(baseline, LoadedRun) else load_run(baseline)
    treat_run = treatment if isinstance(treatment, LoadedRun) else load_run(treatment)
    base = _outcomes(base_run, metric, prompts)
    treat = _outcomes(treat_run, metric, prompts)
    if set(base) != set(treat):
        missing = sorted(set(base) ^ set(treat))[:3]
        raise CrossdiffError(
            f"{base_run.path} and {treat_run.path} do not hold the same prompts and samples "
            f"(e.g. {missing} is in only one): compare runs of the same suite and --samples"
        )
    if not base:
        raise CrossdiffError(f"no {prompts} prompts to compare in {base_run.path}")
    keys = sorted(base)
    base_B = np.array([base[k] for k in keys])
    treat_B = np.array([treat[k] for k in keys])
    prompt_ids = sorted({k[0] for k in keys})
    row_of = {pid: i for i, pid in enumerate(prompt_ids)}
    rows = np.array([row_of[k[0]] for k in keys])
    counts = np.bincount(rows, minlength=len(prompt_ids))
    base_mean = np.bincount(rows, weights=base_B, minlength=len(prompt_ids)) / counts
    treat_mean = np.bincount(rows, weights=treat_B, minlength=len(prompt_ids)) / counts
    table = flip_table(base_B, treat_B)
    comparison = PairedComparison(
        metric=metric,
        baseline=wilson_interval(int(base_B.sum()), base_B.size),
        treatment=wilson_interval(int(treat_B.sum()), treat_B.size),
        table=table,
        mcnemar_p=mcnemar_exact_p(table),
        bootstrap=paired_bootstrap_interval(base_mean, treat_mean, seed, num_resamples),
        paired_t=_paired_t(base_mean, treat_mean),
    )
    flipped = [(k, b, t) for k, b, t in zip(keys, base_B, treat_B, strict=True) if b != t]
    return RunComparison(
        baseline=str(base_run.path),
        treatment=str(treat_run.path),
        prompts=prompts,
        comparison=comparison,
        gained=[_key_text(k) for k, b, _ in flipped if not b],
        lost=[_key_text(k) for k, b, _ in flipped if b],
        samples_per_prompt=int(counts.max()),
    )


def _paired_t(base: np.ndarray, treat: np.ndarray) -> DifferenceInterval:
    if base.size < 2:
        raise CrossdiffError("a comparison needs at least 2 prompts for its paired-t interval")
    return paired_t_interval(base, treat)


def _key_text(key: tuple[str, int]) -> str:
    return key[0] if key[1] == 0 else f"{key[0]}#{key[1]}"


def compare_many(
    pairs: Sequence[tuple[str | Path, str | Path]],
    metric: str = "full",
    prompts: str = "all",
    seed: int = 0,
    num_resamples: int = 10_000,
) -> dict[str, Any]:
    """Compare several run pairs and add Holm and Benjamini–Hochberg adjusted McNemar p-values.

    Report how many cells were tried: the corrections are over exactly these comparisons.
    """
    if not pairs:
        raise CrossdiffError("compare needs at least one pair of runs")
    results = [compare_runs(b, t, metric, prompts, seed, num_resamples) for b, t in pairs]
    return {
        "metric": metric,
        "prompts": prompts,
        "num_comparisons": len(results),
        "comparisons": with_adjusted_p([r.to_dict() for r in results]),
    }
