"""Benchmark: the cost of interventions during generation, and batched vs one-at-a-time evaluation.

Prints ONE JSON object. In one run on the organism (built into a temporary directory with
`crossdiff organism build --size micro` unless --organism is given):
- `splice_speed_ratio`: new tokens/s of model A generating under a splice hook (the study's
  policy: last prompt token, prefill only) over plain generation. "Plain generation" is model A
  alone (prefill + decode, no hooks, model B not run). Encoding needs model B's activations at
  the hook point; as in an experiment, every condition shares one `PromptActivationCache`, so
  model B's prompt forward runs once per prompt batch for all conditions, not once per condition.
- `steer_speed_ratio`: the same for the study's input-conditional steering rule (also encodes).
- `splice_speed_ratio_uncached`, `steer_speed_ratio_uncached`: the same edits with the cache
  disabled, so every run also pays model B's forward over the prompts up to the hook point (the
  cost of the first condition evaluated on a prompt set).
- Every ratio is the median over rounds of a paired ratio: each round runs one batch under every
  condition in shuffled order, and the ratio is plain's wall time over the condition's. Load that
  drifts slower than a round cancels; `plain_again_speed_ratio` (plain against itself) shows the
  noise that is left. The ratios of best-of-N rates are kept under `best_of_speed_ratios`.
- `batch_speedup`: time per prompt of evaluating `test` one prompt at a time over time per prompt
  batched, both over all of `test` by default (`--single-subset N` times only the first N prompts
  one at a time and extrapolates per prompt, as the JSON then says). Both run with the torch
  threads `crossdiff eval` uses (all cores, `--eval-threads`); one-at-a-time decoding of a tiny
  model gains nothing from a second thread, so it is also timed on one thread, and
  `batch_speedup_vs_single_one_thread` compares the batched run with that.
The dictionary is a crosscoder of realistic size (D = 16·d, top-k 32, DFC partition 10 %/10 %,
normalisation statistics of real activations) with untrained weights: speed does not depend on
training, and the organism ships no crosscoder.

The organism is `--size default` (the study's organism; its twin answers with whole tool calls)
unless --size or --organism say otherwise; the micro twin answers in a few tokens, so its
evaluation is nearly all prompt prefill, which batching cannot shorten.

Usage (from the repository root, so this checkout's crossdiff is imported):
    flock /tmp/crossdiff-heavy.lock env PYTHONPATH=. python benchmarks/intervene.py [--organism DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from crossdiff.crosscoder import Crosscoder, CrosscoderConfig
from crossdiff.evals.evaluate import evaluate, render_prompts
from crossdiff.evals.generate import GenerationConfig, generate_batch_ids, left_pad, pad_token_id
from crossdiff.evals.hooks import hidden_width, intervene
from crossdiff.evals.interventions import Intervention
from crossdiff.evals.prompt_cache import PromptActivationCache
from crossdiff.models.capture import forward_to_hook
from crossdiff.models.hookpoints import decoder_layers, resolve_hook_point
from crossdiff.models.pair import ModelPair, load_model_pair
from crossdiff.normstats import NormStats
from crossdiff.organism.build import build_organism
from crossdiff.world import load_split


def benchmark_crosscoder(pair: ModelPair, hook_point: str, texts: list[str]) -> Crosscoder:
    """An untrained crosscoder of realistic size with statistics of real activations."""
    rows = []
    pad = pad_token_id(pair.tokenizer)
    encoded = [pair.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    ids_BT, mask_BT = left_pad(encoded, pad)
    positions_BT = (mask_BT.cumsum(-1) - 1).clamp(min=0)
    for model in (pair.model_a, pair.model_b):
        point = resolve_hook_point(model, hook_point)
        hidden = forward_to_hook(model, point, ids_BT, mask_BT, positions_BT)
        rows.append(hidden[mask_BT.bool()].float())
    widths = (hidden_width(pair.model_a), hidden_width(pair.model_b))
    config = CrosscoderConfig(
        widths=widths, dict_size=16 * max(widths), sparsity="topk", k=32, partition=(0.1, 0.1)
    )
    crosscoder = Crosscoder(
        config, stats=(NormStats.from_tensor(rows[0]), NormStats.from_tensor(rows[1]))
    )
    crosscoder.requires_grad_(False)
    return crosscoder


def timed_round_robin(
    runs: dict[str, list[Callable[[], int]]], repeats: int, seed: int = 0
) -> dict[str, dict]:
    """Time every run's parts `repeats` times, interleaved part by part; sum each part's best.

    Interleaving short parts (one batch each) lets load drifts on a shared machine hit every run
    alike, and the best of each part is taken over many short windows rather than a few long
    ones. The order of the runs is shuffled (seeded) in every round, so no run always follows
    the same other run (allocator and cache state left behind by the previous run). Wall time
    and process CPU time are kept separately: CPU time does not count the time the process waited
    for a core another process was using.
    """
    best: dict[tuple[str, int, str], float] = {}
    tokens_of: dict[tuple[str, int], int] = {}
    rounds: list[dict[str, float]] = []
    parts = max(len(run) for run in runs.values())
    order = random.Random(seed)
    names = list(runs)
    for _ in range(repeats):
        for part in range(parts):
            order.shuffle(names)
            rounds.append({})
            for name in names:
                wall, cpu = time.perf_counter(), time.process_time()
                tokens_of[(name, part)] = runs[name][part]()
                spent = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
                rounds[-1][name] = spent["wall"]
                for clock, seconds in spent.items():
                    key = (name, part, clock)
                    best[key] = min(best.get(key, seconds), seconds)
    result: dict[str, dict] = {}
    for name, run in runs.items():
        tokens = sum(tokens_of[(name, part)] for part in range(len(run)))
        wall = sum(best[(name, part, "wall")] for part in range(len(run)))
        cpu = sum(best[(name, part, "cpu")] for part in range(len(run)))
        result[name] = {
            "new_tokens": tokens,
            "tokens_per_second": tokens / wall,
            "tokens_per_cpu_second": tokens / cpu,
            # Every round runs the same batch under every condition within seconds, so a ratio
            # of two times of one round cancels load that drifts slower than that.
            "median_paired_ratio_to_plain": statistics.median(r["plain"] / r[name] for r in rounds),
        }
    return result


def main() -> None:
    """Run the benchmark and print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organism", type=Path, default=None, help="organism dir (rl/, base/)")
    parser.add_argument("--size", default="default", help="organism size to build if none given")
    parser.add_argument("--prompts", type=int, default=64, help="prompts per speed measurement")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--single-subset",
        type=int,
        default=0,
        help="prompts timed one by one (0: all of test, no extrapolation)",
    )
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1: the organism's models are tiny and latency-bound; extra threads "
        "only add contention on a shared 2-core machine)",
    )
    parser.add_argument(
        "--eval-threads",
        type=int,
        default=torch.get_num_threads(),
        help="torch threads for batch_speedup's evaluations (default: as crossdiff eval, all)",
    )
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    load_start = os.getloadavg()[0]

    with tempfile.TemporaryDirectory(prefix="crossdiff-bench-") as scratch:
        organism = args.organism
        built = organism is None
        if organism is None:
            organism = Path(scratch) / "organism"
            build_organism(organism, size=args.size, show_progress=False)
        pair = load_model_pair(str(organism / "rl"), str(organism / "base"))
        layers = len(decoder_layers(pair.model_a))
        hook_point = f"resid_post.{max(0, layers // 2 - 1)}"  # the middle of the residual stream
        test = load_split("test")
        texts = render_prompts(test, pair.tokenizer, chat_template=True)
        speed_texts = texts[: args.prompts]
        crosscoder = benchmark_crosscoder(pair, hook_point, texts[:32])
        a_exclusive = crosscoder.partition_slices()["a_exclusive"]
        models = (pair.model_a, pair.model_b)
        config = GenerationConfig(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)

        pad = pad_token_id(pair.tokenizer)
        speed_ids = [pair.tokenizer(t, add_special_tokens=False)["input_ids"] for t in speed_texts]

        shared_cache = PromptActivationCache()

        def generation_under(
            intervention: Intervention, cached: bool = True
        ) -> list[Callable[[], int]]:
            """One run per batch, each generating exactly max_new_tokens per prompt (no stop
            tokens: equal work in every condition)."""
            cache = shared_cache if cached else PromptActivationCache(max_bytes=0)

            def run_batch(batch: list[list[int]]) -> int:
                with intervene(
                    models, hook_point, intervention, crosscoder, prompt_cache=cache
                ) as active:
                    new, _ = generate_batch_ids(active.model, batch, config, [], pad)
                return sum(len(row) for row in new)

            starts = range(0, len(speed_ids), config.batch_size)
            batches = [speed_ids[start : start + config.batch_size] for start in starts]
            return [lambda batch=batch: run_batch(batch) for batch in batches]

        conditions = {
            "plain": Intervention(),
            "splice": Intervention("splice"),
            "steer": Intervention("steer", features=(a_exclusive.start,), alpha=32.0),
            "splice_every_token": Intervention("splice", policy="all"),
            "direction_every_token": Intervention(
                "direction", features=(a_exclusive.start,), alpha=0.5, policy="all"
            ),
        }
        runs = {name: generation_under(iv) for name, iv in conditions.items()}
        runs["splice_uncached"] = generation_under(conditions["splice"], cached=False)
        runs["steer_uncached"] = generation_under(conditions["steer"], cached=False)
        runs["plain_again"] = generation_under(conditions["plain"])  # the noise floor
        for part in runs["plain"]:  # warm-up
            part()
        rates = timed_round_robin(runs, args.repeats)
        plain_rate = rates["plain"]["tokens_per_second"]
        paired = {name: r["median_paired_ratio_to_plain"] for name, r in rates.items()}

        batched_config = GenerationConfig(
            max_new_tokens=args.max_new_tokens, batch_size=args.batch_size
        )
        single_config = GenerationConfig(max_new_tokens=args.max_new_tokens, batch_size=1)
        # answer lengths vary from prompt to prompt, so a subset extrapolates only roughly
        subset = test[: args.single_subset] if args.single_subset else test

        def seconds_to_evaluate(prompts: list, config: GenerationConfig, threads: int) -> float:
            torch.set_num_threads(threads)
            start = time.perf_counter()
            evaluate(pair.model_a, pair.tokenizer, prompts, config)
            return time.perf_counter() - start

        batched_seconds = seconds_to_evaluate(test, batched_config, args.eval_threads)
        single_seconds = seconds_to_evaluate(subset, single_config, args.eval_threads)
        single_one_thread_seconds = seconds_to_evaluate(subset, single_config, 1)
        batched_per_prompt = batched_seconds / len(test)
        single_per_prompt = single_seconds / len(subset)
        single_one_thread_per_prompt = single_one_thread_seconds / len(subset)

    result = {
        "organism": str(args.organism)
        if not built
        else f"built in a temp dir (--size {args.size})",
        "hook_point": hook_point,
        "crosscoder": {"dict_size": crosscoder.config.dict_size, "k": 32, "trained": False},
        "prompts_per_speed_run": len(speed_texts),
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "torch_threads": args.threads,
        "plain_generation_includes": "model A only: prefill + decode, no hooks, model B not run",
        "speed_runs": "exactly max_new_tokens per prompt (stop tokens off), so every condition "
        "does the same number of decode steps; --repeats rounds per batch, conditions "
        "interleaved batch by batch in shuffled order; tokens_per_second sums each batch's best "
        "time",
        "interventions_include": "model B up to the hook point on the prompt (and on every "
        "generated token for *_every_token) + crosscoder encode/decode, inside the same loop",
        "prompt_cache": "splice/steer share one PromptActivationCache across conditions and "
        "repeats (model B's prompt forward runs once per prompt batch, as in an experiment); "
        "*_uncached disable it (model B's prompt forward in every run)",
        "tokens_per_second": {name: r["tokens_per_second"] for name, r in rates.items()},
        "ratio_estimator": "median over rounds of the paired ratio (one batch under every "
        "condition in shuffled order per round; plain's wall time over the condition's); "
        "plain_again_speed_ratio is the same estimate for plain against itself, the noise left; "
        "ratios of best-of-N rates are under best_of_speed_ratios",
        "splice_speed_ratio": paired["splice"],
        "steer_speed_ratio": paired["steer"],
        "splice_speed_ratio_uncached": paired["splice_uncached"],
        "steer_speed_ratio_uncached": paired["steer_uncached"],
        "splice_every_token_speed_ratio": paired["splice_every_token"],
        "direction_every_token_speed_ratio": paired["direction_every_token"],
        "plain_again_speed_ratio": paired["plain_again"],
        "plain_again_note": "plain generation timed a second time as its own condition: how far "
        "from 1 a ratio strays by measurement noise alone",
        "best_of_speed_ratios": {
            name: r["tokens_per_second"] / plain_rate
            for name, r in rates.items()
            if name != "plain"
        },
        "cpu_time_best_of_speed_ratios": {
            name: r["tokens_per_cpu_second"] / rates["plain"]["tokens_per_cpu_second"]
            for name, r in rates.items()
            if name != "plain"
        },
        "load_average_1min": {"start": load_start, "end": os.getloadavg()[0]},
        "batch_speedup": single_per_prompt / batched_per_prompt,
        "batch_speedup_vs_single_one_thread": single_one_thread_per_prompt / batched_per_prompt,
        "eval_threads": args.eval_threads,
        "batched_eval_seconds_test": batched_seconds,
        "batched_eval_prompts": len(test),
        "single_eval_seconds_subset": single_seconds,
        "single_eval_seconds_subset_one_thread": single_one_thread_seconds,
        "single_eval_prompts": len(subset),
        "single_eval_extrapolated": (
            f"one-at-a-time timed on the first {len(subset)} prompts of test and extrapolated per "
            f"prompt to all {len(test)}"
            if len(subset) < len(test)
            else "no: both timed over every prompt of test"
        ),
        "targets": {"splice_speed_ratio": 0.85, "steer_speed_ratio": 0.90, "batch_speedup": 5.0},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
