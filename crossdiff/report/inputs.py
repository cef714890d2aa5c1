"""What the report is built from: the typed experiment results and a summary of the analysis.

`StudyResults` holds every experiment's result (None when it was not run) and an
`AnalysisSummary`: relative decoder norms per partition and feature cards with their
max-activating examples. `analysis_summary_from_dir` reads the analysis stage's files
(`crossdiff analyze` output, through the analysis' own loader) into that summary, so the report
itself can be built and tested from small hand-made results.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossdiff.experiments.controls import AblationResult, ControlResult
from crossdiff.experiments.splice import PenalisedResult, SpliceResult
from crossdiff.experiments.steering import SaturationCurve, SteeringGridResult
from crossdiff.experiments.sweeps import CorrelationResult, LayerSweepResult


@dataclass(frozen=True)
class MarkedExample:
    """A max-activating example: text before the firing token, the token, and text after."""

    before: str
    token: str
    after: str
    activation: float
    source: str = ""


@dataclass(frozen=True)
class FeatureCard:
    """One ranked feature: where it lives, how it separates tool prompts, where it fires."""

    feature: int
    partition: str
    scope: str
    rank: int
    cohens_d: float | None
    auroc: float | None
    rate_tool: float | None
    rate_general: float | None
    relative_norm: float | None
    decoder_cosine: float | None
    template_detector: bool
    examples: list[MarkedExample]


@dataclass(frozen=True)
class AnalysisSummary:
    """Relative decoder norms per partition, the rankings and the feature cards."""

    relative_norms: dict[str, list[float]]
    rankings: dict[str, list[int]]
    cards: list[FeatureCard]
    candidates: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class StudyResults:
    """Everything one report shows. `pair` describes the models, hook point and prompt sets."""

    title: str
    pair: dict[str, str]
    splice: SpliceResult | None = None
    spillover: SpliceResult | None = None
    steering: SteeringGridResult | None = None
    saturation: SaturationCurve | None = None
    ablation: AblationResult | None = None
    control: ControlResult | None = None
    penalised: PenalisedResult | None = None
    layers: LayerSweepResult | None = None
    correlation: CorrelationResult | None = None
    analysis: AnalysisSummary | None = None


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def marked_example(rendered: str, activation: float, source: str = "") -> MarkedExample:
    """Split an analysis example's rendered text at its ⟦firing token⟧ mark."""
    if "⟦" in rendered and "⟧" in rendered:
        before, rest = rendered.split("⟦", 1)
        token, after = rest.split("⟧", 1)
    else:
        before, token, after = rendered, "", ""
    return MarkedExample(before, token, after, float(activation), source)


def analysis_summary_from_dir(
    path: str | Path, cards_per_scope: int = 3, examples_per_card: int = 4
) -> AnalysisSummary:
    """Read an analysis directory (`crossdiff analyze` output) into a report summary."""
    from crossdiff.analysis.config import AnalysisConfig
    from crossdiff.analysis.ranking import rank_candidates
    from crossdiff.analysis.results import feature_records, load_analysis

    result = load_analysis(path)
    # A scope without candidates shows its top features by Cohen's d (the firing filter off).
    relaxed = rank_candidates(
        result.behaviour,
        result.geometry.partition,
        AnalysisConfig(min_tool_rate=0.0, max_general_rate=1.0),
    )
    shown = {
        scope: (entries, scope) if entries else (relaxed.scopes[scope], f"{scope}, by d only")
        for scope, entries in result.ranking.scopes.items()
    }
    records = {int(r["feature"]): r for r in feature_records(result)}
    norms: dict[str, list[float]] = {}
    for record in records.values():
        if record.get("relative_norm") is not None:
            norms.setdefault(str(record["partition"]), []).append(float(record["relative_norm"]))
    rankings = {
        scope: [entry.feature for entry in entries]
        for scope, entries in result.ranking.scopes.items()
    }
    cards: list[FeatureCard] = []
    for entries, label in shown.values():
        for entry in entries[:cards_per_scope]:
            record = records[entry.feature]
            examples = [
                marked_example(e.rendered, e.activation, e.source)
                for e in result.examples.get(entry.feature, [])[:examples_per_card]
            ]
            cards.append(
                FeatureCard(
                    feature=entry.feature,
                    partition=entry.partition,
                    scope=label,
                    rank=entry.rank,
                    cohens_d=_float(entry.cohens_d),
                    auroc=_float(entry.auroc),
                    rate_tool=_float(entry.rate_tool),
                    rate_general=_float(entry.rate_general),
                    relative_norm=_float(record.get("relative_norm")),
                    decoder_cosine=_float(record.get("decoder_cosine")),
                    template_detector=bool(record.get("template_detector")),
                    examples=examples,
                )
            )
    return AnalysisSummary(
        relative_norms=norms,
        rankings=rankings,
        cards=cards,
        candidates={scope: len(ranked) for scope, ranked in rankings.items()},
    )


def dumps(results: StudyResults) -> str:
    """The results as JSON text (for results.json beside the report)."""
    from crossdiff.experiments.serialize import to_plain

    return json.dumps(to_plain(results), indent=1)
