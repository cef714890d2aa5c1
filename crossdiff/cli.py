"""The `crossdiff` command: parses arguments, calls one library function per command, prints.

Each stage keeps its command functions in its own module; this file only registers them.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from crossdiff.activations.cli import collect_command, store_app
from crossdiff.commands import study as study_commands
from crossdiff.commands.analyze import analyze_command
from crossdiff.commands.evals import compare_command, eval_command
from crossdiff.commands.train import train_command
from crossdiff.errors import CrossdiffError
from crossdiff.organism.cli import organism_app
from crossdiff.world.cli import world_app

app = typer.Typer(
    name="crossdiff",
    help="Find where fine-tuning put a skill, and switch it on or off at run time.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)

# Stages in data-flow order: world → organism → collect → train → analyze → eval → the study.
app.add_typer(world_app, name="world")
app.add_typer(organism_app, name="organism")
app.command("collect")(collect_command)
app.add_typer(store_app, name="store")
app.command("train")(train_command)
app.command("analyze")(analyze_command)
app.command("eval")(eval_command)
app.command("compare")(compare_command)
app.command("run")(study_commands.run_command)
app.command("experiment")(study_commands.experiment_command)
app.command("steer")(study_commands.steer_command)
app.command("sweep")(study_commands.sweep_command)
app.command("report")(study_commands.report_command)


@app.command()
def version() -> None:
    """Print crossdiff's version and the versions of the libraries it depends on."""
    import torch
    import transformers

    from crossdiff import __version__

    versions = f"torch {torch.__version__}, transformers {transformers.__version__}"
    typer.echo(f"crossdiff {__version__} ({versions})")


@app.callback()
def _root() -> None:
    """Find where fine-tuning put a skill, and switch it on or off at run time."""


def main() -> None:
    """Entry point of the console script: run the app, turning CrossdiffError into one line."""
    try:
        app()
    except CrossdiffError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
