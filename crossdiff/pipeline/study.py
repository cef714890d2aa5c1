"""`crossdiff run`: the whole study as stages in one run directory, each cached on its inputs.

organism (if the config builds it) → collect → train (DFC, plain, penalised) → analyze →
per-layer collect/train/analyze (layer sweep) → sweep → one stage per experiment → report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossdiff.evals.compare import METRIC_MEANINGS
from crossdiff.pipeline.config import RunConfig, load_run_config
from crossdiff.pipeline.experiment_stages import RESULT_FILE, StudyState, run_experiment_stage
from crossdiff.pipeline.runner import Stage, StageContext, StageOutcome, run_stages
from crossdiff.pipeline.stages import (
    analyze_stage,
    collect_stage,
    model_sources,
    organism_stage,
    sweep_stage,
    train_stage,
)

REPORT_STAGE = "report"
# experiment -> (dictionaries it needs, stages whose results it reads besides those)
EXPERIMENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "splice": (("dfc", "plain"), ()),
    "spillover": (("dfc", "plain"), ()),
    "steering": (("dfc", "plain"), ("analyze-dfc", "analyze-plain")),
    "ablation": (("dfc",), ("analyze-dfc",)),
    "control": (("dfc",), ("exp-steering",)),
    "penalised": (("dfc", "penalised"), ()),
    "layers": ((), ()),
    "sweep": ((), ("sweep",)),
}


def _collect_config(config: RunConfig, run_dir: Path, hook_point: str) -> dict[str, Any]:
    model_a, model_b = model_sources(config, run_dir)
    return {
        **config.collect.model_dump(),
        "hook_point": hook_point,
        "model_a": model_a if config.models.organism == "none" else "organism:rl",
        "model_b": model_b if config.models.organism == "none" else "organism:base",
        "dtype": config.models.dtype,
        "device": config.models.device,
    }


def _with_paths(stage_config: dict[str, Any], config: RunConfig, run_dir: Path) -> dict[str, Any]:
    """The collect config as the stage function needs it (real model paths; not fingerprinted)."""
    model_a, model_b = model_sources(config, run_dir)
    return {**stage_config, "model_a": model_a, "model_b": model_b}


@dataclass
class _Collect:
    """A collect stage body bound to real model paths (the fingerprint uses stable names)."""

    config: RunConfig
    run_dir: Path

    def __call__(self, ctx: StageContext) -> dict[str, Any]:
        resolved = _with_paths(dict(ctx.config), self.config, self.run_dir)
        return collect_stage(
            StageContext(ctx.name, ctx.run_dir, ctx.out_dir, resolved, ctx.seed, ctx.show_progress)
        )


def build_stages(config: RunConfig, run_dir: Path, state: StudyState) -> list[Stage]:
    """Every stage the config asks for, in dependency order."""
    stages: list[Stage] = []
    pair_deps: tuple[str, ...] = ()
    external: dict[str, str] = {}
    if config.models.organism != "none":
        stages.append(
            Stage(
                "organism",
                organism_stage,
                {"size": config.models.organism, "seed": config.models.organism_seed},
            )
        )
        pair_deps = ("organism",)
    else:
        external = {"model_a": str(config.models.model_a), "model_b": str(config.models.model_b)}
    run = set(config.experiments.run)
    main = config.collect.hook_point
    train = dict(config.train)
    tokenizer = model_sources(config, run_dir)[0]

    def data_stages(
        suffix: str, hook: str, crosscoder: dict[str, Any], steps: dict, analyze: bool = True
    ) -> None:
        collect_name = "collect" if hook == main else f"collect-{hook}"
        if not any(s.name == collect_name for s in stages):
            stages.append(
                Stage(
                    collect_name,
                    _Collect(config, run_dir),
                    _collect_config(config, run_dir, hook),
                    pair_deps,
                    external,
                    config.seed,
                )
            )
        stages.append(
            Stage(
                f"train-{suffix}",
                train_stage,
                {"crosscoder": crosscoder, "train": steps, "store_stage": collect_name},
                (collect_name,),
                seed=config.seed,
            )
        )
        if not analyze:
            return
        stages.append(
            Stage(
                f"analyze-{suffix}",
                analyze_stage,
                {
                    "train_stage": f"train-{suffix}",
                    "store_stage": collect_name,
                    "analysis": dict(config.analysis),
                    "tokenizer": tokenizer,
                },
                (collect_name, f"train-{suffix}"),
                seed=config.seed,
            )
        )

    dfc = dict(config.crosscoder)
    data_stages("dfc", main, dfc, train)
    if config.plain.enabled:
        plain = {**dfc, "partition": None, "lambda_excl": 0.0, "lambda_shared": 0.0}
        plain["l1_coeff"] = config.plain.l1_coeff
        data_stages("plain", main, plain, train)
    if "penalised" in run:
        penalised = {**dfc, "lambda_excl": config.experiments.penalised_lambda_excl}
        data_stages("penalised", main, penalised, train, analyze=False)
    short = {**train, "steps": config.sweep.steps or train.get("steps", 1000)}
    if "layers" in run:
        for hook in config.experiments.layers:
            if hook != main:
                data_stages(hook, hook, dfc, short)
    if "sweep" in run:
        stages.append(
            Stage(
                "sweep",
                sweep_stage,
                {
                    "preset": config.sweep.preset,
                    "crosscoder": dfc,
                    "train": short,
                    "store_stage": "collect",
                },
                ("collect",),
                seed=config.seed,
            )
        )
    trained = {s.name for s in stages}
    for name in config.experiments.run:
        dictionaries, reads = EXPERIMENTS[name]
        dictionaries = tuple(d for d in dictionaries if f"train-{d}" in trained)
        deps = list(pair_deps) + [f"train-{d}" for d in dictionaries]
        deps += [r for r in reads if r in trained or r.startswith("exp-")]
        if name == "layers":
            for hook in config.experiments.layers:
                suffix = "dfc" if hook == main else hook
                deps += [f"train-{suffix}", f"analyze-{suffix}"]
        if name == "control" and "steering" not in run:
            continue
        stages.append(
            Stage(
                f"exp-{name}",
                lambda ctx, state=state: run_experiment_stage(state, ctx),
                {
                    "experiment": name,
                    "dictionaries": list(dictionaries),
                    "experiments": config.experiments.model_dump(mode="json"),
                    "hook_point": main,
                    "chat_template": config.collect.chat_template,
                },
                tuple(dict.fromkeys(deps)),
                external,
                config.seed,
            )
        )
    report_deps = [s.name for s in stages if s.name.startswith("exp-")] + ["analyze-dfc"]
    stages.append(
        Stage(
            REPORT_STAGE,
            lambda ctx: report_stage(config, ctx),
            {"title": "crossdiff study"},
            tuple(report_deps),
        )
    )
    return stages


def report_stage(config: RunConfig, ctx: StageContext) -> dict[str, Any]:
    """Build the report from every experiment's saved result and the DFC's analysis."""
    from crossdiff.experiments import controls, splice, steering, sweeps
    from crossdiff.experiments.serialize import load_result
    from crossdiff.pipeline.stages import ANALYSIS_DIR
    from crossdiff.report.build import write_report_files
    from crossdiff.report.inputs import StudyResults, analysis_summary_from_dir

    def result(stage: str, kind: type) -> Any:
        path = ctx.run_dir / stage / RESULT_FILE
        return load_result(kind, path) if path.is_file() else None

    grid = result("exp-steering", steering.SteeringGridResult)
    model_a, model_b = model_sources(config, ctx.run_dir)
    e = config.experiments
    results = StudyResults(
        title="crossdiff: where did tuning put tool use?",
        pair={
            "model A (tuned)": model_a,
            "model B (base)": model_b,
            "hook point": config.collect.hook_point,
            "positions": config.collect.positions,
            "prompt layout": "chat template" if config.collect.chat_template else "raw",
            "dev prompts (choosing)": str(e.dev_prompts),
            "test suite (reporting)": e.test_suite,
            "steering policy": e.policy,
            "metric": f"{e.metric}: {METRIC_MEANINGS[e.metric]}",
        },
        splice=result("exp-splice", splice.SpliceResult),
        spillover=result("exp-spillover", splice.SpliceResult),
        steering=grid,
        saturation=steering.saturation_curve(grid) if grid is not None else None,
        ablation=result("exp-ablation", controls.AblationResult),
        control=result("exp-control", controls.ControlResult),
        penalised=result("exp-penalised", splice.PenalisedResult),
        layers=result("exp-layers", sweeps.LayerSweepResult),
        correlation=result("exp-sweep", sweeps.CorrelationResult),
        analysis=analysis_summary_from_dir(ctx.run_dir / "analyze-dfc" / ANALYSIS_DIR),
    )
    files = write_report_files(results, ctx.out_dir)
    return {"filled": files.filled}


def run_study(
    config: RunConfig | str | Path | None,
    run_dir: str | Path,
    force: tuple[str, ...] = (),
    until: str | None = None,
    show_progress: bool = True,
) -> list[StageOutcome]:
    """Run the study's stages in `run_dir` (stopping after stage `until` if given)."""
    if not isinstance(config, RunConfig):
        config = load_run_config(config)
    root = Path(run_dir)
    state = StudyState(config, root, show_progress)
    stages = build_stages(config, root, state)
    if until is not None:
        names = [s.name for s in stages]
        if until not in names:
            from crossdiff.errors import CrossdiffError

            raise CrossdiffError(f"no stage {until!r} in this run; stages are {names}")
        needed = {until}
        for stage in reversed(stages):
            if stage.name in needed:
                needed.update(stage.depends_on)
        stages = [s for s in stages if s.name in needed]
    return run_stages(stages, root, force=force, show_progress=show_progress)
