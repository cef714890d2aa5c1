"""Build the organism: tokenizer, base model, RL twin (with checkpoints), evaluation, manifest.

Everything is written into a temporary sibling of `out` that is renamed at the end, so a failed or
interrupted build leaves nothing that looks finished. The same seed gives bit-identical weights.
"""

from __future__ import annotations

import contextlib
import copy
import platform
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import tokenizers
import torch
import transformers
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import crossdiff
from crossdiff.evals.evaluate import evaluate, text_loss
from crossdiff.evals.generate import GenerationConfig
from crossdiff.files import atomic_output_dir, sha256_file, write_json_atomic
from crossdiff.organism.config import OrganismConfig, config_for_size
from crossdiff.organism.data import PretrainStream, dialogue_answer, phrase_words
from crossdiff.organism.grpo import grpo_train
from crossdiff.organism.pretrain import make_model, matmul_dtype, pretrain, pretrain_steps
from crossdiff.organism.tokenizer import IM_END, IM_START, train_tokenizer
from crossdiff.seeding import check_seed, derive_seed, seed_everything
from crossdiff.world import ToolPrompt, general_texts, load_split, render_raw

WORLD_SEED = 0  # the organism learns from and is evaluated on the canonical world
TRAIN_PROMPTS = 12000
GENERAL_TEXTS = 8000


@contextlib.contextmanager
def deterministic_torch() -> Iterator[None]:
    """Run a block with torch's deterministic algorithms on, restoring the setting afterwards."""
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


def tokenizer_corpus(prompts: Sequence[ToolPrompt], texts: Sequence[str], seed: int) -> list[str]:
    """Texts the tokenizer learns from: general prose, rendered prompts (raw, ChatML), answers."""
    import random

    rng = random.Random(derive_seed(seed, "tokenizer-corpus"))
    corpus = list(texts)
    for prompt in prompts:
        answer = dialogue_answer(prompt, rng.random() < 0.3, rng)
        corpus.append(render_raw(prompt) + " " + answer)
        corpus.append(f"{IM_START}system\n{IM_START}user\n{IM_START}assistant\n{answer}{IM_END}")
    return corpus


def save_model(model: torch.nn.Module, tokenizer: Any, directory: Path) -> str:
    """Save model and tokenizer as a save_pretrained directory; return the weights sha256."""
    transformers.utils.logging.disable_progress_bar()  # the build shows its own progress
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return sha256_file(directory / "model.safetensors")


def checkpoint_steps(total: int, fractions: Sequence[float]) -> list[int]:
    """The RL steps after which a checkpoint is kept: the given fractions and the last step."""
    steps = {max(1, round(total * f)) for f in fractions if 0 < f < 1}
    return sorted(steps | {total})


def _versions() -> dict[str, str]:
    return {
        "crossdiff": crossdiff.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "python": platform.python_version(),
    }


def _evaluation(
    model: torch.nn.Module,
    tokenizer: Any,
    config: OrganismConfig,
    heldout: Sequence[str],
    on_prompts: Any,
) -> dict[str, Any]:
    test = load_split("test", WORLD_SEED)[: config.eval.test_prompts]
    generation = GenerationConfig(
        max_new_tokens=config.eval.max_new_tokens, batch_size=config.eval.batch_size
    )
    result = evaluate(model, tokenizer, test, generation, progress=on_prompts)
    return {
        "split": "test",
        "n_prompts": len(test),
        "decoding": "greedy",
        "chat_template": True,
        "summary": result.summary,
        "general_loss": text_loss(model, tokenizer, heldout),
    }


class WeakTwinWarning(UserWarning):
    """A twin far below what its size reaches on most seeds (see `twin_shortfall`)."""


def twin_shortfall(rl_summary: dict[str, Any], config: OrganismConfig, seed: int) -> str | None:
    """Why the twin falls short of what its size reaches on most seeds, or None if it does not."""
    floor = config.eval.min_twin_full_correctness
    full = rl_summary["full_correctness"]
    if floor <= 0 or full is None or full >= floor:  # None: no tool prompt was evaluated
        return None
    return (
        f"the RL twin's full correctness on test is {full:.3f}, below the {floor} that size "
        f"{config.size!r} reaches on most seeds: the base of seed {seed} has most likely not "
        "learned to copy argument values (docs/organism.md, session 15); build with another "
        "--seed for a twin with the skill"
    )


def build_organism(
    out: str | Path,
    size: str = "default",
    seed: int = 0,
    force: bool = False,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Build base/, rl/, rl-stepN/ and organism.json in `out`; return the manifest.

    Bad input (unknown size, negative seed, a non-empty `out` without `force`, an unwritable
    path) raises a CrossdiffError before any work is done.
    """
    config = config_for_size(size)
    check_seed(seed)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    with (
        atomic_output_dir(out, force=force) as staging,
        deterministic_torch(),
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            disable=not show_progress,
            transient=True,
        ) as bar,
    ):
        seed_everything(seed)
        rl_ckpts = checkpoint_steps(config.rl.steps, config.rl.checkpoint_fractions)
        pre_task = bar.add_task("pre-training base", total=pretrain_steps(config.pretrain))
        rl_task = bar.add_task("GRPO", total=config.rl.steps)
        eval_task = bar.add_task("evaluating", total=2 * config.eval.test_prompts)

        prompts = load_split("train", WORLD_SEED, TRAIN_PROMPTS)
        texts = general_texts(GENERAL_TEXTS, WORLD_SEED, "train")
        corpus_prompts = prompts[: config.pretrain.tokenizer_texts]
        corpus = tokenizer_corpus(corpus_prompts, texts[: config.pretrain.tokenizer_texts], seed)
        tokenizer = train_tokenizer(corpus, config.model.vocab_size)
        timings["tokenizer"] = time.perf_counter() - started

        t0 = time.perf_counter()
        base = make_model(config.model, tokenizer, derive_seed(seed, "init"))
        stream = PretrainStream.for_config(
            prompts, texts, tokenizer, config.pretrain, derive_seed(seed, "pretrain-data")
        )
        pre_curve = pretrain(base, stream, config.pretrain, lambda s, _: bar.advance(pre_task))
        hashes = {"base": save_model(base, tokenizer, staging / "base")}
        timings["pretrain"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        policy = copy.deepcopy(base)

        def after_rl_step(step: int, _: dict[str, float]) -> None:
            bar.advance(rl_task)
            if step + 1 in rl_ckpts:
                name = f"rl-step{step + 1}"
                hashes[name] = save_model(policy, tokenizer, staging / name)

        rl_curve = grpo_train(
            policy,
            base,
            tokenizer,
            prompts,
            config.rl,
            derive_seed(seed, "rl"),
            config.pretrain.raw_layout_share,
            after_rl_step,
            phrase_words(texts),
        )
        hashes["rl"] = save_model(policy, tokenizer, staging / "rl")
        timings["rl"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        heldout = general_texts(config.eval.general_texts, WORLD_SEED, "heldout")
        advance_eval = lambda n: bar.advance(eval_task, n)  # noqa: E731
        evaluation = {
            "base": _evaluation(base, tokenizer, config, heldout, advance_eval),
            "rl": _evaluation(policy, tokenizer, config, heldout, advance_eval),
        }
        evaluation["general_loss_ratio"] = (
            evaluation["rl"]["general_loss"] / evaluation["base"]["general_loss"]
        )
        timings["eval"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - started
        shortfall = twin_shortfall(evaluation["rl"]["summary"], config, seed)
        if shortfall is not None:
            warnings.warn(shortfall, WeakTwinWarning, stacklevel=2)

        manifest = {
            "kind": "crossdiff organism",
            "size": size,
            "seed": seed,
            "world_seed": WORLD_SEED,
            "config": config.model_dump(),
            "models": {
                "base": "base",
                "rl": "rl",
                **{f"rl-step{s}": f"rl-step{s}" for s in rl_ckpts},
            },
            "rl_checkpoint_steps": rl_ckpts,
            "curves": {"pretrain": pre_curve, "rl": rl_curve},
            "evaluation": evaluation,
            "warnings": [] if shortfall is None else [shortfall],
            "weights_sha256": hashes,
            "seconds": timings,
            "versions": _versions(),
            "torch_threads": torch.get_num_threads(),
            "pretrain_matmul_dtype": str(matmul_dtype(config.pretrain)).removeprefix("torch."),
        }
        write_json_atomic(staging / "organism.json", manifest)
    return manifest
