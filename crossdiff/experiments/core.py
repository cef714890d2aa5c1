"""What every experiment shares: the setup, one evaluated condition, and a paired comparison.

An experiment evaluates conditions (an `Intervention` with a named dictionary) on the `dev` or
`test` prompts and compares each with a baseline on the same prompts. Generation, hooks and
scoring are the evaluation harness's (`crossdiff.evals.harness.run_eval`); the statistics are
`crossdiff.evals.statistics`. Conditions are cached per setup, so the unedited baseline is
generated once however many cells compare against it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from crossdiff.errors import CrossdiffError
from crossdiff.evals.compare import METRICS
from crossdiff.evals.generate import GenerationConfig
from crossdiff.evals.harness import EvalSpec, LoadedDictionary, run_eval
from crossdiff.evals.interventions import Intervention
from crossdiff.evals.positions import Policy
from crossdiff.evals.prompt_cache import PromptActivationCache
from crossdiff.evals.statistics import (
    DifferenceInterval,
    FlipTable,
    RateInterval,
    adjust_p_values,
    compare_paired,
)
from crossdiff.world import ToolPrompt

if TYPE_CHECKING:
    from crossdiff.models.pair import ModelPair

Split = Literal["dev", "test"]


@dataclass
class ExperimentSetup:
    """The loaded pair, the dictionaries by name, the prompt sets and how to generate.

    `on_condition` is called with a label each time a new condition is generated (progress).
    `prompt_cache` lets every condition on the same prompts share the other model's prompt
    forward (the prefill-only policies' encoder input).
    """

    pair: ModelPair
    hook_point: str
    dictionaries: Mapping[str, LoadedDictionary]
    dev: Sequence[ToolPrompt]
    test: Sequence[ToolPrompt]
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    chat_template: bool = True
    policy: Policy = "last_prompt_token"
    seed: int = 0
    bootstrap_resamples: int = 2000
    on_condition: Callable[[str], None] | None = None
    cache: dict[tuple[str, str, str, str], ConditionRun] = field(default_factory=dict)
    prompt_cache: PromptActivationCache = field(default_factory=PromptActivationCache)
    metric: str = "full"  # the per-prompt score compared (crossdiff.evals.compare.METRICS)

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise CrossdiffError(f"unknown metric {self.metric!r}; choose one of {METRICS}")

    def prompts(self, split: Split) -> Sequence[ToolPrompt]:
        """The prompts of `split`."""
        return self.dev if split == "dev" else self.test

    def dictionary(self, name: str) -> LoadedDictionary:
        """The dictionary called `name`, or a CrossdiffError listing the loaded ones."""
        if name not in self.dictionaries:
            raise CrossdiffError(
                f"no dictionary {name!r} in this experiment; loaded: {sorted(self.dictionaries)}"
            )
        return self.dictionaries[name]

    def at_hook_point(self, hook_point: str, dictionaries: Mapping[str, LoadedDictionary]):
        """A copy for another hook point (layer sweep) with its own dictionaries and cache.

        The unedited runs are shared: they do not depend on the hook point.
        """
        shared = {k: v for k, v in self.cache.items() if k[0] == ""}
        return dataclasses.replace(
            self, hook_point=hook_point, dictionaries=dictionaries, cache=dict(shared)
        )


@dataclass(frozen=True)
class ConditionRun:
    """One condition evaluated on one split: per-prompt outcomes and texts, in prompt order."""

    label: str
    split: str
    prompt_ids: list[str]
    outcomes: list[bool]
    format_ok: list[bool]
    texts: list[str]

    @property
    def rate(self) -> float:
        """Share of prompts scored fully correct."""
        return sum(self.outcomes) / max(1, len(self.outcomes))


def condition_label(intervention: Intervention, dictionary: str | None) -> str:
    """A readable label: the intervention's, with the dictionary's name when it uses one."""
    if intervention.edit == "none":
        return f"none {'AB'[intervention.model]}"
    return f"{intervention.label()} [{dictionary}]"


def run_condition(
    setup: ExperimentSetup, intervention: Intervention, dictionary: str | None, split: Split
) -> ConditionRun:
    """Generate and score `intervention` on `split` (cached per setup)."""
    uses_dictionary = intervention.needs_dictionary
    dict_name = dictionary if uses_dictionary else None
    key = (
        setup.hook_point if uses_dictionary else "",
        dict_name or "",
        repr(intervention),
        split,
    )
    if key in setup.cache:
        return setup.cache[key]
    label = condition_label(intervention, dict_name)
    if setup.on_condition is not None:
        setup.on_condition(f"{label} on {split}")
    loaded = setup.dictionary(dict_name) if dict_name else LoadedDictionary(None, {}, None)
    spec = EvalSpec(
        suite=split,
        condition=label,
        intervention=intervention,
        hook_point=setup.hook_point if uses_dictionary else None,
        generation=setup.generation,
        chat_template=setup.chat_template,
    )
    prompts = setup.prompts(split)
    records, _ = run_eval(
        setup.pair, prompts, spec, loaded, show_progress=False, prompt_cache=setup.prompt_cache
    )
    run = ConditionRun(
        label=label,
        split=split,
        prompt_ids=[r.prompt_id for r in records],
        outcomes=[bool(r.score[setup.metric]) for r in records],
        format_ok=[bool(r.score["format_ok"]) for r in records],
        texts=[r.text for r in records],
    )
    setup.cache[key] = run
    return run


@dataclass(frozen=True)
class PromptFlip:
    """One prompt's outcome under the baseline and the treatment."""

    prompt_id: str
    baseline: bool
    treatment: bool


@dataclass(frozen=True)
class Comparison:
    """A treatment against a baseline on the same prompts, with every statistic the study lacked.

    `holm_p` / `bh_p` are the McNemar p adjusted over the comparisons of the table this row is
    part of (`family_size` of them); they are None until `adjust` sets them.
    """

    label: str
    baseline_label: str
    split: str
    n: int
    baseline: RateInterval
    treatment: RateInterval
    difference: float
    bootstrap: DifferenceInterval
    paired_t: DifferenceInterval
    flips: FlipTable
    mcnemar_p: float
    per_prompt: list[PromptFlip]
    holm_p: float | None = None
    bh_p: float | None = None
    family_size: int = 1


def compare(setup: ExperimentSetup, baseline: ConditionRun, treatment: ConditionRun) -> Comparison:
    """Compare two runs of the same split prompt by prompt."""
    if baseline.prompt_ids != treatment.prompt_ids:
        raise CrossdiffError(
            f"{baseline.label!r} and {treatment.label!r} were run on different prompts"
        )
    paired = compare_paired(
        baseline.outcomes,
        treatment.outcomes,
        metric=setup.metric,
        seed=setup.seed,
        num_resamples=setup.bootstrap_resamples,
    )
    return Comparison(
        label=treatment.label,
        baseline_label=baseline.label,
        split=baseline.split,
        n=len(baseline.outcomes),
        baseline=paired.baseline,
        treatment=paired.treatment,
        difference=paired.treatment.rate - paired.baseline.rate,
        bootstrap=paired.bootstrap,
        paired_t=paired.paired_t,
        flips=paired.table,
        mcnemar_p=paired.mcnemar_p,
        per_prompt=[
            PromptFlip(pid, b, t)
            for pid, b, t in zip(
                baseline.prompt_ids, baseline.outcomes, treatment.outcomes, strict=True
            )
        ],
    )


def adjust(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """The comparisons with Holm and BH adjusted McNemar p-values over all of them."""
    if not comparisons:
        return []
    raw = [c.mcnemar_p for c in comparisons]
    holm = adjust_p_values(raw, "holm")
    bh = adjust_p_values(raw, "fdr_bh")
    size = len(comparisons)
    return [
        dataclasses.replace(c, holm_p=h, bh_p=b, family_size=size)
        for c, h, b in zip(comparisons, holm, bh, strict=True)
    ]


def baseline_intervention(model: int, policy: Policy) -> Intervention:
    """The unedited model A (0) or B (1)."""
    return Intervention("none", model=model, policy=policy)
