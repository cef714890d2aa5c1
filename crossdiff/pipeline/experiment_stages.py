"""The experiment and report stages of `crossdiff run`.

`StudyState` loads the model pair once per `crossdiff run` and shares the unedited runs between
experiments (generation is deterministic, so sharing cannot change a result). Each experiment
stage loads its dictionaries and rankings from earlier stages, runs one experiment of
`crossdiff.experiments` and saves its typed result as JSON; the report stage reads them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crossdiff.errors import CrossdiffError
from crossdiff.evals.generate import GenerationConfig
from crossdiff.evals.harness import LoadedDictionary, choose_hook_points, load_dictionary
from crossdiff.experiments.core import ExperimentSetup
from crossdiff.experiments.serialize import load_result, save_result
from crossdiff.pipeline.config import RunConfig
from crossdiff.pipeline.runner import StageContext
from crossdiff.pipeline.stages import ANALYSIS_DIR, MEMBERS_DIR, crosscoder_dir, model_sources

if TYPE_CHECKING:
    from crossdiff.models.pair import ModelPair

RESULT_FILE = "result.json"


def steering_rankings(analysis_dir: Path, need: int) -> dict[str, tuple[int, ...]]:
    """Ranked features per scope: the analysis' candidates, then (if fewer than `need`) the
    remaining features of the scope by Cohen's d (the analysis' ranking with no firing filter)."""
    from crossdiff.analysis.config import AnalysisConfig
    from crossdiff.analysis.ranking import rank_candidates
    from crossdiff.analysis.results import load_analysis

    result = load_analysis(analysis_dir)
    relaxed = rank_candidates(
        result.behaviour,
        result.geometry.partition,
        AnalysisConfig(min_tool_rate=0.0, max_general_rate=1.0),
    )
    rankings: dict[str, tuple[int, ...]] = {}
    for scope, entries in result.ranking.scopes.items():
        ranked = [e.feature for e in entries]
        if len(ranked) < need:
            seen = set(ranked)
            ranked += [e.feature for e in relaxed.scopes[scope] if e.feature not in seen]
        rankings[scope] = tuple(ranked[: max(need, len(entries))])
    union = [
        e.feature
        for e in relaxed.scopes["all"]
        if str(result.geometry.partition[e.feature]) in ("a_exclusive", "shared")
    ]
    candidates = {e.feature for e in result.ranking.scopes["all"]}
    ordered = [f for f in union if f in candidates] + [f for f in union if f not in candidates]
    rankings["a_exclusive+shared"] = tuple(ordered[:need])
    return rankings


class StudyState:
    """The pair, loaded once, and the unedited runs shared by every experiment stage."""

    def __init__(self, config: RunConfig, run_dir: Path, show_progress: bool = True) -> None:
        self.config = config
        self.run_dir = run_dir
        self.show_progress = show_progress
        self._pair: ModelPair | None = None
        self.shared_cache: dict = {}

    def pair(self) -> ModelPair:
        """Model A and B (loaded on first use)."""
        if self._pair is None:
            from crossdiff.models.pair import load_model_pair

            source_a, source_b = model_sources(self.config, self.run_dir)
            models = self.config.models
            self._pair = load_model_pair(source_a, source_b, models.dtype, models.device)
        return self._pair

    def dictionary(self, train_stage: str, hook_point: str) -> LoadedDictionary:
        """A trained crosscoder, tagged with the hook point it was trained at.

        The checkpoint's own record of its hook point (if it has one) must agree with the stage's.
        """
        loaded = load_dictionary(str(crosscoder_dir(self.run_dir, train_stage)))
        point, point_b = choose_hook_points(hook_point, None, loaded)
        loaded.dictionary.to(self.config.models.device)
        return LoadedDictionary(loaded.dictionary, loaded.description, point, point_b)

    def setup(
        self, hook_point: str, dictionaries: Mapping[str, LoadedDictionary]
    ) -> ExperimentSetup:
        """An experiment setup on the configured dev/test prompts, sharing unedited runs."""
        from crossdiff.evals.suites import load_suite

        e = self.config.experiments
        setup = ExperimentSetup(
            pair=self.pair(),
            hook_point=hook_point,
            dictionaries=dict(dictionaries),
            dev=load_suite("dev", limit=e.dev_prompts),
            test=load_suite(e.test_suite, limit=e.test_prompts),
            generation=GenerationConfig(
                max_new_tokens=e.max_new_tokens, seed=self.config.seed, batch_size=e.batch_size
            ),
            chat_template=self.config.collect.chat_template,
            policy=e.policy,
            seed=self.config.seed,
            bootstrap_resamples=e.bootstrap_resamples,
            cache=self.shared_cache,
            metric=e.metric,
        )
        return setup


def _save(ctx: StageContext, result: Any) -> dict[str, Any]:
    save_result(result, ctx.out_dir / RESULT_FILE)
    return {"kind": type(result).__name__}


def run_experiment_stage(state: StudyState, ctx: StageContext) -> dict[str, Any]:
    """Run the experiment named `ctx.config['experiment']` and save its result."""
    from crossdiff.experiments import controls, splice, steering

    c = ctx.config
    name = str(c["experiment"])
    e = state.config.experiments
    hook = state.config.collect.hook_point
    names = {"dfc": "train-dfc", "plain": "train-plain", "penalised": "train-penalised"}
    wanted = [d for d in c.get("dictionaries", []) if d in names]
    dictionaries = {d: state.dictionary(names[d], hook) for d in wanted}
    setup = state.setup(hook, dictionaries)
    need = max(max(e.subset_sizes), max(e.ablate_top, default=1))
    dfc_rank = (
        steering_rankings(state.run_dir / "analyze-dfc" / ANALYSIS_DIR, need)
        if "dfc" in wanted
        else {}
    )
    if name in ("splice", "spillover"):
        return _save(
            ctx, splice.splice_experiment(setup, wanted, model=0 if name == "splice" else 1)
        )
    if name == "penalised":
        return _save(
            ctx, splice.penalised_experiment(setup, "dfc", "penalised", e.penalised_lambda_excl)
        )
    if name == "steering":
        sets = [
            steering.FeatureSet(scope, "dfc", dfc_rank.get(scope, ()))
            for scope in ("a_exclusive", "shared", "b_exclusive", "a_exclusive+shared")
        ]
        if "plain" in wanted:
            plain_rank = steering_rankings(state.run_dir / "analyze-plain" / ANALYSIS_DIR, need)
            sets.append(steering.FeatureSet("plain", "plain", plain_rank["all"]))
        return _save(ctx, steering.steering_grid(setup, sets, e.alphas, e.subset_sizes))
    if name == "ablation":
        slices = dictionaries["dfc"].dictionary.partition_slices()
        part = slices["a_exclusive"]
        return _save(
            ctx,
            controls.ablation_experiment(
                setup,
                "dfc",
                dfc_rank.get("a_exclusive", ()),
                e.ablate_top,
                ("a_exclusive", range(part.start, part.stop)),
            ),
        )
    if name == "control":
        grid = load_result(steering.SteeringGridResult, ctx.input_dir("exp-steering") / RESULT_FILE)
        cell = next((p for p in grid.chosen if p.feature_set == "a_exclusive"), None)
        if cell is None:
            raise CrossdiffError("the steering grid chose no A-exclusive cell: nothing to control")
        return _save(ctx, controls.control_experiment(setup, "dfc", cell, e.control_seeds))
    if name == "layers":
        return _save(ctx, _layers(state, setup, need))
    if name == "sweep":
        return _save(ctx, _sweep(state, setup))
    raise CrossdiffError(f"internal: unknown experiment {name!r}")


def _layers(state: StudyState, setup: ExperimentSetup, need: int):
    from crossdiff.experiments.sweeps import LayerInput, layer_sweep

    e = state.config.experiments
    main = state.config.collect.hook_point
    inputs = []
    for hook in e.layers:
        suffix = "dfc" if hook == main else hook
        loaded = state.dictionary(f"train-{suffix}", hook)
        rank = steering_rankings(state.run_dir / f"analyze-{suffix}" / ANALYSIS_DIR, need)
        inputs.append(LayerInput(hook, loaded, rank.get("a_exclusive", ())))
    return layer_sweep(setup, inputs, e.alphas)


def _sweep(state: StudyState, setup: ExperimentSetup):
    from crossdiff.experiments.sweep_grid import evaluate_members

    members_dir = state.run_dir / "sweep" / MEMBERS_DIR
    return evaluate_members(setup, sorted(p for p in members_dir.iterdir() if p.is_dir()))
