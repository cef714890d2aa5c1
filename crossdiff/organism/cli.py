"""`crossdiff organism ...`: build the built-in base model and its RL-tuned twin."""

from __future__ import annotations

import signal
import sys
import warnings
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
    from crossdiff.organism.build import WeakTwinWarning, build_organism

    # A SIGTERM becomes SystemExit, so the temporary build directory is removed on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeakTwinWarning)  # printed below, one line each
        manifest = build_organism(out, size=size, seed=seed, force=force)
    evaluation = manifest["evaluation"]
    base, rl = evaluation["base"]["summary"], evaluation["rl"]["summary"]
    typer.echo(
        f"wrote {out} in {manifest['seconds']['total']:.0f} s: "
        f"base full {_rate(base['full_correctness'])} format {_rate(base['format_rate'])}; "
        f"rl full {_rate(rl['full_correctness'])} format {_rate(rl['format_rate'])} "
        f"selection {_rate(rl['selection_rate'])} "
        f"false-call {_rate(rl['false_call_rate'])}; "
        f"general loss ratio {evaluation['general_loss_ratio']:.3f}"
    )
    for warning in manifest["warnings"]:
        typer.echo(f"warning: {warning}", err=True)


def _rate(value: float | None) -> str:
    """A rate to two places, or n/a where the evaluation had no prompt it applies to."""
    return "n/a" if value is None else f"{value:.2f}"
