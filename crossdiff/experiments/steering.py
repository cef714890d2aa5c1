"""Experiments 3 and 4: the steering grid and the saturation curve.

For each feature set (A-exclusive, shared, B-exclusive, A-exclusive ∪ shared of the DFC; the whole
dictionary of a plain crosscoder) and each subset size n, the top-n features of the set's ranking
are steered in model A at every α of the grid. Every cell is evaluated on `dev`; α = 1 is the
unedited model by construction (δ = 0) and is not generated again. For each (set, n) the α with the
best dev gain is then evaluated on the held-out `test` prompts: those points are the saturation
curve, and the set's best dev cell is its chosen cell. The tables say how many cells were tried and
adjust p-values over them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crossdiff.evals.interventions import Intervention
from crossdiff.experiments.core import (
    Comparison,
    ConditionRun,
    ExperimentSetup,
    adjust,
    baseline_intervention,
    compare,
    run_condition,
)
from crossdiff.world import ToolPrompt


@dataclass(frozen=True)
class FeatureSet:
    """A named, ranked list of features (best first) of one dictionary."""

    name: str
    dictionary: str
    ranking: tuple[int, ...]


@dataclass(frozen=True)
class SteeringCell:
    """One (set, subset size, α) cell evaluated on `dev`."""

    feature_set: str
    size: int
    alpha: float
    features: tuple[int, ...]
    dev: Comparison


@dataclass(frozen=True)
class CurvePoint:
    """The α chosen on `dev` for one (set, size), and its result on `test`."""

    feature_set: str
    size: int
    alpha: float
    features: tuple[int, ...]
    dev_difference: float
    test: Comparison


@dataclass(frozen=True)
class ExampleGeneration:
    """One prompt answered before and after steering."""

    prompt_id: str
    user: str
    before: str
    after: str
    before_correct: bool
    after_correct: bool


@dataclass(frozen=True)
class SteeringGridResult:
    """The whole grid: dev cells, the per-size test curve, the chosen cell per set, examples."""

    feature_sets: list[FeatureSet]
    alphas: list[float]
    sizes: list[int]
    cells: list[SteeringCell]
    curve: list[CurvePoint]
    chosen: list[CurvePoint]
    dev_cells_tried: int
    test_cells_tried: int
    examples: list[ExampleGeneration]
    skipped: list[str]


def _best(cells: Sequence[SteeringCell]) -> SteeringCell:
    # Highest dev gain; ties go to the smaller subset, then the smaller |α − 1| (the gentler edit).
    return max(cells, key=lambda c: (c.dev.difference, -c.size, -abs(c.alpha - 1.0)))


def steer_intervention(features: Sequence[int], alpha: float, setup: ExperimentSetup):
    """The study's input-conditional steering edit of model A."""
    return Intervention("steer", 0, tuple(features), alpha=alpha, policy=setup.policy)


def _steer_run(
    setup: ExperimentSetup, feature_set: FeatureSet, size: int, alpha: float, split: str
) -> ConditionRun:
    features = feature_set.ranking[:size]
    if alpha == 1.0:  # δ = (α − 1)·f·W_dec = 0: exactly the unedited model
        return run_condition(setup, baseline_intervention(0, setup.policy), None, split)
    return run_condition(
        setup, steer_intervention(features, alpha, setup), feature_set.dictionary, split
    )


def examples_of(
    prompts: Sequence[ToolPrompt], before: ConditionRun, after: ConditionRun, limit: int = 6
) -> list[ExampleGeneration]:
    """Up to `limit` prompts answered before/after: flips to correct first, then other flips."""
    by_id = {p.id: p for p in prompts}
    rows = list(range(len(before.prompt_ids)))
    rows.sort(
        key=lambda i: (
            not (after.outcomes[i] and not before.outcomes[i]),
            before.outcomes[i] == after.outcomes[i],
        )
    )
    return [
        ExampleGeneration(
            prompt_id=before.prompt_ids[i],
            user=by_id[before.prompt_ids[i]].user,
            before=before.texts[i],
            after=after.texts[i],
            before_correct=before.outcomes[i],
            after_correct=after.outcomes[i],
        )
        for i in rows[:limit]
    ]


def steering_grid(
    setup: ExperimentSetup,
    feature_sets: Sequence[FeatureSet],
    alphas: Sequence[float],
    sizes: Sequence[int],
    example_set: str | None = "a_exclusive",
) -> SteeringGridResult:
    """Run the grid on `dev`, choose α per (set, size) on `dev`, report those on `test`."""
    dev_base = run_condition(setup, baseline_intervention(0, setup.policy), None, "dev")
    test_base = run_condition(setup, baseline_intervention(0, setup.policy), None, "test")
    cells: list[SteeringCell] = []
    skipped: list[str] = []
    groups: list[tuple[FeatureSet, int, list[SteeringCell]]] = []
    for feature_set in feature_sets:
        usable = [n for n in sizes if n <= len(feature_set.ranking)]
        skipped += [
            f"{feature_set.name} n={n}: only {len(feature_set.ranking)} ranked"
            for n in sizes
            if n not in usable
        ]
        for size in usable:
            group = []
            for alpha in alphas:
                run = _steer_run(setup, feature_set, size, float(alpha), "dev")
                comparison = compare(setup, dev_base, run)
                group.append(
                    SteeringCell(
                        feature_set.name,
                        size,
                        float(alpha),
                        feature_set.ranking[:size],
                        comparison,
                    )
                )
            groups.append((feature_set, size, group))
            cells += group
    adjusted = adjust([c.dev for c in cells])
    cells = [
        SteeringCell(c.feature_set, c.size, c.alpha, c.features, dev)
        for c, dev in zip(cells, adjusted, strict=True)
    ]
    index = 0
    points: list[CurvePoint] = []
    for feature_set, size, group in groups:
        best = _best(cells[index : index + len(group)])
        index += len(group)
        run = _steer_run(setup, feature_set, size, best.alpha, "test")
        points.append(
            CurvePoint(
                feature_set.name,
                size,
                best.alpha,
                best.features,
                best.dev.difference,
                compare(setup, test_base, run),
            )
        )
    points = [
        CurvePoint(p.feature_set, p.size, p.alpha, p.features, p.dev_difference, test)
        for p, test in zip(points, adjust([p.test for p in points]), strict=True)
    ]
    chosen = []
    for feature_set in feature_sets:
        own = [p for p in points if p.feature_set == feature_set.name]
        if own:
            chosen.append(max(own, key=lambda p: (p.dev_difference, -p.size)))
    examples: list[ExampleGeneration] = []
    picked = [p for p in chosen if p.feature_set == example_set]
    if picked:
        feature_set = next(s for s in feature_sets if s.name == example_set)
        after = _steer_run(setup, feature_set, picked[0].size, picked[0].alpha, "test")
        examples = examples_of(setup.test, test_base, after)
    return SteeringGridResult(
        feature_sets=list(feature_sets),
        alphas=[float(a) for a in alphas],
        sizes=list(sizes),
        cells=cells,
        curve=points,
        chosen=chosen,
        dev_cells_tried=len(cells),
        test_cells_tried=len(points),
        examples=examples,
        skipped=skipped,
    )


@dataclass(frozen=True)
class SaturationPoint:
    """Best gain over α (chosen on dev) for n steered features, measured on test."""

    size: int
    alpha: float
    difference: float
    low: float
    high: float
    holm_p: float | None


@dataclass(frozen=True)
class SaturationCurve:
    """Experiment 4: per feature set, the best gain against the number of steered features.

    `ceiling` is the best test gain of any point; `size_at_peak` the smallest n reaching it.
    """

    curves: dict[str, list[SaturationPoint]]
    size_at_peak: dict[str, int]
    peak: dict[str, float]
    interval_method: str


def saturation_curve(grid: SteeringGridResult) -> SaturationCurve:
    """Read the saturation curve off a steering grid (paired-bootstrap intervals on test)."""
    curves: dict[str, list[SaturationPoint]] = {}
    for point in grid.curve:
        interval = point.test.bootstrap
        curves.setdefault(point.feature_set, []).append(
            SaturationPoint(
                point.size,
                point.alpha,
                point.test.difference,
                interval.low,
                interval.high,
                point.test.holm_p,
            )
        )
    peak = {name: max(p.difference for p in pts) for name, pts in curves.items()}
    size_at_peak = {
        name: min(p.size for p in pts if p.difference == peak[name]) for name, pts in curves.items()
    }
    method = grid.curve[0].test.bootstrap.method if grid.curve else "paired bootstrap"
    return SaturationCurve(curves, size_at_peak, peak, method)
