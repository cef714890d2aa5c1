"""`crossdiff train`: train a crosscoder (or DFC) on paired activations.

Values come from a TOML file (`[crosscoder]` and `[train]` tables) and are overridden by flags;
flag help is the config field's own description.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from crossdiff.crosscoder.config import (
    CrosscoderConfig,
    RunConfig,
    TrainConfig,
    build_config,
    field_help,
    load_toml,
)
from crossdiff.errors import CrossdiffError

CC, TC = CrosscoderConfig, TrainConfig


def _merge(values: dict[str, Any], table: str, overrides: dict[str, Any]) -> None:
    section = values.setdefault(table, {})
    section.update({name: value for name, value in overrides.items() if value is not None})


def train_command(
    out: Annotated[Path, typer.Option(help="Output directory of the run.")],
    activations: Annotated[
        Path | None, typer.Option(help="A .safetensors file with tensors x_a (n, d_A), x_b.")
    ] = None,
    store: Annotated[Path | None, typer.Option(help="An activation store directory.")] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML file with crosscoder and train tables.")
    ] = None,
    sparsity: Annotated[str | None, typer.Option(help=field_help(CC, "sparsity"))] = None,
    dict_size: Annotated[int | None, typer.Option(help=field_help(CC, "dict_size"))] = None,
    k: Annotated[int | None, typer.Option(help=field_help(CC, "k"))] = None,
    p_a: Annotated[float | None, typer.Option(help="DFC: A-exclusive fraction p_A.")] = None,
    p_b: Annotated[float | None, typer.Option(help="DFC: B-exclusive fraction p_B.")] = None,
    l1_coeff: Annotated[float | None, typer.Option(help=field_help(CC, "l1_coeff"))] = None,
    lambda_shared: Annotated[
        float | None, typer.Option(help=field_help(CC, "lambda_shared"))
    ] = None,
    lambda_excl: Annotated[float | None, typer.Option(help=field_help(CC, "lambda_excl"))] = None,
    dfc_norm_weighted: Annotated[
        bool | None,
        typer.Option(
            "--dfc-norm-weighted/--dfc-unweighted", help=field_help(CC, "dfc_norm_weighted")
        ),
    ] = None,
    normalisation: Annotated[str | None, typer.Option(help=field_help(CC, "normalisation"))] = None,
    dead_after_tokens: Annotated[
        int | None, typer.Option(help=field_help(CC, "dead_after_tokens"))
    ] = None,
    steps: Annotated[int | None, typer.Option(help=field_help(TC, "steps"))] = None,
    batch_size: Annotated[int | None, typer.Option(help=field_help(TC, "batch_size"))] = None,
    lr: Annotated[float | None, typer.Option(help=field_help(TC, "lr"))] = None,
    seed: Annotated[int | None, typer.Option(help=field_help(TC, "seed"))] = None,
    checkpoint_every: Annotated[
        int | None, typer.Option(help=field_help(TC, "checkpoint_every"))
    ] = None,
    log_every: Annotated[int | None, typer.Option(help=field_help(TC, "log_every"))] = None,
    force: Annotated[bool, typer.Option(help="Discard an existing run in --out.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train a crosscoder on paired activations; resumes from --out's last checkpoint."""
    from crossdiff.crosscoder.data import load_activation_file, open_store
    from crossdiff.crosscoder.distributed import (
        process_group_from_environment,
        rank_and_world,
    )
    from crossdiff.crosscoder.trainer import train_crosscoder

    if (activations is None) == (store is None):
        raise CrossdiffError("pass exactly one of --activations FILE.safetensors or --store DIR")
    values: dict[str, Any] = load_toml(config) if config is not None else {}
    partition = None
    if p_a is not None or p_b is not None:
        partition = (p_a or 0.0, p_b or 0.0)
    source = load_activation_file(activations) if activations is not None else open_store(store)
    values.setdefault("crosscoder", {}).setdefault("widths", list(source.widths))
    _merge(
        values,
        "crosscoder",
        dict(
            sparsity=sparsity,
            dict_size=dict_size,
            k=k,
            partition=partition,
            l1_coeff=l1_coeff,
            lambda_shared=lambda_shared,
            lambda_excl=lambda_excl,
            dfc_norm_weighted=dfc_norm_weighted,
            normalisation=normalisation,
            dead_after_tokens=dead_after_tokens,
        ),
    )
    _merge(
        values,
        "train",
        dict(
            steps=steps,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            checkpoint_every=checkpoint_every,
            log_every=log_every,
        ),
    )
    run = build_config(RunConfig, values, str(config) if config else "flags")
    with process_group_from_environment():
        train_crosscoder(run, source, out, force=force, show_progress=progress)
        if rank_and_world()[0] == 0:
            typer.echo(f"crosscoder written to {out / 'crosscoder'}")
