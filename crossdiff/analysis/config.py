"""The settings of the analysis stage, validated before any work starts.

Field descriptions are written once here and reused as CLI help.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

PARTITIONS: tuple[str, ...] = ("a_exclusive", "shared", "b_exclusive")
SCOPES: tuple[str, ...] = ("all", *PARTITIONS)


class AnalysisConfig(BaseModel):
    """How `crossdiff analyze` summarises a crosscoder on an activation store."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    firing_threshold: float = Field(
        0.1, description="A feature fires on a row when its activation is above this (study: 0.1)."
    )
    tool_sources: tuple[str, ...] = Field(
        ("tool_prompts",),
        description="Store sources that count as tool prompts: a source label matches when it "
        "equals an entry or starts with the entry followed by ':'.",
    )
    general_sources: tuple[str, ...] = Field(
        ("general",), description="Store sources that count as general text (matched likewise)."
    )
    max_texts_per_group: int | None = Field(
        None,
        description="Use at most this many tool prompts and general texts in the ranking "
        "(a seeded sample); None uses all.",
    )
    min_tool_rate: float = Field(
        0.3, description="Candidate filter: fires on at least this share of tool prompts."
    )
    max_general_rate: float = Field(
        0.1, description="Candidate filter: fires on at most this share of general texts."
    )
    top_examples: int = Field(20, description="Max-activating examples kept per feature.")
    context_before: int = Field(24, description="Tokens shown before the firing token.")
    context_after: int = Field(4, description="Tokens shown after the firing token.")
    examples_per_scope: int = Field(
        25,
        description="Render max-activating examples for this many top-ranked candidates of each "
        "ranking scope (all, a_exclusive, shared, b_exclusive) and for this many features with "
        "the largest Cohen's d over the whole dictionary, candidates or not.",
    )
    template_ngram: int = Field(
        3, description="Template detector: length of the token n-gram ending at the firing token."
    )
    template_share: float = Field(
        0.8,
        description="Template detector: flag a feature when at least this share of its top "
        "examples end on the same n-gram.",
    )
    template_min_examples: int = Field(
        5, description="Template detector: a feature needs this many firing top examples."
    )
    template_min_texts: int = Field(
        3, description="Template detector: the shared n-gram must occur in this many texts."
    )
    exclusive_relative_norm: float = Field(
        0.9,
        description="A feature looks A-only when its relative norm is >= this, B-only when "
        "<= 1 - this.",
    )
    latent_scaling_ratio: float = Field(
        0.5,
        description="Latent Scaling: a feature that looks exclusive is flagged as only looking "
        "exclusive when either ratio nu (other model / owner model) is >= this.",
    )
    batch_size: int = Field(1024, description="Rows encoded per batch.")
    seed: int = Field(0, description="Seed of the optional per-group sample.")

    @model_validator(mode="after")
    def _check_values(self) -> AnalysisConfig:
        if self.firing_threshold < 0:
            raise ValueError(f"firing_threshold must be >= 0, got {self.firing_threshold}")
        for name in ("min_tool_rate", "max_general_rate", "template_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0.5 <= self.exclusive_relative_norm <= 1:
            raise ValueError(
                f"exclusive_relative_norm must be in [0.5, 1], got {self.exclusive_relative_norm}"
            )
        for name in ("top_examples", "batch_size", "template_ngram", "template_min_examples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("context_before", "context_after", "examples_per_scope"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.template_min_texts < 1:
            raise ValueError(f"template_min_texts must be >= 1, got {self.template_min_texts}")
        if self.max_texts_per_group is not None and self.max_texts_per_group < 2:
            raise ValueError("max_texts_per_group must be >= 2 (Cohen's d needs two per group)")
        if not self.tool_sources or not self.general_sources:
            raise ValueError("tool_sources and general_sources must each name a source")
        if self.latent_scaling_ratio < 0:
            raise ValueError("latent_scaling_ratio must be >= 0")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        return self


def source_matches(label: str, selectors: tuple[str, ...]) -> bool:
    """True when a store source label equals a selector or starts with `selector:`."""
    return any(label == s or label.startswith(s + ":") for s in selectors)
