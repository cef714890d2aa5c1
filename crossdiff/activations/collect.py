"""Paired collection: run both models on the same token ids to the hook point and store the pairs.

The store is built in `<out>.partial` and renamed to `<out>` once its manifest is written. A killed
collection resumes from `<out>.partial` when rerun with the same settings and inputs (its
fingerprint); a finished store with the same fingerprint is left as it is.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, Literal

import torch
import transformers
from pydantic import BaseModel, ConfigDict, Field
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import Tensor

import crossdiff
from crossdiff.activations.shards import STORAGE_DTYPES, write_store_file
from crossdiff.activations.sources import SourceSpec, TextRecord, load_records
from crossdiff.activations.store import STORE_FORMAT, STORE_VERSION, TEXTS_FILE
from crossdiff.activations.tokens import (
    PaddingSide,
    Positions,
    TokenBatch,
    select_positions,
    tokenize_batch,
)
from crossdiff.activations.writer import MANIFEST_FILE, StoreWriter
from crossdiff.files import prepare_output_dir, read_json, sha256_json
from crossdiff.models.capture import forward_to_hook
from crossdiff.models.hookpoints import HookPoint, resolve_hook_point
from crossdiff.models.pair import ModelPair, load_model_pair, load_tokenizer


class CollectConfig(BaseModel):
    """Everything that decides the contents of an activation store."""

    model_config = ConfigDict(extra="forbid")

    model_a: str = Field(description="model A (tuned): local save_pretrained dir or hub id")
    model_b: str = Field(description="model B (base): local save_pretrained dir or hub id")
    hook_point: str = Field(description="resid_post.L, resid_pre.L or module:<path>[:input]")
    hook_point_b: str | None = Field(None, description="model B's hook point if it differs")
    sources: list[SourceSpec] = Field(default_factory=list)
    positions: Positions = Field("last", description="last prompt token, or all tokens")
    chat_template: bool = Field(True, description="render tool prompts with the chat template")
    batch_size: int = Field(16, ge=1, description="texts per forward pass")
    max_length: int = Field(1024, ge=1, description="tokens kept per text")
    shard_size: int = Field(8192, ge=1, description="rows per shard")
    dtype: Literal["fp32", "bf16", "fp16"] = Field("fp32", description="storage dtype")
    model_dtype: Literal["fp32", "bf16", "fp16"] = Field("fp32", description="model dtype")
    device: str = Field("cpu", description="device of both models (cpu, cuda, cuda:1)")
    device_map: str | None = Field(None, description="transformers device_map, e.g. auto")
    padding_side: PaddingSide = Field("right", description="pad on the right or the left")


def _input_device(model: torch.nn.Module) -> torch.device:
    return model.get_input_embeddings().weight.device


def collect_batch(
    pair: ModelPair,
    hooks: tuple[HookPoint, HookPoint],
    batch: TokenBatch,
    first_text_index: int,
    positions: Positions,
) -> dict[str, Tensor]:
    """Run both models on one tokenised batch; return the rows to store (on the CPU)."""
    rows, columns = select_positions(batch, positions)
    out: dict[str, Tensor] = {}
    for key, model, hook in (("x_a", pair.model_a, hooks[0]), ("x_b", pair.model_b, hooks[1])):
        device = _input_device(model)
        position_ids = None if batch.position_ids is None else batch.position_ids.to(device)
        hidden = forward_to_hook(
            model, hook, batch.input_ids.to(device), batch.attention_mask.to(device), position_ids
        )
        out[key] = hidden[rows.to(hidden.device), columns.to(hidden.device)].cpu()
    out["text_index"] = rows + first_text_index
    out["position"] = batch.text_positions[rows, columns].to(torch.int32)
    out["token_id"] = batch.input_ids[rows, columns]
    return out


def _texts_payload(records: list[TextRecord]) -> bytes:
    lines = [
        json.dumps({"index": i, "source": r.source, "text_id": r.text_id, "text": r.text})
        for i, r in enumerate(records)
    ]
    return ("\n".join(lines) + "\n").encode()


def _describe(
    config: CollectConfig, pair: ModelPair, hooks: tuple[HookPoint, HookPoint]
) -> dict[str, Any]:
    def model_entry(name: str, model: torch.nn.Module, hook: HookPoint) -> dict[str, Any]:
        text_config = model.config.get_text_config()
        return {
            "name": name,
            "model_type": getattr(text_config, "model_type", None),
            "num_layers": getattr(text_config, "num_hidden_layers", None),
            "hook_point": hook.to_dict(),
        }

    return {
        "format": STORE_FORMAT,
        "version": STORE_VERSION,
        "models": {
            "a": model_entry(pair.name_a, pair.model_a, hooks[0]),
            "b": model_entry(pair.name_b, pair.model_b, hooks[1]),
        },
        "hook_point": config.hook_point,
        "positions": config.positions,
        "dtype": config.dtype,
        "chat_template": config.chat_template,
        "sources": [spec.model_dump() for spec in config.sources],
        "config": config.model_dump(),
        "versions": {
            "crossdiff": crossdiff.__version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
    }


def _progress_bar(disable: bool) -> Progress:
    return Progress(
        TextColumn("collecting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=disable,
        transient=True,
    )


def collect(
    config: CollectConfig,
    out: str | Path,
    force: bool = False,
    pair: ModelPair | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Collect paired activations into the store `out`; return its manifest.

    `pair` may be given to reuse loaded models (its names must match the config). With `force`
    an existing store or partial collection at `out` is replaced.
    """
    out = Path(out)
    staging = out.parent / f"{out.name}.partial"
    tokenizer = pair.tokenizer if pair is not None else load_tokenizer(config.model_a, "model A")
    records = load_records(config.sources, tokenizer, config.chat_template)
    texts = _texts_payload(records)
    fingerprint = sha256_json(
        {"config": config.model_dump(), "texts": hashlib.sha256(texts).hexdigest()}
    )
    if not force and (out / MANIFEST_FILE).is_file():
        existing = read_json(out / MANIFEST_FILE, "store manifest")
        if existing.get("fingerprint") == fingerprint:
            return existing
    prepare_output_dir(out, force)
    if pair is None:
        pair = load_model_pair(
            config.model_a, config.model_b, config.model_dtype, config.device, config.device_map
        )
    hooks = (
        resolve_hook_point(pair.model_a, config.hook_point),
        resolve_hook_point(pair.model_b, config.hook_point_b or config.hook_point),
    )
    if force and staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True, exist_ok=True)
    description = {
        **_describe(config, pair, hooks),
        "fingerprint": fingerprint,
        "num_texts": len(records),
        "texts_file": TEXTS_FILE,
        "texts_sha256": hashlib.sha256(texts).hexdigest(),
    }
    dtype = STORAGE_DTYPES[config.dtype]
    with StoreWriter(staging, config.shard_size, dtype, fingerprint) as writer:
        start = writer.resume()
        size = config.batch_size
        num_batches = math.ceil(len(records) / size)
        tokenize = partial(
            tokenize_batch,
            pair.tokenizer,
            max_length=config.max_length,
            positions=config.positions,
            padding_side=config.padding_side,
        )
        # The next batch is tokenised in a thread while both models run on the current one.
        with (
            _progress_bar(disable=not show_progress) as progress,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenize") as tokenizer_thread,
        ):
            task = progress.add_task("collect", total=num_batches, completed=start.batch)
            upcoming = None
            for index in range(start.batch, num_batches):
                if upcoming is None:
                    upcoming = tokenizer_thread.submit(
                        tokenize, records[index * size : (index + 1) * size]
                    )
                batch = upcoming.result()
                if index + 1 < num_batches:
                    following = records[(index + 1) * size : (index + 2) * size]
                    upcoming = tokenizer_thread.submit(tokenize, following)
                rows = collect_batch(pair, hooks, batch, index * size, config.positions)
                writer.add(index, rows, skip_rows=start.skip_rows if index == start.batch else 0)
                progress.advance(task)
        write_store_file(staging / TEXTS_FILE, texts)
        manifest = writer.finish(description)
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return manifest
