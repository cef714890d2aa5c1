"""The data stages of `crossdiff run`: organism → collect → train → analyze, and the sweep.

Each function is a stage body: it reads earlier stages' directories through the context and writes
into `ctx.out_dir`, calling the owning stage's library (organism build, paired collection, the
crosscoder trainer, the analysis). Directory names inside each stage are fixed here.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from crossdiff.pipeline.config import RunConfig
from crossdiff.pipeline.runner import StageContext

PAIR_DIR = "pair"
STORE_DIR = "store"
TRAIN_DIR = "train"
ANALYSIS_DIR = "analysis"
MEMBERS_DIR = "members"


def model_sources(config: RunConfig, run_dir: Path) -> tuple[str, str]:
    """(model A, model B): the organism's rl/ and base/, or the configured names."""
    if config.models.organism != "none":
        pair = run_dir / "organism" / PAIR_DIR
        return str(pair / "rl"), str(pair / "base")
    assert config.models.model_a and config.models.model_b
    return config.models.model_a, config.models.model_b


def organism_stage(ctx: StageContext) -> dict[str, Any]:
    """Build the organism (base/ and rl/ twins) with the organism stage's builder."""
    from crossdiff.organism.build import build_organism

    manifest = build_organism(
        ctx.out_dir / PAIR_DIR,
        size=str(ctx.config["size"]),
        seed=int(ctx.config["seed"]),
        show_progress=ctx.show_progress,
    )
    return {"size": ctx.config["size"], "evaluation": manifest.get("evaluation", {})}


def collect_stage(ctx: StageContext) -> dict[str, Any]:
    """Collect paired activations of tool prompts and general texts at one hook point."""
    from crossdiff.activations.collect import CollectConfig, collect
    from crossdiff.activations.sources import SourceSpec

    c = ctx.config
    config = CollectConfig(
        model_a=c["model_a"],
        model_b=c["model_b"],
        hook_point=c["hook_point"],
        sources=[
            SourceSpec(kind="tool_prompts", split="train", count=c["tool_prompts"], seed=ctx.seed),
            SourceSpec(kind="general", split="train", count=c["general_texts"], seed=ctx.seed),
        ],
        positions=c["positions"],
        chat_template=c["chat_template"],
        batch_size=c["batch_size"],
        max_length=c["max_length"],
        dtype="fp32",
        model_dtype=c["dtype"],
        device=c["device"],
    )
    manifest = collect(config, ctx.out_dir / STORE_DIR, show_progress=ctx.show_progress)
    return {"num_rows": manifest.get("num_rows"), "hook_point": c["hook_point"]}


def train_stage(ctx: StageContext) -> dict[str, Any]:
    """Train one crosscoder on the store of `ctx.config['store_stage']`."""
    from crossdiff.crosscoder.config import RunConfig as TrainRun
    from crossdiff.crosscoder.config import build_config
    from crossdiff.crosscoder.data import open_store
    from crossdiff.crosscoder.trainer import train_crosscoder

    store = ctx.input_dir(str(ctx.config["store_stage"])) / STORE_DIR
    source = open_store(store)
    values = {
        "crosscoder": {**ctx.config["crosscoder"], "widths": list(source.widths)},
        "train": dict(ctx.config["train"]),
    }
    run = build_config(TrainRun, values, f"run config, stage {ctx.name}")
    train_crosscoder(run, source, ctx.out_dir / TRAIN_DIR, show_progress=ctx.show_progress)
    return {"dict_size": run.crosscoder.dict_size, "partition": run.crosscoder.partition}


def crosscoder_dir(run_dir: Path, train_stage_name: str) -> Path:
    """The final checkpoint directory of a train stage."""
    from crossdiff.crosscoder.trainer import FINAL_DIR

    return run_dir / train_stage_name / TRAIN_DIR / FINAL_DIR


def analyze_stage(ctx: StageContext) -> dict[str, Any]:
    """Analyse a trained crosscoder on its store (geometry, ranking, examples, templates)."""
    from crossdiff.analysis.config import AnalysisConfig
    from crossdiff.analysis.stage import run_analysis

    run = run_analysis(
        crosscoder_dir(ctx.run_dir, str(ctx.config["train_stage"])),
        ctx.input_dir(str(ctx.config["store_stage"])) / STORE_DIR,
        out=ctx.out_dir / ANALYSIS_DIR,
        config=AnalysisConfig(**ctx.config["analysis"]),
        tokenizer=ctx.config.get("tokenizer"),
        show_progress=ctx.show_progress,
    )
    return {"candidates": run.manifest.get("num_candidates")}


def sweep_stage(ctx: StageContext) -> dict[str, Any]:
    """Train the sweep's members (resumable in a work directory), then copy them into place."""
    from crossdiff.experiments.sweep_grid import preset_grid, train_sweep

    work = ctx.run_dir / ".work" / ctx.name
    records = train_sweep(
        ctx.input_dir(str(ctx.config["store_stage"])) / STORE_DIR,
        work,
        preset_grid(str(ctx.config["preset"])),
        ctx.config["crosscoder"],
        ctx.config["train"],
        show_progress=ctx.show_progress,
    )
    members = ctx.out_dir / MEMBERS_DIR
    for record in records:
        source = work / record["name"]
        (members / record["name"]).mkdir(parents=True)
        shutil.copytree(source / TRAIN_DIR / "crosscoder", members / record["name"] / "crosscoder")
        shutil.copy2(source / "member.json", members / record["name"] / "member.json")
    shutil.rmtree(work, ignore_errors=True)
    if work.parent.is_dir() and not any(work.parent.iterdir()):
        work.parent.rmdir()
    return {"members": len(records)}
