"""Experiments 5 and 6: ablating the top feature(s) in model A, and the random-direction control.

Ablation asks whether removing the features removes the skill: α = 0 (the study's rule with the
steering factor at zero) and clamp-to-zero, for the top-n features of the ranking and for a whole
partition. The control repeats the chosen steering cell with its displacement replaced, token by
token, by a seeded random direction of the same norm. Both report fixed cells on `test` (the
steering cell itself was chosen on `dev`) with p-values adjusted over each table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crossdiff.evals.interventions import Intervention
from crossdiff.experiments.core import (
    Comparison,
    ExperimentSetup,
    adjust,
    baseline_intervention,
    compare,
    run_condition,
)
from crossdiff.experiments.steering import CurvePoint


@dataclass(frozen=True)
class AblationRow:
    """One ablation of model A against the unedited model A."""

    target: str
    mode: str
    features: tuple[int, ...]
    comparison: Comparison


@dataclass(frozen=True)
class AblationResult:
    """Experiment 5: does removing the top feature(s) remove the skill?"""

    dictionary: str
    rows: list[AblationRow]
    cells_tried: int


def ablation_experiment(
    setup: ExperimentSetup,
    dictionary: str,
    ranking: Sequence[int],
    top: Sequence[int],
    partition: tuple[str, Sequence[int]] | None = None,
) -> AblationResult:
    """Ablate the top-n ranked features (each n in `top`) and optionally a whole partition."""
    base = run_condition(setup, baseline_intervention(0, setup.policy), None, "test")
    targets: list[tuple[str, tuple[int, ...]]] = [
        (f"top {n}", tuple(ranking[:n])) for n in top if 0 < n <= len(ranking)
    ]
    if partition is not None and len(partition[1]) > 0:
        targets.append((f"partition {partition[0]}", tuple(partition[1])))
    rows: list[AblationRow] = []
    for target, features in targets:
        for mode, edit in (
            ("alpha=0", Intervention("steer", 0, features, alpha=0.0, policy=setup.policy)),
            ("clamp=0", Intervention("clamp", 0, features, value=0.0, policy=setup.policy)),
        ):
            run = run_condition(setup, edit, dictionary, "test")
            rows.append(AblationRow(target, mode, features, compare(setup, base, run)))
    adjusted = adjust([r.comparison for r in rows])
    rows = [
        AblationRow(r.target, r.mode, r.features, c) for r, c in zip(rows, adjusted, strict=True)
    ]
    return AblationResult(dictionary=dictionary, rows=rows, cells_tried=len(rows))


@dataclass(frozen=True)
class ControlResult:
    """Experiment 6: the chosen steering cell against norm-matched random directions.

    `steer` is the cell against the unedited model; `controls[i]` is control seed i against the
    unedited model; `steer_vs_control[i]` is the steering cell against control seed i.
    """

    dictionary: str
    features: tuple[int, ...]
    alpha: float
    seeds: list[int]
    steer: Comparison
    controls: list[Comparison]
    steer_vs_control: list[Comparison]
    cells_tried: int


def control_experiment(
    setup: ExperimentSetup, dictionary: str, cell: CurvePoint, seeds: Sequence[int]
) -> ControlResult:
    """Compare the steering `cell` with the same edit's norm in seeded random directions."""
    base = run_condition(setup, baseline_intervention(0, setup.policy), None, "test")
    steer_edit = Intervention("steer", 0, cell.features, alpha=cell.alpha, policy=setup.policy)
    steer_run = run_condition(setup, steer_edit, dictionary, "test")
    control_runs = [
        run_condition(
            setup,
            Intervention(
                "steer",
                0,
                cell.features,
                alpha=cell.alpha,
                control_seed=int(seed),
                policy=setup.policy,
            ),
            dictionary,
            "test",
        )
        for seed in seeds
    ]
    family = adjust(
        [compare(setup, base, steer_run)]
        + [compare(setup, base, run) for run in control_runs]
        + [compare(setup, run, steer_run) for run in control_runs]
    )
    count = len(control_runs)
    return ControlResult(
        dictionary=dictionary,
        features=cell.features,
        alpha=cell.alpha,
        seeds=[int(s) for s in seeds],
        steer=family[0],
        controls=family[1 : 1 + count],
        steer_vs_control=family[1 + count :],
        cells_tried=len(family),
    )
