"""The other model's cached prompt activations: same tokens as uncached, and only on exact hits."""

from __future__ import annotations

import gc

import pytest
import torch
import transformers

from crossdiff.evals.dictionaries import PCADictionary
from crossdiff.evals.generate import GenerationConfig, generate_from_ids
from crossdiff.evals.hooks import intervene
from crossdiff.evals.interventions import Intervention
from crossdiff.evals.prompt_cache import PromptActivationCache
from crossdiff.models.capture import forward_to_hook
from crossdiff.models.hookpoints import resolve_hook_point
from crossdiff.models.tiny import tiny_causal_lm, tiny_tokenizer

transformers.logging.set_verbosity_error()

HOOK = "resid_post.1"
PROMPTS = ["The quick brown fox", "Call get_weather with a city name to learn the", "Rivers"]
OTHER_PROMPTS = ["Rivers carry sand", 'A tool call looks like {"name": "add"', "jumps over"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


@pytest.fixture(scope="module")
def pair():
    return tiny_causal_lm("qwen2", width=32, seed=0), tiny_causal_lm("qwen2", width=48, seed=1)


@pytest.fixture(scope="module")
def pca(pair, tokenizer) -> PCADictionary:
    rows: list[list[torch.Tensor]] = [[], []]
    for text in [*PROMPTS, *OTHER_PROMPTS]:
        batch = torch.tensor([tokenizer(text)["input_ids"]])
        for model, out in zip(pair, rows, strict=True):
            point = resolve_hook_point(model, HOOK)
            out.append(forward_to_hook(model, point, batch, torch.ones_like(batch))[0])
    return PCADictionary.fit(torch.cat(rows[0]), torch.cat(rows[1]), 24, partition=(6, 6))


def _ids(tokenizer, prompts) -> list[list[int]]:
    return [tokenizer(text)["input_ids"] for text in prompts]


def _generate(model, tokenizer, ids, batch_size: int = 8) -> list[tuple[int, ...]]:
    config = GenerationConfig(max_new_tokens=5, batch_size=batch_size)
    return [g.token_ids for g in generate_from_ids(model, tokenizer, ids, config)]


def _run(pair, tokenizer, pca, intervention, ids, cache, hook_b=None):
    with intervene(pair, HOOK, intervention, pca, hook_point_b=hook_b, prompt_cache=cache) as run:
        tokens = _generate(run.model, tokenizer, ids)
    return tokens, dict(run.calls)


STEER = Intervention("steer", features=(12, 13), alpha=30.0)
EDITS = [
    STEER,
    Intervention("splice"),
    Intervention("clamp", features=(14,), value=25.0, policy="prompt"),
    Intervention("splice", model=1, policy="prompt"),
]


@pytest.mark.parametrize("intervention", EDITS, ids=lambda i: i.label())
def test_cached_prompt_activations_give_the_uncached_tokens(
    pair, tokenizer, pca, intervention
) -> None:
    ids = _ids(tokenizer, PROMPTS)
    uncached, calls = _run(pair, tokenizer, pca, intervention, ids, PromptActivationCache(0))
    assert calls["other"] == calls["prefill"] == 1 and calls["other_cached"] == 0
    shared = PromptActivationCache()
    first, first_calls = _run(pair, tokenizer, pca, intervention, ids, shared)
    second, second_calls = _run(pair, tokenizer, pca, intervention, ids, shared)
    assert first == second == uncached
    assert first_calls["other"] == 1
    assert second_calls["other"] == 0 and second_calls["other_cached"] == 1
    assert uncached != _generate(pair[intervention.model], tokenizer, ids)  # the edit did something


def test_conditions_on_the_same_prompts_share_one_forward_of_the_other_model(
    pair, tokenizer, pca
) -> None:
    ids = _ids(tokenizer, PROMPTS)
    shared = PromptActivationCache()
    _run(pair, tokenizer, pca, Intervention("splice"), ids, shared)
    tokens, calls = _run(pair, tokenizer, pca, STEER, ids, shared)
    assert calls["other"] == 0 and calls["other_cached"] == 1
    assert tokens == _run(pair, tokenizer, pca, STEER, ids, PromptActivationCache(0))[0]


def test_the_cache_misses_for_other_prompts_policies_hook_points_and_models(
    pair, tokenizer, pca
) -> None:
    ids, other_ids = _ids(tokenizer, PROMPTS), _ids(tokenizer, OTHER_PROMPTS)
    shared = PromptActivationCache()
    _run(pair, tokenizer, pca, STEER, ids, shared)
    tokens, calls = _run(pair, tokenizer, pca, STEER, other_ids, shared)
    assert calls["other"] == 1, "different prompts must run the other model"
    assert tokens == _run(pair, tokenizer, pca, STEER, other_ids, PromptActivationCache(0))[0]
    one_less = ids[:2]
    assert _run(pair, tokenizer, pca, STEER, one_less, shared)[1]["other"] == 1
    prompt_policy = Intervention("steer", features=(12, 13), alpha=30.0, policy="prompt")
    assert _run(pair, tokenizer, pca, prompt_policy, ids, shared)[1]["other"] == 1
    assert _run(pair, tokenizer, pca, STEER, ids, shared, hook_b="resid_post.0")[1]["other"] == 1
    spillover = Intervention("splice", model=1)
    assert _run(pair, tokenizer, pca, spillover, ids, shared)[1]["other"] == 1
    assert len(shared) == 6


def test_samples_within_one_block_reuse_the_prompt_forward(pair, tokenizer, pca) -> None:
    ids = _ids(tokenizer, PROMPTS)
    with intervene(pair, HOOK, STEER, pca) as run:
        first = _generate(run.model, tokenizer, ids)
        second = _generate(run.model, tokenizer, ids)
    assert first == second
    assert run.calls["other"] == 1 and run.calls["other_cached"] == 1


def test_every_token_policy_runs_the_other_model_in_lockstep(pair, tokenizer, pca) -> None:
    ids = _ids(tokenizer, PROMPTS)
    shared = PromptActivationCache()
    every = Intervention("steer", features=(12, 13), alpha=30.0, policy="all")
    for _ in range(2):
        _, calls = _run(pair, tokenizer, pca, every, ids, shared)
        assert calls["other"] == calls["prefill"] + calls["decode"]
    assert len(shared) == 0


def test_cached_rows_are_exactly_the_other_models_rows(pair, tokenizer) -> None:
    cache = PromptActivationCache()
    point = resolve_hook_point(pair[1], HOOK)
    batch = torch.tensor([_ids(tokenizer, PROMPTS)[1]])
    mask = torch.zeros(batch.shape, dtype=torch.bool)
    mask[:, -1] = True

    def compute() -> torch.Tensor:
        return forward_to_hook(pair[1], point, batch, torch.ones_like(batch))[mask]

    stored = cache.rows(pair[1], HOOK, (batch, None, None, mask), compute)
    again = cache.rows(pair[1], HOOK, (batch, None, None, mask), lambda: pytest.fail("recomputed"))
    assert torch.equal(stored, compute()) and again is stored
    assert (cache.hits, cache.misses) == (1, 1)


def test_the_cache_evicts_oldest_entries_and_forgets_dead_models() -> None:
    model = torch.nn.Linear(2, 2)
    row_bytes = 4 * 4
    cache = PromptActivationCache(max_bytes=2 * row_bytes)
    for value in range(3):
        key = (torch.tensor([value]),)
        cache.rows(model, "h", key, lambda v=value: torch.full((1, 4), float(v)))
    assert len(cache) == 2 and cache.stored_bytes == 2 * row_bytes
    recomputed: list[int] = []
    cache.rows(model, "h", (torch.tensor([0]),), lambda: recomputed.append(0) or torch.zeros(1, 4))
    assert recomputed == [0], "the oldest entry was evicted"
    disabled = PromptActivationCache(max_bytes=0)
    disabled.rows(model, "h", (torch.tensor([0]),), lambda: torch.zeros(1, 4))
    assert len(disabled) == 0
    del model
    gc.collect()
    assert len(cache) == 0 and cache.stored_bytes == 0
    with pytest.raises(ValueError, match="max_bytes"):
        PromptActivationCache(max_bytes=-1)
