"""`crossdiff world ...`: export a split as a JSONL prompt file, show one rendered prompt."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crossdiff.errors import CrossdiffError

world_app = typer.Typer(help="The synthetic tool-use world: splits, prompts, prompt files.")

SplitArg = Annotated[str, typer.Argument(help="train, dev, test or test40")]
SeedOpt = Annotated[int, typer.Option(help="World seed")]


@world_app.command("export")
def export_split(
    split: SplitArg,
    out: Annotated[Path, typer.Option("--out", help="JSONL file to write")],
    seed: SeedOpt = 0,
    size: Annotated[
        int | None, typer.Option(help="Number of prompts (train: any; others: at most theirs)")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file")] = False,
) -> None:
    """Write a split as a JSONL prompt file (the same shape custom prompt files use)."""
    from crossdiff.world import load_split, save_prompts_jsonl

    if out.exists() and not force:
        raise CrossdiffError(f"{out} exists: pass --force to overwrite it, or choose another --out")
    prompts = load_split(split, seed=seed, size=size)
    save_prompts_jsonl(prompts, out)
    typer.echo(f"wrote {len(prompts)} {split} prompts to {out}")


@world_app.command("show")
def show_prompt(
    split: SplitArg = "dev",
    index: Annotated[int, typer.Option(help="Which prompt of the split")] = 0,
    seed: SeedOpt = 0,
) -> None:
    """Print one prompt in the raw layout, followed by its reference answer."""
    from crossdiff.world import load_split, reference_response, render_raw

    prompts = load_split(split, seed=seed, size=index + 1 if split == "train" else None)
    if not 0 <= index < len(prompts):
        raise CrossdiffError(f"--index must be in [0, {len(prompts) - 1}] for {split}, got {index}")
    prompt = prompts[index]
    typer.echo(f"# {prompt.id}\n{render_raw(prompt)} {reference_response(prompt)}")
