"""Batched generation with left padding and the KV cache, written as an explicit decode loop.

One prefill forward over the left-padded prompts, then one forward per new token with the cache.
Every forward goes through `StepObserver`s, which see a `ForwardContext` (prefill or generated
token, the ids fed in, the attention mask, the position ids, where the prompts end) before the
forward runs and the next-token logits after it. Interventions hook the model's residual stream and
read the context to know which positions they are editing; a second model can be run in lockstep
by an observer that owns its own `CachedForward` and calls it on the same context.

Greedy decoding is the default; sampling uses one seeded generator per prompt, so a prompt's
sample depends on (seed, its index), not on how the prompts were batched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from crossdiff.errors import CrossdiffError
from crossdiff.evals.kv_cache import reserved_cache
from crossdiff.seeding import check_seed, derive_seed


@dataclass(frozen=True)
class GenerationConfig:
    """How to decode: greedy when `temperature` is 0, else sampling at that temperature."""

    max_new_tokens: int = 64
    temperature: float = 0.0
    seed: int = 0
    batch_size: int = 32

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise CrossdiffError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise CrossdiffError(f"temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if self.batch_size < 1:
            raise CrossdiffError(f"batch_size must be >= 1, got {self.batch_size}")
        check_seed(self.seed, "seed")


@dataclass
class ForwardContext:
    """What one forward of the decode loop feeds the model; observers read it.

    `step` is 0 for the prefill (the whole left-padded prompt) and k >= 1 for the forward that
    feeds the k-th generated token. `prompt_width` is the padded prompt length: with left padding
    every prompt's last token sits at column `prompt_width - 1` of the prefill.
    """

    step: int
    input_ids_BT: torch.Tensor
    attention_mask_BS: torch.Tensor
    position_ids_BT: torch.Tensor
    prompt_width: int
    prompt_lengths_B: torch.Tensor
    active_B: torch.Tensor
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def is_prefill(self) -> bool:
        """True for the forward over the prompts, False for a generated token."""
        return self.step == 0

    @property
    def last_prompt_column(self) -> int:
        """Column of every prompt's last token in the prefill input (left padding)."""
        return self.prompt_width - 1


class StepObserver(Protocol):
    """Sees every forward of the decode loop: before it runs, and its next-token logits after."""

    def before_forward(self, context: ForwardContext) -> None:
        """Called before the model's forward on `context`."""

    def after_forward(self, context: ForwardContext, logits_BV: torch.Tensor) -> None:
        """Called with the float32 next-token logits; may edit them in place."""


class CachedForward:
    """One model's forward over a left-padded batch, keeping its KV cache between steps.

    The cache writes new tokens in place (`reserved_cache`), with room for `reserve` of them
    after the prompt before it first grows.
    """

    def __init__(self, model: torch.nn.Module, reserve: int = 64) -> None:
        self.model = model
        self.cache: Any = reserved_cache(model.config, reserve)

    def __call__(self, context: ForwardContext) -> torch.Tensor:
        """Run the model on the context's ids and return the last position's logits [B, V]."""
        output = self.model(
            input_ids=context.input_ids_BT,
            attention_mask=context.attention_mask_BS,
            position_ids=context.position_ids_BT,
            cache=self.cache,
            use_cache=True,
            logits_to_keep=1,
        )
        self.cache = output.cache
        return output.logits[:, -1, :].float()


@dataclass(frozen=True)
class Generation:
    """One prompt's output: the text before the stop token, its ids, and whether it stopped."""

    text: str
    token_ids: tuple[int, ...]
    stopped: bool


def stop_token_ids(tokenizer: Any) -> list[int]:
    """The ids that end a turn: eos, plus `<|endoftext|>` and `<|im_end|>` when known."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    vocab = tokenizer.get_vocab()
    for text in ("<|endoftext|>", "<|im_end|>"):
        if text in vocab:
            ids.add(int(vocab[text]))
    if not ids:
        raise CrossdiffError(
            "the tokenizer has no eos token: set tokenizer.eos_token before generating"
        )
    return sorted(ids)


def pad_token_id(tokenizer: Any) -> int:
    """The id used for left padding (pad, else eos)."""
    if tokenizer.pad_token_id is not None:
        return int(tokenizer.pad_token_id)
    return int(stop_token_ids(tokenizer)[0])


def left_pad(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad id lists into (ids [B, T], attention mask [B, T])."""
    width = max(len(seq) for seq in sequences)
    ids_BT = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask_BT = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        if seq:
            ids_BT[row, width - len(seq) :] = torch.tensor(list(seq), dtype=torch.long)
            mask_BT[row, width - len(seq) :] = 1
    return ids_BT, mask_BT


def _choose_next(
    logits_BV: torch.Tensor, temperature: float, generators: Sequence[torch.Generator] | None
) -> torch.Tensor:
    if temperature == 0 or generators is None:
        return logits_BV.argmax(dim=-1)
    probs_BV = torch.softmax(logits_BV / temperature, dim=-1)
    picks = [
        torch.multinomial(probs_BV[row], 1, generator=generators[row])
        for row in range(probs_BV.shape[0])
    ]
    return torch.cat(picks)


@torch.no_grad()
def generate_batch_ids(
    model: torch.nn.Module,
    prompt_ids: Sequence[Sequence[int]],
    config: GenerationConfig,
    stop_ids: Sequence[int],
    pad_id: int,
    row_seeds: Sequence[int] | None = None,
    observers: Sequence[StepObserver] = (),
    samples_per_prompt: int = 1,
) -> tuple[list[list[int]], list[bool]]:
    """Decode one batch of tokenised prompts; return each row's new ids (stop excluded) and stopped.

    With `samples_per_prompt` = G > 1 each prompt is prefilled once and its cache repeated, giving
    G consecutive output rows per prompt (observers then see P rows at the prefill and P * G rows
    after it). `row_seeds` (one per output row) seed the sampling generators; required when
    sampling.
    """
    if any(len(ids) == 0 for ids in prompt_ids):
        raise CrossdiffError("cannot generate from an empty prompt: give at least one token")
    rows = len(prompt_ids) * samples_per_prompt
    generators = None
    if config.temperature > 0:
        if row_seeds is None or len(row_seeds) != rows:
            raise CrossdiffError("sampling needs one seed per output row")
        generators = [torch.Generator().manual_seed(seed) for seed in row_seeds]
    ids_BT, mask_BT = left_pad(prompt_ids, pad_id)
    width = ids_BT.shape[1]
    position_BT = (mask_BT.cumsum(dim=-1) - 1).clamp(min=0)
    stop_S = torch.tensor(list(stop_ids), dtype=torch.long)
    active_B = torch.ones(rows, dtype=torch.bool)
    stopped_B = torch.zeros(rows, dtype=torch.bool)
    new_tokens_BN = torch.full((rows, config.max_new_tokens), pad_id, dtype=torch.long)
    lengths_B = mask_BT.sum(dim=-1)
    forward = CachedForward(model, reserve=config.max_new_tokens)
    context = ForwardContext(
        0,
        ids_BT,
        mask_BT,
        position_BT,
        width,
        lengths_B,
        torch.ones(len(prompt_ids), dtype=torch.bool),
    )
    for step in range(config.max_new_tokens):
        for observer in observers:
            observer.before_forward(context)
        logits_BV = forward(context)
        for observer in observers:
            observer.after_forward(context, logits_BV)
        last_position_B1 = context.position_ids_BT[:, -1:]
        if step == 0 and samples_per_prompt > 1:
            logits_BV = logits_BV.repeat_interleave(samples_per_prompt, dim=0)
            forward.cache.batch_repeat_interleave(samples_per_prompt)
            mask_BT = mask_BT.repeat_interleave(samples_per_prompt, dim=0)
            lengths_B = lengths_B.repeat_interleave(samples_per_prompt, dim=0)
            last_position_B1 = last_position_B1.repeat_interleave(samples_per_prompt, dim=0)
        next_B = _choose_next(logits_BV, config.temperature, generators)
        next_B = torch.where(active_B, next_B, torch.full_like(next_B, pad_id))
        new_tokens_BN[:, step] = next_B
        hit_stop_B = active_B & torch.isin(next_B, stop_S)
        stopped_B |= hit_stop_B
        active_B &= ~hit_stop_B
        if not bool(active_B.any()) or step + 1 == config.max_new_tokens:
            break
        mask_BT = torch.cat([mask_BT, torch.ones((rows, 1), dtype=torch.long)], dim=-1)
        context = ForwardContext(
            step + 1,
            next_B[:, None],
            mask_BT,
            last_position_B1 + 1,
            width,
            lengths_B,
            active_B.clone(),
        )
    steps_taken = step + 1
    outputs: list[list[int]] = []
    for row in range(rows):
        row_ids = new_tokens_BN[row, :steps_taken].tolist()
        cut = next((i for i, tok in enumerate(row_ids) if tok in stop_ids), steps_taken)
        outputs.append(row_ids[:cut])
    return outputs, stopped_B.tolist()


def generate(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[str],
    config: GenerationConfig | None = None,
    observers: Sequence[StepObserver] = (),
    progress: Any = None,
) -> list[Generation]:
    """Generate a continuation of each prompt text, batched (longest first), in input order.

    Prompts are tokenised without added special tokens (chat-templated text already has them).
    `progress`, if given, is called with the number of prompts finished after each batch.
    """
    config = config or GenerationConfig()
    encoded = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in prompts]
    return generate_from_ids(model, tokenizer, encoded, config, observers, progress)


def generate_from_ids(
    model: torch.nn.Module,
    tokenizer: Any,
    prompt_ids: Sequence[Sequence[int]],
    config: GenerationConfig,
    observers: Sequence[StepObserver] = (),
    progress: Any = None,
) -> list[Generation]:
    """Like `generate`, for prompts that are already token ids."""
    stop_ids = stop_token_ids(tokenizer)
    pad_id = pad_token_id(tokenizer)
    order = sorted(range(len(prompt_ids)), key=lambda i: (-len(prompt_ids[i]), i))
    results: list[Generation | None] = [None] * len(prompt_ids)
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(order), config.batch_size):
            rows = order[start : start + config.batch_size]
            seeds = [derive_seed(config.seed, "row", row) for row in rows]
            new_ids, stopped = generate_batch_ids(
                model, [prompt_ids[r] for r in rows], config, stop_ids, pad_id, seeds, observers
            )
            for row, ids, did_stop in zip(rows, new_ids, stopped, strict=True):
                text = tokenizer.decode(ids, skip_special_tokens=False)
                results[row] = Generation(text=text, token_ids=tuple(ids), stopped=did_stop)
            if progress is not None:
                progress(len(rows))
    finally:
        model.train(was_training)
    return [result for result in results if result is not None]
