"""The analysis stage: decoder geometry, firing statistics, Latent Scaling, the behaviour ranking,
max-activating examples and template detectors (METHOD.md §4)."""

from crossdiff.analysis.config import PARTITIONS, SCOPES, AnalysisConfig
from crossdiff.analysis.examples import ActivatingExample, ids_decoder, max_activating_examples
from crossdiff.analysis.firing import FiringStats
from crossdiff.analysis.geometry import DecoderGeometry, decoder_geometry, geometry_from_vectors
from crossdiff.analysis.latent_scaling import LatentScaling, LatentScalingAccumulator
from crossdiff.analysis.pipeline import AnalysisResult, analyze_activations, analyze_store
from crossdiff.analysis.ranking import (
    BehaviourScores,
    RankedFeature,
    Ranking,
    behaviour_scores,
    candidate_mask,
    rank_candidates,
)
from crossdiff.analysis.results import feature_records, load_analysis, save_analysis
from crossdiff.analysis.rows import RowTable
from crossdiff.analysis.separation import auroc, cohens_d, firing_rate
from crossdiff.analysis.stage import AnalysisRun, default_out, run_analysis
from crossdiff.analysis.template import TemplateFlags, template_flags
from crossdiff.analysis.topk import TopActivations, top_activations

__all__ = [
    "PARTITIONS",
    "SCOPES",
    "ActivatingExample",
    "AnalysisConfig",
    "AnalysisResult",
    "AnalysisRun",
    "BehaviourScores",
    "DecoderGeometry",
    "FiringStats",
    "LatentScaling",
    "LatentScalingAccumulator",
    "RankedFeature",
    "Ranking",
    "RowTable",
    "TemplateFlags",
    "TopActivations",
    "analyze_activations",
    "analyze_store",
    "auroc",
    "behaviour_scores",
    "candidate_mask",
    "cohens_d",
    "decoder_geometry",
    "default_out",
    "feature_records",
    "firing_rate",
    "geometry_from_vectors",
    "ids_decoder",
    "load_analysis",
    "max_activating_examples",
    "rank_candidates",
    "run_analysis",
    "save_analysis",
    "template_flags",
    "top_activations",
]
