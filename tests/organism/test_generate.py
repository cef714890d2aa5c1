"""The decode loop: batches equal one-at-a-time, greedy matches HF generate, seeded sampling."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, Qwen2Config

from crossdiff.errors import CrossdiffError
from crossdiff.evals.generate import ForwardContext, GenerationConfig, generate
from crossdiff.organism.tokenizer import train_tokenizer
from crossdiff.world import general_texts

PROMPTS = [
    "The quiet forest near",
    "In spring the market fills the square every Monday before noon and",
    "Iris rides",
    "A heron crossed the path just as the light turned golden, and the old bridge",
]


@pytest.fixture(scope="module")
def tiny() -> tuple[torch.nn.Module, object]:
    tokenizer = train_tokenizer(general_texts(300, 0), 400)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).eval()
    return model, tokenizer


def test_padded_batch_equals_one_prompt_at_a_time(tiny) -> None:
    model, tokenizer = tiny
    config = GenerationConfig(max_new_tokens=12, batch_size=4)
    batched = generate(model, tokenizer, PROMPTS, config)
    single = [generate(model, tokenizer, [p], config)[0] for p in PROMPTS]
    assert [g.token_ids for g in batched] == [g.token_ids for g in single]
    assert all(len(g.token_ids) > 0 for g in batched)


def test_greedy_matches_transformers_generate(tiny) -> None:
    model, tokenizer = tiny
    ours = generate(model, tokenizer, PROMPTS[:1], GenerationConfig(max_new_tokens=10))[0]
    ids = tokenizer(PROMPTS[0], return_tensors="pt", add_special_tokens=False)["input_ids"]
    theirs = model.generate(
        ids, max_new_tokens=10, do_sample=False, eos_token_id=-1, pad_token_id=0
    )[0, ids.shape[1] :]
    n = len(ours.token_ids)
    assert list(ours.token_ids) == theirs.tolist()[:n]


def test_greedy_is_deterministic_and_sampling_reproducible_with_a_seed(tiny) -> None:
    model, tokenizer = tiny
    greedy = GenerationConfig(max_new_tokens=8)
    assert generate(model, tokenizer, PROMPTS, greedy) == generate(
        model, tokenizer, PROMPTS, greedy
    )
    sampled = GenerationConfig(max_new_tokens=8, temperature=1.0, seed=7, batch_size=2)
    first = generate(model, tokenizer, PROMPTS, sampled)
    assert first == generate(model, tokenizer, PROMPTS, sampled)
    rebatched = GenerationConfig(max_new_tokens=8, temperature=1.0, seed=7, batch_size=4)
    assert first == generate(model, tokenizer, PROMPTS, rebatched)
    other = GenerationConfig(max_new_tokens=8, temperature=1.0, seed=8, batch_size=2)
    assert first != generate(model, tokenizer, PROMPTS, other)


class _Recorder:
    def __init__(self) -> None:
        self.contexts: list[ForwardContext] = []

    def before_forward(self, context: ForwardContext) -> None:
        self.contexts.append(context)

    def after_forward(self, context: ForwardContext, logits_BV: torch.Tensor) -> None:
        assert logits_BV.shape == (context.input_ids_BT.shape[0], logits_BV.shape[1])


def test_observers_see_prefill_then_one_token_per_step(tiny) -> None:
    model, tokenizer = tiny
    recorder = _Recorder()
    config = GenerationConfig(max_new_tokens=5, batch_size=4)
    generate(model, tokenizer, PROMPTS, config, observers=[recorder])
    first, *rest = recorder.contexts
    assert first.is_prefill and first.step == 0
    widths = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in PROMPTS]
    assert first.prompt_width == max(widths)
    assert sorted(first.prompt_lengths_B.tolist()) == sorted(widths)
    # left padding: every row's last prompt token is in the last column, at position length - 1
    assert (
        first.position_ids_BT[:, first.last_prompt_column].tolist()
        == (first.prompt_lengths_B - 1).tolist()
    )
    assert [c.step for c in rest] == list(range(1, len(rest) + 1))
    assert all(not c.is_prefill and c.input_ids_BT.shape[1] == 1 for c in rest)


def test_bad_generation_settings_are_refused() -> None:
    with pytest.raises(CrossdiffError, match="max_new_tokens"):
        GenerationConfig(max_new_tokens=0)
    with pytest.raises(CrossdiffError, match="temperature"):
        GenerationConfig(temperature=-1.0)


def test_group_sampling_from_one_prefill_equals_sampling_repeated_prompts(tiny) -> None:
    from crossdiff.evals.generate import (
        generate_batch_ids,
        generate_from_ids,
        pad_token_id,
        stop_token_ids,
    )
    from crossdiff.seeding import derive_seed

    model, tokenizer = tiny
    ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in PROMPTS[:2]]
    config = GenerationConfig(max_new_tokens=6, temperature=1.0, seed=3, batch_size=6)
    repeated = generate_from_ids(model, tokenizer, [i for i in ids for _ in range(3)], config)
    seeds = [derive_seed(3, "row", row) for row in range(6)]
    grouped, stopped = generate_batch_ids(
        model, ids, config, stop_token_ids(tokenizer), pad_token_id(tokenizer), seeds,
        samples_per_prompt=3,
    )  # fmt: skip
    assert grouped == [list(g.token_ids) for g in repeated]
    assert stopped == [g.stopped for g in repeated]
