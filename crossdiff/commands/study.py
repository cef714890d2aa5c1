"""`crossdiff run`, `experiment`, `steer`, `sweep` and `report`: the study end to end.

Each command parses its options and calls one library function; `run`, `experiment`, `steer` and
`report` all run (the needed part of) the cached stage pipeline of `crossdiff.pipeline.study`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from crossdiff.errors import CrossdiffError

CONFIG_HELP = "Run config TOML (default: configs/organism.toml, the built-in organism)."
OUT_HELP = "Run directory: every stage's files; re-running reuses unchanged stages."
DEFAULT_RUN = Path("runs/study")
console = Console()

ConfigOption = Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)]
OutOption = Annotated[Path, typer.Option("--out", help=OUT_HELP)]
ProgressOption = Annotated[bool, typer.Option(help="Show progress.")]


def _print_outcomes(outcomes) -> None:
    ran = [o.name for o in outcomes if o.status == "ran"]
    console.print(f"{len(ran)} stage(s) ran, {len(outcomes) - len(ran)} reused", highlight=False)


def run_command(
    config: ConfigOption = None,
    out: OutOption = DEFAULT_RUN,
    force_stage: Annotated[
        list[str] | None, typer.Option(help="Re-run this stage even if unchanged (repeatable).")
    ] = None,
    progress: ProgressOption = True,
) -> None:
    """Run the whole study: organism (if needed), collect, train, analyze, experiments, report."""
    from crossdiff.pipeline.study import run_study

    outcomes = run_study(config, out, tuple(force_stage or ()), show_progress=progress)
    _print_outcomes(outcomes)
    console.print(f"report: {out / 'report' / 'report.html'}", highlight=False)


def experiment_command(
    name: Annotated[
        str,
        typer.Argument(
            help="splice, spillover, steering, ablation, control, penalised, layers or sweep"
        ),
    ],
    config: ConfigOption = None,
    out: OutOption = DEFAULT_RUN,
    progress: ProgressOption = True,
) -> None:
    """Run one experiment of the study (and the stages it needs) and print where its result is."""
    from crossdiff.pipeline.config import EXPERIMENT_NAMES
    from crossdiff.pipeline.study import run_study

    if name not in EXPERIMENT_NAMES:
        raise CrossdiffError(f"unknown experiment {name!r}; choose one of {EXPERIMENT_NAMES}")
    outcomes = run_study(config, out, until=f"exp-{name}", show_progress=progress)
    _print_outcomes(outcomes)
    console.print(f"result: {out / f'exp-{name}' / 'result.json'}", highlight=False)


def steer_command(
    config: ConfigOption = None,
    out: OutOption = DEFAULT_RUN,
    progress: ProgressOption = True,
) -> None:
    """Run the steering grid (cells chosen on dev, reported on test) and print the chosen cells."""
    from crossdiff.experiments.serialize import load_result
    from crossdiff.experiments.steering import SteeringGridResult
    from crossdiff.pipeline.study import run_study

    run_study(config, out, until="exp-steering", show_progress=progress)
    grid = load_result(SteeringGridResult, out / "exp-steering" / "result.json")
    table = Table(title=f"steering: {grid.dev_cells_tried} dev cells tried")
    for column in ("set", "features", "α", "dev Δ pp", "test Δ pp", "95 % (bootstrap)", "Holm p"):
        table.add_column(column)
    for p in grid.chosen:
        b = p.test.bootstrap
        table.add_row(
            p.feature_set,
            str(list(p.features)),
            f"{p.alpha:g}",
            f"{p.dev_difference * 100:+.1f}",
            f"{p.test.difference * 100:+.1f}",
            f"[{b.low * 100:+.1f}, {b.high * 100:+.1f}]",
            f"{p.test.holm_p:.3g}" if p.test.holm_p is not None else "—",
        )
    console.print(table)


def sweep_command(
    store: Annotated[Path, typer.Option(help="The activation store to train every member on.")],
    out: Annotated[Path, typer.Option(help="Sweep directory; finished members are skipped.")],
    preset: Annotated[
        str, typer.Option(help="Grid: 'small' (organism) or 'study' (48).")
    ] = "small",
    config: ConfigOption = None,
    steps: Annotated[int | None, typer.Option(help="Training steps per member.")] = None,
    evaluate: Annotated[
        bool, typer.Option(help="Also splice each member into model A on the test prompts.")
    ] = True,
    progress: ProgressOption = True,
) -> None:
    """Train a grid of crosscoders from one store (resumable) and print one result table."""
    from crossdiff.experiments.sweep_grid import preset_grid, train_sweep
    from crossdiff.pipeline.config import load_run_config

    run = load_run_config(config)
    train = {**run.train, "steps": steps or run.sweep.steps or run.train.get("steps", 1000)}
    records = train_sweep(
        store, out, preset_grid(preset), run.crosscoder, train, show_progress=progress
    )
    table = Table(title=f"sweep {preset}: {len(records)} members")
    columns = ["member", "FVU A", "FVU B"] + (["splice Δ pp", "95 %", "Holm p"] if evaluate else [])
    for column in columns:
        table.add_column(column)
    rows = {r["name"]: [r["name"], f"{r['fvu_a']:.3f}", f"{r['fvu_b']:.3f}"] for r in records}
    if evaluate:
        from crossdiff.pipeline.sweep_eval import evaluate_sweep_dir

        result = evaluate_sweep_dir(run, store, out, [r["name"] for r in records])
        for m in result.members:
            b = m.splice.bootstrap
            rows[m.name] += [
                f"{m.splice.difference * 100:+.1f}",
                f"[{b.low * 100:+.1f}, {b.high * 100:+.1f}]",
                f"{m.splice.holm_p:.3g}",
            ]
        if result.pearson_r is not None:
            console.print(
                f"splice gain vs FVU A: r = {result.pearson_r:+.2f} "
                f"[{result.pearson_low:+.2f}, {result.pearson_high:+.2f}]",
                highlight=False,
            )
    for row in rows.values():
        table.add_row(*row)
    console.print(table)


def report_command(
    config: ConfigOption = None,
    out: OutOption = DEFAULT_RUN,
    progress: ProgressOption = True,
) -> None:
    """(Re)build the report of a run directory, running any stage it still lacks."""
    from crossdiff.pipeline.study import run_study

    run_study(config, out, until="report", show_progress=progress)
    console.print(f"report: {out / 'report' / 'report.html'}", highlight=False)
