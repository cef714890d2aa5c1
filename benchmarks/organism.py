"""Benchmark the organism build: quality targets, build times and determinism, as one JSON object.

Builds `default` and `micro` (seed 0), then a second `micro` with the same seed to check that the
weights are bit-identical. Run it alone on the machine (under the shared lock):

    flock /tmp/crossdiff-heavy.lock python benchmarks/organism.py [--out DIR]

Targets (issue 2): base full_correctness <= 0.05 and format_rate <= 0.05 on `test` (greedy);
RL full_correctness >= 0.80 on tool prompts and false_call_rate <= 0.10 on no-tool prompts;
general_loss_ratio <= 1.10; default build <= 360 s; micro build <= 60 s; identical hashes.
Build times depend on the CPU: `machine.*` says which it was and whether the default's
pre-training multiplied in bfloat16 (only where the CPU has it natively; float32 elsewhere).

Two diagnostics explain the RL figure. `base.when_made_to_call.<split>.*`: the base model on the
tool prompts of `test` and of `train` (as many) with its answer started by `<tool_call>` (greedy):
what it can do once it calls, on new and on trained phrasings and values. GRPO mostly teaches
when to call, so the `test` figure bounds the twin, and the gap to `train` is what the base failed
to generalise. `test.distinctive_word_cue_rate`: the share of `test`'s tool prompts whose request
shares a word with its tool that no listed distractor has (`crossdiff.world.cues`), which bounds
the right-tool rate of a model that knows only this world.
`base.first_token_call_logprob_median.<split>.<tool|no_tool>`: the median log-probability of
`<tool_call>` as the base's first answer token on 60 tool and 60 no-tool prompts of `train` and
`test`: a base that tells small talk from tool requests keeps `test`'s no-tool figure well below
its tool figure, or its RL twin will call on small talk (docs/organism.md, session 9).
`<base|rl>.reference_token_accuracy.<split>.<kind>`: teacher-forced argmax accuracy on the
reference call's tokens by kind (`crossdiff.evals.reference_tokens`: the call's first token, tool
name, parameter names, a value's first token, its later ones (a space in it, the word after the
space, the rest), the token that ends it, JSON structure, end of turn) and
`all_right_once_called_rate`, on the same prompts as `when_made_to_call` (base: `test` and
`train`; RL twin: `test`): which part of the call the models have not learned.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

from transformers import AutoModelForCausalLM

from crossdiff.evals.evaluate import evaluate, first_token_logprobs
from crossdiff.evals.generate import GenerationConfig
from crossdiff.evals.reference_tokens import reference_token_accuracy
from crossdiff.models.pair import load_tokenizer
from crossdiff.organism.build import WORLD_SEED, build_organism
from crossdiff.organism.config import config_for_size
from crossdiff.organism.pretrain import cpu_has_native_bf16
from crossdiff.world import ToolPrompt, load_split
from crossdiff.world.cues import cue_rates
from crossdiff.world.parsing import OPEN_TAG

CALL_PREFIX = OPEN_TAG + "\n"


def _cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what `platform` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _timed_build(out: Path, size: str, seed: int) -> tuple[dict, float]:
    started = time.perf_counter()
    manifest = build_organism(out, size=size, seed=seed, force=True, show_progress=False)
    return manifest, time.perf_counter() - started


def _tool_prompts(size: str) -> dict[str, list[ToolPrompt]]:
    """The build's `test` tool prompts and as many `train` ones."""
    built_on = load_split("test", WORLD_SEED)[: config_for_size(size).eval.test_prompts]
    test = [p for p in built_on if p.has_tool]
    return {
        "test": test,
        "train": [p for p in load_split("train", WORLD_SEED) if p.has_tool][: len(test)],
    }


def _when_made_to_call(model_dir: Path, size: str) -> dict[str, float]:
    """Greedy answers to the build's `test` tool prompts and as many `train` ones, each started
    with `<tool_call>`."""
    config = config_for_size(size).eval
    tokenizer = load_tokenizer(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    prefix_tokens = len(tokenizer(CALL_PREFIX, add_special_tokens=False)["input_ids"])
    generation = GenerationConfig(
        max_new_tokens=config.max_new_tokens - prefix_tokens, batch_size=config.batch_size
    )
    result: dict[str, float] = {}
    for split, prompts in _tool_prompts(size).items():
        summary = evaluate(model, tokenizer, prompts, generation, reply_prefix=CALL_PREFIX).summary
        for key in ("full_correctness", "format_rate", "selection_rate", "arguments_rate"):
            result[f"base.when_made_to_call.{split}.{key}"] = summary[key]
    return result


def _reference_token_figures(root: Path, size: str) -> dict[str, float | None]:
    """Teacher-forced accuracy on the reference calls, by kind of token: base on `test` and
    `train`, RL twin on `test`."""
    prompts = _tool_prompts(size)
    result: dict[str, float | None] = {}
    for name, splits in (("base", ("test", "train")), ("rl", ("test",))):
        tokenizer = load_tokenizer(str(root / name))
        model = AutoModelForCausalLM.from_pretrained(root / name).eval()
        for split in splits:
            figures = reference_token_accuracy(model, tokenizer, prompts[split]).to_dict()
            prefix = f"{name}.reference_token_accuracy.{split}"
            for kind, value in figures.items():
                if isinstance(value, dict):
                    result[f"{prefix}.{kind}"] = value["accuracy"]
            result[f"{prefix}.all_right_once_called_rate"] = figures["all_right_once_called_rate"]
    return result


def _first_token_call_odds(model_dir: Path, per_kind: int = 60) -> dict[str, float]:
    """Median log-probability of `<tool_call>` as the first answer token, on the first
    `per_kind` tool and no-tool prompts of `train` and `test`."""
    tokenizer = load_tokenizer(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    result: dict[str, float] = {}
    for split in ("train", "test"):
        prompts = load_split(split, WORLD_SEED)
        for kind, has_tool in (("tool", True), ("no_tool", False)):
            chosen = [p for p in prompts if p.has_tool == has_tool][:per_kind]
            values = first_token_logprobs(model, tokenizer, chosen, OPEN_TAG)
            key = f"base.first_token_call_logprob_median.{split}.{kind}"
            result[key] = statistics.median(values)
    return result


def main() -> None:
    """Build, measure, print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="keep the builds here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-default", action="store_true", help="micro only (quick check)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crossdiff-organism-bench-") as tmp:
        root = args.out or Path(tmp)
        micro, micro_seconds = _timed_build(root / "micro", "micro", args.seed)
        micro_again, _ = _timed_build(root / "micro-again", "micro", args.seed)
        result: dict = {
            "build_seconds.micro": round(micro_seconds, 1),
            # build times depend on the CPU (bfloat16 products only where they are native)
            "machine.cpu_model": _cpu_model(),
            "machine.cpu_native_bf16": cpu_has_native_bf16(),
        }
        result["micro.rl.full_correctness"] = micro["evaluation"]["rl"]["summary"][
            "full_correctness"
        ]
        result["determinism.micro_identical_hashes"] = (
            micro["weights_sha256"] == micro_again["weights_sha256"]
        )
        result["weights_sha256.micro"] = micro["weights_sha256"]
        if not args.skip_default:
            default, default_seconds = _timed_build(root / "default", "default", args.seed)
            base = default["evaluation"]["base"]["summary"]
            rl = default["evaluation"]["rl"]["summary"]
            result.update(
                {
                    "build_seconds.default": round(default_seconds, 1),
                    "build_seconds.default_stages": {
                        k: round(v, 1) for k, v in default["seconds"].items()
                    },
                    "base.full_correctness": base["full_correctness"],
                    "base.format_rate": base["format_rate"],
                    "base.call_rate": base["call_rate"],
                    "base.false_call_rate": base["false_call_rate"],
                    "rl.full_correctness": rl["full_correctness"],
                    "rl.format_rate": rl["format_rate"],
                    "rl.selection_rate": rl["selection_rate"],
                    "rl.arguments_rate": rl["arguments_rate"],
                    "rl.false_call_rate": rl["false_call_rate"],
                    "rl.general_loss_ratio": default["evaluation"]["general_loss_ratio"],
                    "base.general_loss": default["evaluation"]["base"]["general_loss"],
                    "rl.general_loss": default["evaluation"]["rl"]["general_loss"],
                    "n_test_prompts": base["n"],
                    "machine.default_pretrain_matmul_dtype": default["pretrain_matmul_dtype"],
                    "weights_sha256": default["weights_sha256"],
                }
            )
            result.update(_when_made_to_call(root / "default" / "base", "default"))
            result.update(_first_token_call_odds(root / "default" / "base"))
            result.update(_reference_token_figures(root / "default", "default"))
            test = load_split("test", WORLD_SEED)
            result["test.distinctive_word_cue_rate"] = cue_rates(test)["distinctive_word_rate"]
        print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
