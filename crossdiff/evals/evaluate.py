"""Evaluate a model on tool prompts: render, generate in batches, score with the world's scorer.

The RL reward, the organism's own evaluation and every experiment go through `generate` and
`score_response`; this module only ties them together and summarises.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from crossdiff.evals.generate import Generation, GenerationConfig, StepObserver, generate
from crossdiff.evals.runs import GenerationRecord
from crossdiff.organism.tokenizer import ENDOFTEXT
from crossdiff.world import ToolPrompt, render_prompt, score_response, summarize


@dataclass(frozen=True)
class Evaluation:
    """Per-prompt records and the world's summary of their scores."""

    records: list[GenerationRecord]
    summary: dict[str, Any]


def render_prompts(
    prompts: Sequence[ToolPrompt], tokenizer: Any, chat_template: bool = True
) -> list[str]:
    """Render each prompt with the chat template (default) or the raw layout."""
    return [render_prompt(prompt, tokenizer, chat_template) for prompt in prompts]


def evaluate(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[ToolPrompt],
    config: GenerationConfig | None = None,
    chat_template: bool = True,
    observers: Sequence[StepObserver] = (),
    progress: Callable[[int], None] | None = None,
    condition: str = "none",
    sample: int = 0,
    reply_prefix: str = "",
) -> Evaluation:
    """Generate an answer to every prompt (greedy unless `config` samples) and score it.

    `condition` and `sample` label the records (as written to a run's generations.jsonl). A
    `reply_prefix` is written at the start of every answer before the model continues it, and
    scored as part of the answer: `"<tool_call>\\n"` measures what a model does once it calls,
    whether or not it would have chosen to. Observers see the prefix as part of the prompt.
    """
    texts = [text + reply_prefix for text in render_prompts(prompts, tokenizer, chat_template)]
    generations = generate(model, tokenizer, texts, config, observers, progress)
    if reply_prefix:
        generations = [replace(gen, text=reply_prefix + gen.text) for gen in generations]
    return score_generations(prompts, generations, condition, sample)


def score_generations(
    prompts: Sequence[ToolPrompt],
    generations: Sequence[Generation],
    condition: str = "none",
    sample: int = 0,
) -> Evaluation:
    """Score generated answers against their prompts and summarise."""
    scores = [
        score_response(gen.text, prompt) for prompt, gen in zip(prompts, generations, strict=True)
    ]
    records = [
        GenerationRecord(prompt.id, sample, condition, gen.text, gen.stopped, score.to_dict())
        for prompt, gen, score in zip(prompts, generations, scores, strict=True)
    ]
    return Evaluation(records=records, summary=summarize(scores))


@torch.no_grad()
def text_loss(
    model: torch.nn.Module, tokenizer: Any, texts: Sequence[str], batch_size: int = 32
) -> float:
    """Mean next-token cross-entropy (nats per token) of `model` over `texts` (eos appended)."""
    total_loss = 0.0
    total_tokens = 0
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(texts), batch_size):
            chunk = [text + ENDOFTEXT for text in texts[start : start + batch_size]]
            encoded = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in chunk]
            width = max(len(ids) for ids in encoded)
            ids_BT = torch.zeros((len(encoded), width), dtype=torch.long)
            mask_BT = torch.zeros((len(encoded), width), dtype=torch.long)
            for row, ids in enumerate(encoded):
                ids_BT[row, : len(ids)] = torch.tensor(ids)
                mask_BT[row, : len(ids)] = 1
            logits_BTV = model(input_ids=ids_BT, attention_mask=mask_BT).logits.float()
            labels_BT = ids_BT[:, 1:].masked_fill(mask_BT[:, 1:] == 0, -100)
            loss_sum = torch.nn.functional.cross_entropy(
                logits_BTV[:, :-1].reshape(-1, logits_BTV.shape[-1]),
                labels_BT.reshape(-1),
                reduction="sum",
            )
            total_loss += float(loss_sum)
            total_tokens += int((labels_BT != -100).sum())
    finally:
        model.train(was_training)
    return total_loss / max(1, total_tokens)
