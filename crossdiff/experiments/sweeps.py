"""Experiments 8 and 9: the layer sweep, and splice gain against reconstruction error.

The layer sweep runs a one-feature steering grid (α chosen on `dev`, reported on `test`) at each
hook point with that layer's own DFC and ranking. The correlation takes the members of a sweep of
crosscoders (each with its reconstruction error and its splice comparison on `test`) and reports
Pearson's r with its Fisher-z interval (scipy) and Spearman's ρ.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from crossdiff.evals.harness import LoadedDictionary
from crossdiff.experiments.core import Comparison, ExperimentSetup, adjust
from crossdiff.experiments.steering import CurvePoint, FeatureSet, steering_grid


@dataclass(frozen=True)
class LayerInput:
    """One layer of the sweep: its hook point, its DFC and the ranked A-exclusive features."""

    hook_point: str
    dictionary: LoadedDictionary
    ranking: tuple[int, ...]


@dataclass(frozen=True)
class LayerRow:
    """One layer: the top A-exclusive feature, α chosen on dev, and its test comparison."""

    hook_point: str
    point: CurvePoint | None
    note: str


@dataclass(frozen=True)
class LayerSweepResult:
    """Experiment 8: one feature steered at each layer."""

    rows: list[LayerRow]
    alphas: list[float]
    dev_cells_tried: int
    test_cells_tried: int
    threshold: float
    layers_reaching_threshold: int


def layer_sweep(
    setup: ExperimentSetup,
    layers: Sequence[LayerInput],
    alphas: Sequence[float],
    threshold: float = 0.35,
) -> LayerSweepResult:
    """Steer the top A-exclusive feature at each layer; count layers whose gain ≥ `threshold`."""
    rows: list[LayerRow] = []
    dev_cells = 0
    for layer in layers:
        if not layer.ranking:
            rows.append(LayerRow(layer.hook_point, None, "no ranked A-exclusive feature"))
            continue
        at_layer = setup.at_hook_point(layer.hook_point, {"layer": layer.dictionary})
        grid = steering_grid(
            at_layer,
            [FeatureSet("a_exclusive", "layer", tuple(layer.ranking))],
            alphas,
            (1,),
            example_set=None,
        )
        setup.cache.update({k: v for k, v in at_layer.cache.items() if k[0] == ""})
        dev_cells += grid.dev_cells_tried
        rows.append(LayerRow(layer.hook_point, grid.curve[0], ""))
    points = [r.point for r in rows if r.point is not None]
    adjusted = iter(adjust([p.test for p in points]))
    final: list[LayerRow] = []
    for row in rows:
        if row.point is None:
            final.append(row)
            continue
        p = row.point
        test = next(adjusted)
        point = CurvePoint(p.feature_set, p.size, p.alpha, p.features, p.dev_difference, test)
        final.append(LayerRow(row.hook_point, point, row.note))
    reaching = sum(1 for r in final if r.point is not None and r.point.test.difference >= threshold)
    return LayerSweepResult(
        rows=final,
        alphas=[float(a) for a in alphas],
        dev_cells_tried=dev_cells,
        test_cells_tried=len(points),
        threshold=threshold,
        layers_reaching_threshold=reaching,
    )


@dataclass(frozen=True)
class SweepMember:
    """One crosscoder of a sweep: its settings, reconstruction error and splice result."""

    name: str
    settings: dict[str, Any]
    fvu_a: float
    fvu_b: float
    splice: Comparison
    spillover: Comparison | None = None


@dataclass(frozen=True)
class CorrelationResult:
    """Experiment 9: splice gain against model A's reconstruction error across a sweep."""

    members: list[SweepMember]
    n: int
    pearson_r: float | None
    pearson_low: float | None
    pearson_high: float | None
    pearson_p: float | None
    spearman_rho: float | None
    spearman_p: float | None
    improved: int


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def gain_vs_error(members: Sequence[SweepMember]) -> CorrelationResult:
    """Correlate each member's splice gain with its FVU on model A (needs ≥ 3 varied members)."""
    gains = np.array([m.splice.difference for m in members], dtype=float)
    errors = np.array([m.fvu_a for m in members], dtype=float)
    improved = int((gains > 0).sum())
    varied = len(members) >= 3 and gains.std() > 0 and errors.std() > 0
    if not varied:
        return CorrelationResult(list(members), len(members), *([None] * 6), improved)
    pearson = stats.pearsonr(errors, gains)
    interval = pearson.confidence_interval(0.95)
    spearman = stats.spearmanr(errors, gains)
    return CorrelationResult(
        members=list(members),
        n=len(members),
        pearson_r=_finite(pearson.statistic),
        pearson_low=_finite(interval.low),
        pearson_high=_finite(interval.high),
        pearson_p=_finite(pearson.pvalue),
        spearman_rho=_finite(spearman.statistic),
        spearman_p=_finite(spearman.pvalue),
        improved=improved,
    )


def members_with_adjusted_p(members: Sequence[SweepMember]) -> list[SweepMember]:
    """The members with their splice p-values adjusted over the whole sweep."""
    adjusted = adjust([m.splice for m in members])
    return [
        SweepMember(m.name, m.settings, m.fvu_a, m.fvu_b, c, m.spillover)
        for m, c in zip(members, adjusted, strict=True)
    ]


def ranking_of(mapping: Mapping[str, Sequence[int]], scope: str) -> tuple[int, ...]:
    """The ranked features of `scope` from a {scope: ranking} mapping (empty if missing)."""
    return tuple(int(i) for i in mapping.get(scope, ()))
