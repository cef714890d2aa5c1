"""Does the copying recipe teach a tiny model to copy argument values? Prints one JSON object.

Issue 2's RL twin can only copy argument values it never saw if its base can. This benchmark
measures the pre-training recipe that makes a base model copy (`PretrainConfig`'s echo steps,
made-up values and tool names in drills; the default preset uses the first two in chat
dialogues), against plain drills, at the same number of steps, shape, tokenizer and seed:
- plain: `steps` steps of drills (no echo steps, no made-up values);
- recipe: `echo_steps` of those steps on echoes of random tokens, the rest on drills that list
  the offered tools and have made-up values in `fresh_share` of them.
Both train on drills only (no dialogues), then are asked for calls, forced in their own drill
layout (`...Assistant: <tool_call>` and greedy), on the first 100 `test` tool prompts (`test.*`)
and on the same prompts re-worded with a train phrasing of the same tool (`reworded.*`; the values
are still test values, so this is copying without the unseen-phrasing problem).

With `--layout chat` it measures copying learned in the chat layout the evaluation uses instead:
for each `--turns K`, a model (`chat_turnsK`) trains `echo_steps` echo steps, then chat dialogues
only, every request answered by a call with made-up values, K requests under each tool list
(`PretrainConfig.dialogue_turns`); calls are forced after the chat prompt
(`...<|im_start|>assistant\n<tool_call>`).

Run it alone (about 7 minutes on 2 cores; `--layout chat --turns 1 8 --steps 2400`, about 12):

    flock /tmp/crossdiff-heavy.lock python benchmarks/organism_copying.py
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import random
import time
from collections.abc import Callable

import torch

from crossdiff.evals.generate import GenerationConfig, generate
from crossdiff.organism.build import (
    GENERAL_TEXTS,
    TRAIN_PROMPTS,
    WORLD_SEED,
    deterministic_torch,
    tokenizer_corpus,
)
from crossdiff.organism.config import SIZES, PretrainConfig
from crossdiff.organism.data import PretrainStream, drill_prompt
from crossdiff.organism.pretrain import make_model, pretrain
from crossdiff.organism.tokenizer import train_tokenizer
from crossdiff.seeding import derive_seed
from crossdiff.world import (
    ToolPrompt,
    general_texts,
    load_split,
    render_chat,
    score_response,
    summarize,
)
from crossdiff.world.catalogue import spec_by_name
from crossdiff.world.toolspec import fill_template

PROBE_PROMPTS = 100


def reworded(prompts: list[ToolPrompt], seed: int) -> list[ToolPrompt]:
    """The same requests and values, each in a random train phrasing of its tool."""
    rng = random.Random(seed)
    out = []
    for prompt in prompts:
        assert prompt.expected is not None
        phrasings = spec_by_name(prompt.expected.name).phrasings_for("train")
        user = fill_template(rng.choice(phrasings), prompt.expected.arguments)
        out.append(dataclasses.replace(prompt, user=user))
    return out


def probe(
    model: torch.nn.Module,
    tokenizer,
    prompts: list[ToolPrompt],
    render: Callable[[ToolPrompt], str],
) -> dict:
    """Force a call after each rendered prompt, greedy; the world's summary of the scores."""
    texts = [render(p) + "<tool_call>\n" for p in prompts]
    generations = generate(
        model, tokenizer, texts, GenerationConfig(max_new_tokens=56, batch_size=PROBE_PROMPTS)
    )
    scores = [
        score_response("<tool_call>\n" + g.text, p)
        for p, g in zip(prompts, generations, strict=True)
    ]
    summary = summarize(scores)
    return {k: summary[k] for k in ("full_correctness", "selection_rate", "arguments_rate")}


def main() -> None:
    """Train each variant's model, probe it, print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2800)
    parser.add_argument("--echo-steps", type=int, default=1200)
    parser.add_argument("--fresh-share", type=float, default=1.0)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layout", choices=("drill", "chat"), default="drill")
    parser.add_argument("--turns", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    shape = SIZES["default"].model.model_copy(update={"num_layers": args.layers})
    prompts = load_split("train", WORLD_SEED, TRAIN_PROMPTS)
    texts = general_texts(GENERAL_TEXTS, WORLD_SEED, "train")
    corpus = tokenizer_corpus(prompts[:3000], texts[:3000], args.seed)
    tokenizer = train_tokenizer(corpus, shape.vocab_size)
    test = [p for p in load_split("test", WORLD_SEED) if p.has_tool][:PROBE_PROMPTS]
    sets = {"test": test, "reworded": reworded(test, args.seed)}
    common = {
        "rows_per_step": 4,
        "row_tokens": 640,
        "learning_rate": args.learning_rate,
        "warmup_steps": 50,
        "drills_only_fraction": 1.0,
    }
    echo = {
        "steps": args.steps - args.echo_steps,
        "echo_steps": args.echo_steps,
        "echo_learning_rate": args.learning_rate,
        "fresh_value_share": args.fresh_share,
    }
    variants = {
        "plain": PretrainConfig(steps=args.steps, **common),
        "recipe": PretrainConfig(drill_tool_list=True, **echo, **common),
    }
    if args.layout == "chat":
        chat = {**common, "drills_only_fraction": 0.0, "row_tokens": 1024, "raw_layout_share": 0.0}
        variants = {
            f"chat_turns{turns}": PretrainConfig(
                dialogue_every=1,
                dialogue_turns=turns,
                call_share_start=1.0,
                call_share_end=1.0,
                **echo,
                **chat,
            )
            for turns in args.turns
        }
    result: dict = {
        "layout": args.layout,
        "layers": args.layers,
        "total_steps": args.steps,
        "echo_steps": args.echo_steps,
        "fresh_share": args.fresh_share,
        "probe_prompts": len(test),
    }
    for name, config in variants.items():
        model = make_model(shape, tokenizer, derive_seed(args.seed, "init"))
        stream = PretrainStream.for_config(
            prompts, texts, tokenizer, config, derive_seed(args.seed, "pretrain-data")
        )
        started = time.perf_counter()
        with deterministic_torch():
            curve = pretrain(model, stream, config)
        result[f"{name}.train_seconds"] = round(time.perf_counter() - started, 1)
        echo_losses = [float(row["loss"]) for row in curve if row["kind"] == "echo"]
        if echo_losses:  # below ~0.5 the copying heads have formed; ~7 at chance
            result[f"{name}.echo_loss_last_100_steps"] = round(
                sum(echo_losses[-100:]) / len(echo_losses[-100:]), 3
            )
        if args.layout == "chat":
            render = functools.partial(render_chat, tokenizer=tokenizer)
        else:
            render = functools.partial(drill_prompt, tool_list=config.drill_tool_list)
        for set_name, probe_prompts in sets.items():
            scores = probe(model, tokenizer, probe_prompts, render)
            for key, value in scores.items():
                result[f"{name}.{set_name}.{key}"] = value
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
