"""The behaviour ranking (METHOD.md §4): which features separate tool prompts from general text.

A candidate fires (activation > threshold) on at least `min_tool_rate` of the tool prompts and at
most `max_general_rate` of the general texts; candidates are ranked by Cohen's d (largest first,
ties broken by AUROC then feature index), within each partition and over the whole dictionary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from crossdiff.analysis.config import SCOPES, AnalysisConfig
from crossdiff.analysis.separation import auroc, cohens_d, firing_rate


@dataclass(frozen=True)
class BehaviourScores:
    """Per-feature separation of tool prompts (pos) from general texts (neg); arrays of length D."""

    cohens_d: np.ndarray
    auroc: np.ndarray
    rate_tool: np.ndarray
    rate_general: np.ndarray
    mean_tool: np.ndarray
    mean_general: np.ndarray
    n_tool: int
    n_general: int


def behaviour_scores(
    tool_codes: torch.Tensor | np.ndarray,
    general_codes: torch.Tensor | np.ndarray,
    threshold: float = 0.1,
) -> BehaviourScores:
    """Cohen's d, AUROC, firing rates and means of every feature between the two groups."""
    tool = np.asarray(tool_codes.double() if isinstance(tool_codes, torch.Tensor) else tool_codes)
    general = np.asarray(
        general_codes.double() if isinstance(general_codes, torch.Tensor) else general_codes
    )
    return BehaviourScores(
        cohens_d=cohens_d(tool, general),
        auroc=auroc(tool, general),
        rate_tool=firing_rate(tool, threshold),
        rate_general=firing_rate(general, threshold),
        mean_tool=tool.mean(axis=0),
        mean_general=general.mean(axis=0),
        n_tool=int(tool.shape[0]),
        n_general=int(general.shape[0]),
    )


def candidate_mask(
    scores: BehaviourScores, min_tool_rate: float, max_general_rate: float
) -> np.ndarray:
    """Boolean (D,) mask of the study's candidates (fires often on tools, rarely on general)."""
    return (scores.rate_tool >= min_tool_rate) & (scores.rate_general <= max_general_rate)


@dataclass(frozen=True)
class RankedFeature:
    """One entry of a ranking."""

    rank: int  # 1-based, within its scope
    feature: int
    partition: str
    cohens_d: float | None  # None when infinite: both groups constant, with different means
    auroc: float
    rate_tool: float
    rate_general: float
    template_detector: bool | None = None  # see template.py; None: undecidable or not computed
    looks_exclusive_only: bool | None = None  # Latent Scaling flag (pipeline.looks_exclusive_only)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return asdict(self)


@dataclass(frozen=True)
class Ranking:
    """Candidates ranked by Cohen's d in each scope: 'all' and each partition."""

    scopes: dict[str, list[RankedFeature]]
    num_candidates: int
    criteria: dict[str, float] = field(default_factory=dict)

    def top(self, scope: str, count: int) -> list[int]:
        """Feature indices of the best `count` candidates of `scope`."""
        return [entry.feature for entry in self.scopes[scope][:count]]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return {
            "criteria": self.criteria,
            "num_candidates": self.num_candidates,
            "scopes": {
                name: [e.to_dict() for e in entries] for name, entries in self.scopes.items()
            },
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Ranking:
        """Inverse of `to_dict`."""
        return Ranking(
            scopes={
                name: [RankedFeature(**entry) for entry in entries]
                for name, entries in data["scopes"].items()
            },
            num_candidates=int(data["num_candidates"]),
            criteria=dict(data["criteria"]),
        )


def finite_or_none(value: float) -> float | None:
    """JSON has no inf or NaN: map them to None."""
    return float(value) if np.isfinite(value) else None


def _flag(flags: np.ndarray | None, index: int) -> bool | None:
    if flags is None or flags[index] is None:
        return None
    return bool(flags[index])


def rank_candidates(
    scores: BehaviourScores,
    partition: np.ndarray,
    config: AnalysisConfig,
    template_detector: np.ndarray | None = None,
    looks_exclusive_only: np.ndarray | None = None,
) -> Ranking:
    """Rank the candidates by Cohen's d within each partition and over the whole dictionary.

    The optional per-feature flags (object arrays of True / False / None) are copied into the
    entries, so a reader of the ranking sees at once which top features are template detectors
    or only look exclusive.
    """
    mask = candidate_mask(scores, config.min_tool_rate, config.max_general_rate)
    features = np.flatnonzero(mask)
    # lexsort sorts by the last key first: d descending, then AUROC descending, then index.
    d_key = np.nan_to_num(scores.cohens_d[features], nan=-np.inf)
    order = features[np.lexsort((features, -scores.auroc[features], -d_key))]
    scopes: dict[str, list[RankedFeature]] = {}
    for scope in SCOPES:
        chosen = order if scope == "all" else order[partition[order] == scope]
        scopes[scope] = [
            RankedFeature(
                rank=rank,
                feature=int(i),
                partition=str(partition[i]),
                cohens_d=finite_or_none(scores.cohens_d[i]),
                auroc=float(scores.auroc[i]),
                rate_tool=float(scores.rate_tool[i]),
                rate_general=float(scores.rate_general[i]),
                template_detector=_flag(template_detector, i),
                looks_exclusive_only=_flag(looks_exclusive_only, i),
            )
            for rank, i in enumerate(chosen, start=1)
        ]
    return Ranking(
        scopes=scopes,
        num_candidates=int(features.size),
        criteria={
            "firing_threshold": config.firing_threshold,
            "min_tool_rate": config.min_tool_rate,
            "max_general_rate": config.max_general_rate,
        },
    )
