"""What the report is built from: the typed experiment results and a summary of the analysis.

`StudyResults` holds every experiment's result (None when it was not run) and an
`AnalysisSummary`: relative decoder norms per partition and feature cards with their
max-activating examples. `analysis_summary_from_dir` reads the analysis stage's files
(`crossdiff analyze` output) into that summary, so the report depends on the analysis' file
format, not on its code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossdiff.errors import CrossdiffError
from crossdiff.experiments.controls import AblationResult, ControlResult
from crossdiff.experiments.splice import PenalisedResult, SpliceResult
from crossdiff.experiments.steering import SaturationCurve, SteeringGridResult
from crossdiff.experiments.sweeps import CorrelationResult, LayerSweepResult
from crossdiff.files import read_json


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


def _examples(entries: list[dict[str, Any]], limit: int) -> list[MarkedExample]:
    examples = []
    for entry in entries[:limit]:
        examples.append(
            MarkedExample(
                before=str(entry.get("before", "")),
                token=str(entry.get("token", "")),
                after=str(entry.get("after", "")),
                activation=float(entry.get("activation", 0.0)),
                source=str(entry.get("source", "")),
            )
        )
    return examples


def analysis_summary_from_dir(
    path: str | Path, cards_per_scope: int = 3, examples_per_card: int = 4
) -> AnalysisSummary:
    """Read an analysis directory (features.json, ranking.json, examples.json) into a summary."""
    root = Path(path)
    features = read_json(root / "features.json", "analysis features")
    ranking = read_json(root / "ranking.json", "analysis ranking")
    examples = read_json(root / "examples.json", "analysis examples")
    try:
        records = {int(r["feature"]): r for r in features["features"]}
        scopes = ranking["rankings"] if "rankings" in ranking else ranking
        rankings = {
            scope: [int(item["feature"]) if isinstance(item, dict) else int(item) for item in items]
            for scope, items in scopes.items()
            if isinstance(items, list)
        }
        by_feature = examples.get("features", examples) if isinstance(examples, dict) else {}
    except (KeyError, TypeError, ValueError) as exc:
        raise CrossdiffError(f"{root}: analysis files are not in the expected format ({exc})") from exc
    norms: dict[str, list[float]] = {}
    for record in records.values():
        value = record.get("relative_norm")
        if value is not None:
            norms.setdefault(str(record.get("partition", "all")), []).append(float(value))
    cards: list[FeatureCard] = []
    for scope, ranked in rankings.items():
        for rank, feature in enumerate(ranked[:cards_per_scope], start=1):
            record = records.get(feature, {})
            entry = by_feature.get(str(feature), []) if isinstance(by_feature, dict) else []
            if isinstance(entry, dict):
                entry = entry.get("examples", [])
            cards.append(
                FeatureCard(
                    feature=feature,
                    partition=str(record.get("partition", "?")),
                    scope=scope,
                    rank=rank,
                    cohens_d=_float(record.get("cohens_d")),
                    auroc=_float(record.get("auroc")),
                    rate_tool=_float(record.get("rate_tool")),
                    rate_general=_float(record.get("rate_general")),
                    relative_norm=_float(record.get("relative_norm")),
                    decoder_cosine=_float(record.get("decoder_cosine")),
                    template_detector=bool(record.get("template_detector", False)),
                    examples=_examples(entry, examples_per_card),
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
