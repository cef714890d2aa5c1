"""Experiments 1, 2 and 7: splice model A through a dictionary, spillover into the frozen base
model B, and the penalised against the free exclusive partition.

No cell is chosen here (each dictionary is one fixed condition), so everything is reported on the
held-out `test` prompts; the p-values are adjusted over the rows of each table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crossdiff.evals.interventions import Intervention
from crossdiff.evals.statistics import RateInterval, wilson_interval
from crossdiff.experiments.core import (
    Comparison,
    ConditionRun,
    ExperimentSetup,
    adjust,
    baseline_intervention,
    compare,
    run_condition,
)


@dataclass(frozen=True)
class SpliceRow:
    """One dictionary spliced into one model: full correctness and format, before and after."""

    dictionary: str
    comparison: Comparison
    format_before: RateInterval
    format_after: RateInterval


@dataclass(frozen=True)
class SpliceResult:
    """Splice (model A) or spillover (model B): one row per dictionary, plus head-to-heads.

    `head_to_head` compares the dictionaries' spliced runs with each other (e.g. plain crosscoder
    against DFC), baseline = the first dictionary named in its label.
    """

    experiment: str
    model: str
    rows: list[SpliceRow]
    head_to_head: list[Comparison]
    cells_tried: int


def _format_rate(run: ConditionRun) -> RateInterval:
    return wilson_interval(sum(run.format_ok), len(run.format_ok))


def splice_experiment(
    setup: ExperimentSetup, dictionaries: Sequence[str], model: int = 0
) -> SpliceResult:
    """Splice model `model` (0 = A: experiment 1; 1 = B: spillover, experiment 2) through each
    dictionary on `test` and compare with the unedited model; head-to-head between dictionaries."""
    base = run_condition(setup, baseline_intervention(model, setup.policy), None, "test")
    splice = Intervention("splice", model=model, policy=setup.policy)
    runs = {name: run_condition(setup, splice, name, "test") for name in dictionaries}
    comparisons = adjust([compare(setup, base, runs[name]) for name in dictionaries])
    rows = [
        SpliceRow(name, comparison, _format_rate(base), _format_rate(runs[name]))
        for name, comparison in zip(dictionaries, comparisons, strict=True)
    ]
    names = list(dictionaries)
    pairs = [(names[i], names[j]) for i in range(len(names)) for j in range(i + 1, len(names))]
    head_to_head = adjust([compare(setup, runs[a], runs[b]) for a, b in pairs])
    return SpliceResult(
        experiment="splice" if model == 0 else "spillover",
        model="AB"[model],
        rows=rows,
        head_to_head=head_to_head,
        cells_tried=len(rows),
    )


@dataclass(frozen=True)
class PenalisedResult:
    """Experiment 7: model A's splice gain through the free and the penalised DFC.

    `head_to_head`: baseline = splice through the penalised DFC, treatment = through the free one;
    a positive difference means penalising the exclusive partition lost some of the skill.
    """

    free: SpliceRow
    penalised: SpliceRow
    head_to_head: Comparison
    lambda_excl_penalised: float


def penalised_experiment(
    setup: ExperimentSetup, free: str, penalised: str, lambda_excl: float
) -> PenalisedResult:
    """Compare splicing model A through the free DFC and through the penalised one (on `test`)."""
    spliced = splice_experiment(setup, [free, penalised], model=0)
    free_row, penalised_row = spliced.rows
    splice = Intervention("splice", model=0, policy=setup.policy)
    free_run = run_condition(setup, splice, free, "test")
    penalised_run = run_condition(setup, splice, penalised, "test")
    return PenalisedResult(
        free=free_row,
        penalised=penalised_row,
        head_to_head=compare(setup, penalised_run, free_run),
        lambda_excl_penalised=lambda_excl,
    )
