"""Collection and loader benchmark; prints one JSON object.

Run (heavy, under the shared lock): flock /tmp/crossdiff-heavy.lock python benchmarks/collect.py

Models: two tiny random-weight Qwen2 models (width 256, 4 layers, different seeds) with a small
byte-level BPE tokenizer trained on the world's texts; inputs: the world's chat-templated tool
prompts and general texts. Measured in one run on the same batches:
- collect_vs_forward_ratio: tokens/s of `collect` at `all` positions (tokenising, both forwards,
  position selection, shard writing with SHA-256, statistics) over tokens/s of only running both
  models' forward passes to the hooked layer (resid_post.2) on the pre-tokenised batches;
- early_stop_speedup: time of a full forward of both models over time of `collect` at layer 1
  (resid_post.1, i.e. 2 of 4 layers run); forward_to_layer1_vs_full_speedup: the same without
  the collection work (the ideal);
- the loader streaming a 40-shard synthetic store while holding a 4-shard window (store 10x the
  window), in a fresh process that imports only the store: RSS before streaming, peak RSS of the
  process (ru_maxrss) and RSS growth between the first and last quarter of the epoch.
"""

from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from crossdiff.activations.store import ActivationStore

if TYPE_CHECKING:
    from crossdiff.activations.collect import CollectConfig
    from crossdiff.models.pair import ModelPair

WIDTH, LAYERS, BATCH, MAX_LENGTH, REPEATS, TEXTS_PER_SOURCE = 256, 4, 16, 192, 3, 96
LOADER_SHARDS, LOADER_WINDOW, LOADER_SHARD_ROWS, LOADER_WIDTH = 40, 4, 4096, 256


def _pair() -> ModelPair:
    from crossdiff.models.pair import ModelPair
    from crossdiff.models.tiny import tiny_causal_lm, tiny_tokenizer
    from crossdiff.world import general_texts, load_split, render_raw

    corpus = general_texts(200, seed=1) + [render_raw(p) for p in load_split("train", size=200)]
    tokenizer = tiny_tokenizer(corpus, vocab_size=1024)
    models = [tiny_causal_lm("qwen2", len(tokenizer), WIDTH, LAYERS, seed=seed) for seed in (1, 2)]
    return ModelPair(models[0], models[1], tokenizer, "tiny-qwen2-a", "tiny-qwen2-b")


def _config(hook_point: str) -> CollectConfig:
    from crossdiff.activations.collect import CollectConfig
    from crossdiff.activations.sources import SourceSpec

    return CollectConfig(
        model_a="tiny-qwen2-a",
        model_b="tiny-qwen2-b",
        hook_point=hook_point,
        sources=[
            SourceSpec(kind="tool_prompts", split="train", count=TEXTS_PER_SOURCE),
            SourceSpec(kind="general", split="train", count=TEXTS_PER_SOURCE),
        ],
        positions="all",
        batch_size=BATCH,
        max_length=MAX_LENGTH,
        shard_size=4096,
    )


def _time_collect(pair: ModelPair, config: CollectConfig, root: Path) -> float:
    from crossdiff.activations.collect import collect

    start = time.perf_counter()
    collect(config, root / f"store-{config.hook_point}", force=True, pair=pair, show_progress=False)
    return time.perf_counter() - start


def _time_forwards(pair: ModelPair, batches: list, hook_point: str | None) -> float:
    """Both models on every batch, to the hook point (or the full model with hook_point=None)."""
    import torch

    from crossdiff.models.capture import forward_to_hook
    from crossdiff.models.hookpoints import resolve_hook_point

    start = time.perf_counter()
    for batch in batches:
        for model in (pair.model_a, pair.model_b):
            if hook_point is None:
                with torch.inference_mode():
                    model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                          use_cache=False)  # fmt: skip
            else:
                hook = resolve_hook_point(model, hook_point)
                forward_to_hook(model, hook, batch.input_ids, batch.attention_mask)
    return time.perf_counter() - start


def collection_part() -> dict:
    """Collection tokens/s vs forward-only tokens/s, and early stopping vs a full forward."""
    import torch
    import transformers

    from crossdiff.activations.sources import load_records
    from crossdiff.activations.tokens import tokenize_batch

    transformers.logging.set_verbosity_error()
    # One thread: on a shared 2-core machine, spinning intra-op threads make timings meaningless.
    torch.set_num_threads(1)
    pair = _pair()
    config = _config("resid_post.2")
    records = load_records(config.sources, pair.tokenizer, config.chat_template)
    batches = [
        tokenize_batch(pair.tokenizer, records[i : i + BATCH], MAX_LENGTH, "all")
        for i in range(0, len(records), BATCH)
    ]
    tokens = sum(int(b.attention_mask.sum()) for b in batches)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _time_collect(pair, config, root)  # warm-up
        forward, collected, full, early, forward_early = [], [], [], [], []
        for _ in range(REPEATS):  # interleaved, best of REPEATS: robust to a shared machine
            forward.append(_time_forwards(pair, batches, "resid_post.2"))
            collected.append(_time_collect(pair, config, root))
            full.append(_time_forwards(pair, batches, None))
            early.append(_time_collect(pair, _config("resid_post.1"), root))
            forward_early.append(_time_forwards(pair, batches, "resid_post.1"))
        rows = ActivationStore(root / "store-resid_post.2").num_rows
    forward_tps, collect_tps = tokens / min(forward), tokens / min(collected)
    return {
        "models": f"2x tiny random-weight Qwen2 (width {WIDTH}, {LAYERS} layers, seeds 1 and 2)",
        "texts": len(records),
        "tokens": tokens,
        "rows_collected": rows,
        "forward_to_hook_tokens_per_s": round(forward_tps, 1),
        "collect_tokens_per_s": round(collect_tps, 1),
        "collect_vs_forward_ratio": round(collect_tps / forward_tps, 4),
        "full_forward_seconds": round(min(full), 4),
        "collect_layer1_seconds": round(min(early), 4),
        "early_stop_speedup": round(min(full) / min(early), 3),
        "forward_to_layer1_vs_full_speedup": round(min(full) / min(forward_early), 3),
    }


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (a spawned child inherits its parent's at fork)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def loader_part(store_path: str) -> dict:
    """Stream one epoch of the store with a bounded window; report RSS (run in a fresh process)."""
    store = ActivationStore(store_path)
    peak_reset = _reset_peak_rss()
    before = _rss_mb()
    samples: list[float] = []
    start = time.perf_counter()
    for _batch in store.batches(1024, seed=0, window_shards=LOADER_WINDOW):
        samples.append(_rss_mb())
    seconds = time.perf_counter() - start
    quarter = max(1, len(samples) // 4)
    first, last = samples[:quarter], samples[-quarter:]
    peak = _peak_rss_mb()
    return {
        "loader_rss_before_mb": round(before, 1),
        "loader_peak_rss_mb": round(peak, 1),
        "loader_peak_growth_mb": round(peak - before, 1),
        "loader_rss_growth_first_to_last_quarter_mb": round(
            sum(last) / len(last) - sum(first) / len(first), 1
        ),
        "loader_rows_per_s": round(store.num_rows / seconds, 1),
        "loader_batches": len(samples),
        "loader_peak_rss_reset": peak_reset,
    }


def loader_benchmark() -> dict:
    """Write a 40-shard store, then stream it in a fresh process (imports: the store only)."""
    from crossdiff.activations.synthetic import write_synthetic_store

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "store"
        rows = LOADER_SHARDS * LOADER_SHARD_ROWS
        write_synthetic_store(path, rows, (LOADER_WIDTH, LOADER_WIDTH), LOADER_SHARD_ROWS)
        shard_mb = (path / "shard-00000.safetensors").stat().st_size / 2**20
        child = subprocess.run(
            [sys.executable, __file__, "--loader", str(path)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        result = json.loads(child.stdout)
    return {
        "loader_store_shards": LOADER_SHARDS,
        "loader_window_shards": LOADER_WINDOW,
        "loader_store_mb": round(shard_mb * LOADER_SHARDS, 1),
        "loader_window_mb": round(shard_mb * LOADER_WINDOW, 1),
        **result,
    }


def main() -> None:
    """Run both parts and print one JSON object."""
    if len(sys.argv) == 3 and sys.argv[1] == "--loader":
        print(json.dumps(loader_part(sys.argv[2])))
        return
    import torch

    result = {**collection_part(), **loader_benchmark(), "torch_threads": torch.get_num_threads()}
    result["meets_collect_target"] = result["collect_vs_forward_ratio"] >= 0.9
    result["store_to_window_ratio"] = math.floor(LOADER_SHARDS / LOADER_WINDOW)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
