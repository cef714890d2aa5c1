"""`crossdiff analyze`: per-feature statistics and the behaviour ranking of a trained crosscoder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from crossdiff.analysis.config import AnalysisConfig
from crossdiff.crosscoder.config import build_config, field_help

AC = AnalysisConfig


def analyze_command(
    crosscoder: Annotated[Path, typer.Option(help="Crosscoder checkpoint directory.")],
    store: Annotated[Path, typer.Option(help="Activation store directory.")],
    out: Annotated[
        Path | None, typer.Option(help="Output directory (default: <crosscoder>-analysis).")
    ] = None,
    tool_source: Annotated[
        list[str] | None, typer.Option(help=field_help(AC, "tool_sources"))
    ] = None,
    general_source: Annotated[
        list[str] | None, typer.Option(help=field_help(AC, "general_sources"))
    ] = None,
    firing_threshold: Annotated[float, typer.Option(help=field_help(AC, "firing_threshold"))] = 0.1,
    min_tool_rate: Annotated[float, typer.Option(help=field_help(AC, "min_tool_rate"))] = 0.3,
    max_general_rate: Annotated[float, typer.Option(help=field_help(AC, "max_general_rate"))] = 0.1,
    max_texts: Annotated[
        int | None, typer.Option(help=field_help(AC, "max_texts_per_group"))
    ] = None,
    top_examples: Annotated[int, typer.Option(help=field_help(AC, "top_examples"))] = 20,
    examples_per_scope: Annotated[
        int, typer.Option(help=field_help(AC, "examples_per_scope"))
    ] = 25,
    batch_size: Annotated[int, typer.Option(help=field_help(AC, "batch_size"))] = 1024,
    seed: Annotated[int, typer.Option(help=field_help(AC, "seed"))] = 0,
    tokenizer: Annotated[
        str | None,
        typer.Option(
            help="Tokenizer used to render examples (default: model A's, from the store)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Recompute and replace --out.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Decoder geometry, firing rates, Latent Scaling, Cohen's d / AUROC ranking, examples."""
    from crossdiff.analysis.stage import run_analysis

    config = build_config(
        AnalysisConfig,
        {
            "tool_sources": tuple(tool_source or ["tool_prompts"]),
            "general_sources": tuple(general_source or ["general"]),
            "firing_threshold": firing_threshold,
            "min_tool_rate": min_tool_rate,
            "max_general_rate": max_general_rate,
            "max_texts_per_group": max_texts,
            "top_examples": top_examples,
            "examples_per_scope": examples_per_scope,
            "batch_size": batch_size,
            "seed": seed,
        },
        "command line",
    )
    run = run_analysis(crosscoder, store, out, config, force, tokenizer, show_progress=not quiet)
    console = Console()
    if run.skipped:
        console.print(f"analysis up to date: {run.out}")
        return
    summary = run.manifest["summary"]
    console.print(
        f"analysed {summary['dict_size']} features on {summary['num_rows']} rows "
        f"({summary['tool_texts']} tool prompts, {summary['general_texts']} general texts): "
        f"{summary['num_candidates']} candidates, {summary['template_detectors']} template "
        f"detectors -> {run.out}"
    )
    for scope, features in summary["top_features"].items():
        console.print(f"  top {scope}: {features}")
