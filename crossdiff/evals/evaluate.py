"""Evaluate a model on tool prompts: render, generate in batches, score with the world's scorer.

The RL reward, the organism's own evaluation and every experiment go through `generate` and
`score_response`; this module only ties them together and summarises.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from crossdiff.errors import CrossdiffError
from crossdiff.evals.generate import (
    ForwardContext,
    Generation,
    GenerationConfig,
    StepObserver,
    generate,
    generate_batch_ids,
    pad_token_id,
    stop_token_ids,
)
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


class _FirstTokenLogprob:
    """Observer: the log-probability of one token id at every prefill's next position."""

    def __init__(self, token_id: int) -> None:
        self.token_id = token_id
        self.values: list[float] = []

    def before_forward(self, context: ForwardContext) -> None:
        """Nothing to do before the forward."""

    def after_forward(self, context: ForwardContext, logits_BV: torch.Tensor) -> None:
        """Keep the token's log-probability for each prompt of a prefill."""
        if context.is_prefill:
            logprobs_BV = torch.log_softmax(logits_BV, dim=-1)
            self.values.extend(logprobs_BV[:, self.token_id].tolist())


def first_token_logprobs(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[ToolPrompt],
    token: str,
    chat_template: bool = True,
    batch_size: int = 32,
) -> list[float]:
    """The log-probability that each answer starts with `token` (a text that is one token, such
    as `"<tool_call>"`), in input order.

    It shows how far a model is from an answer it does not give greedily: a base trained to stall
    on tool requests and never call on small talk should give the two very different odds.
    """
    token_ids = tokenizer(token, add_special_tokens=False)["input_ids"]
    if len(token_ids) != 1:
        raise CrossdiffError(
            f"{token!r} is {len(token_ids)} tokens for this tokenizer: give one token's text"
        )
    recorder = _FirstTokenLogprob(token_ids[0])
    texts = render_prompts(prompts, tokenizer, chat_template)
    encoded = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
    one_token = GenerationConfig(max_new_tokens=1, batch_size=batch_size)
    stops, pad = stop_token_ids(tokenizer), pad_token_id(tokenizer)
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(encoded), batch_size):
            batch = encoded[start : start + batch_size]
            generate_batch_ids(model, batch, one_token, stops, pad, observers=[recorder])
    finally:
        model.train(was_training)
    return recorder.values


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
