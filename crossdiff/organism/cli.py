"""`crossdiff organism ...`: build the built-in base model and its RL-tuned twin."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

organism_app = typer.Typer(
    help="The built-in model organism: a base that stalls, a twin that calls."
)


@organism_app.command("build")
def build(
    out: Annotated[
        Path, typer.Option("--out", help="Directory to write base/, rl/, organism.json")
    ],
    size: Annotated[str, typer.Option(help="micro (seconds, for tests) or default")] = "default",
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives identical weights")] = 0,
    force: Annotated[bool, typer.Option(help="Replace a non-empty --out directory")] = False,
) -> None:
    """Train the tokenizer, the base model and its GRPO twin, evaluate both, write them to --out."""
    from crossdiff.organism.build import build_organism

    # A SIGTERM becomes SystemExit, so the temporary build directory is removed on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    manifest = build_organism(out, size=size, seed=seed, force=force)
    evaluation = manifest["evaluation"]
    base, rl = evaluation["base"]["summary"], evaluation["rl"]["summary"]
    typer.echo(
        f"wrote {out} in {manifest['seconds']['total']:.0f} s: "
        f"base full {base['full_correctness']:.2f} format {base['format_rate']:.2f}; "
        f"rl full {rl['full_correctness']:.2f} format {rl['format_rate']:.2f} "
        f"selection {rl['selection_rate']:.2f} false-call {rl['false_call_rate']:.2f}; "
        f"general loss ratio {evaluation['general_loss_ratio']:.3f}"
    )
