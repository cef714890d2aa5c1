"""`crossdiff collect` and `crossdiff store info|verify`: thin wrappers over the library."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from crossdiff.activations.sources import SourceSpec
from crossdiff.errors import CrossdiffError

store_app = typer.Typer(help="Inspect and verify activation stores.", no_args_is_help=True)


def _split_count(value: str, option: str, default_split: str) -> tuple[str, int | None]:
    """Parse 'SPLIT:COUNT', 'SPLIT' or 'COUNT'."""
    split, _, count = value.partition(":")
    if not count and split.isdigit():
        split, count = default_split, split
    if count and not count.isdigit():
        raise CrossdiffError(f"{option} {value!r}: expected SPLIT[:COUNT], e.g. train:2000")
    return split or default_split, int(count) if count else None


def parse_sources(
    tool_prompts: list[str],
    general: list[str],
    jsonl: list[Path],
    text_file: list[Path],
    hf_dataset: list[str],
    seed: int,
) -> list[SourceSpec]:
    """Turn the CLI's input options into SourceSpecs, in a fixed order."""
    specs: list[SourceSpec] = []
    for value in tool_prompts:
        split, count = _split_count(value, "--tool-prompts", "train")
        specs.append(SourceSpec(kind="tool_prompts", split=split, count=count, seed=seed))
    for value in general:
        split, count = _split_count(value, "--general", "train")
        specs.append(SourceSpec(kind="general", split=split, count=count, seed=seed))
    specs += [SourceSpec(kind="jsonl", path=str(path)) for path in jsonl]
    specs += [SourceSpec(kind="text_file", path=str(path)) for path in text_file]
    for value in hf_dataset:
        parts = value.split(":")
        if len(parts) > 4 or (len(parts) == 4 and not parts[3].isdigit()):
            raise CrossdiffError(f"--hf-dataset {value!r}: expected NAME[:SPLIT[:COLUMN[:COUNT]]]")
        specs.append(
            SourceSpec(
                kind="hf",
                name=parts[0],
                split=parts[1] if len(parts) > 1 and parts[1] else "train",
                column=parts[2] if len(parts) > 2 and parts[2] else "text",
                count=int(parts[3]) if len(parts) == 4 else None,
            )
        )
    return specs


def collect_command(
    model_a: Annotated[str, typer.Option(help="Model A (tuned): save_pretrained dir or hub id.")],
    model_b: Annotated[str, typer.Option(help="Model B (base): save_pretrained dir or hub id.")],
    hook_point: Annotated[
        str, typer.Option(help="resid_post.L, resid_pre.L or module:<dotted.path>[:input].")
    ],
    out: Annotated[Path, typer.Option(help="Store directory to write.")],
    tool_prompts: Annotated[
        list[str], typer.Option(help="World tool prompts SPLIT[:COUNT] (repeatable).")
    ] = [],  # noqa: B006  (typer needs a literal default)
    general: Annotated[
        list[str], typer.Option(help="World general texts [SPLIT:]COUNT (repeatable).")
    ] = [],  # noqa: B006
    jsonl: Annotated[
        list[Path], typer.Option(help="JSONL of world prompts or {'text','id'} lines.")
    ] = [],  # noqa: B006
    text_file: Annotated[list[Path], typer.Option(help="Text file, one text per line.")] = [],  # noqa: B006
    hf_dataset: Annotated[
        list[str], typer.Option(help="HF dataset NAME[:SPLIT[:COLUMN[:COUNT]]] (needs datasets).")
    ] = [],  # noqa: B006
    seed: Annotated[int, typer.Option(help="Seed of the world's datasets.")] = 0,
    positions: Annotated[str, typer.Option(help="'last' prompt token or 'all' tokens.")] = "last",
    raw: Annotated[
        bool, typer.Option("--raw", help="Render prompts as raw text, not the chat template.")
    ] = False,
    hook_point_b: Annotated[str | None, typer.Option(help="Model B's hook point if other.")] = None,
    batch_size: Annotated[int, typer.Option(help="Texts per forward pass.")] = 16,
    max_length: Annotated[int, typer.Option(help="Tokens kept per text.")] = 1024,
    shard_size: Annotated[int, typer.Option(help="Rows per shard.")] = 8192,
    dtype: Annotated[str, typer.Option(help="Storage dtype: fp32, bf16, fp16.")] = "fp32",
    model_dtype: Annotated[str, typer.Option(help="Model dtype: fp32, bf16, fp16.")] = "fp32",
    device: Annotated[str, typer.Option(help="Device of both models.")] = "cpu",
    device_map: Annotated[str | None, typer.Option(help="transformers device_map.")] = None,
    padding_side: Annotated[str, typer.Option(help="Pad 'right' or 'left'.")] = "right",
    force: Annotated[bool, typer.Option(help="Replace an existing store.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Collect paired activations of model A and model B into a sharded store."""
    from pydantic import ValidationError

    from crossdiff.activations.collect import CollectConfig, collect

    specs = parse_sources(tool_prompts, general, jsonl, text_file, hf_dataset, seed)
    try:
        config = CollectConfig(
            model_a=model_a,
            model_b=model_b,
            hook_point=hook_point,
            hook_point_b=hook_point_b,
            sources=specs,
            positions=positions,  # type: ignore[arg-type]
            chat_template=not raw,
            batch_size=batch_size,
            max_length=max_length,
            shard_size=shard_size,
            dtype=dtype,  # type: ignore[arg-type]
            model_dtype=model_dtype,  # type: ignore[arg-type]
            device=device,
            device_map=device_map,
            padding_side=padding_side,  # type: ignore[arg-type]
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "--" + "-".join(str(p) for p in first["loc"]).replace("_", "-")
        raise CrossdiffError(f"{field}: {first['msg']}") from None
    manifest = collect(config, out, force=force, show_progress=progress)
    typer.echo(
        f"{out}: {manifest['num_rows']} rows from {manifest['num_texts']} texts, widths "
        f"{tuple(manifest['widths'])}, {len(manifest['shards'])} shards ({manifest['dtype']})"
    )


@store_app.command("info")
def store_info(path: Annotated[Path, typer.Argument(help="Store directory.")]) -> None:
    """Print a store's summary: models, hook point, positions, rows, widths, shards."""
    from crossdiff.activations.store import ActivationStore

    store = ActivationStore(path)
    manifest = store.manifest
    summary = {
        "models": {k: v.get("name") for k, v in manifest.get("models", {}).items()},
        "hook_point": manifest.get("hook_point"),
        "positions": manifest["positions"],
        "dtype": manifest["dtype"],
        "num_rows": store.num_rows,
        "widths": list(store.widths),
        "shards": len(store.shards),
        "mean_norm": [store.stats[0].mean_norm, store.stats[1].mean_norm],
    }
    typer.echo(json.dumps(summary, indent=2))


@store_app.command("verify")
def store_verify(path: Annotated[Path, typer.Argument(help="Store directory.")]) -> None:
    """Check every shard's SHA-256 against the manifest."""
    from crossdiff.activations.store import ActivationStore

    store = ActivationStore(path)
    store.verify()
    typer.echo(f"{path}: {len(store.shards)} shards, {store.num_rows} rows, all checksums match")
