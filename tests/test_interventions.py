"""Interventions during generation: exact no-ops, exact ablation, batch invariance, bad input."""

from __future__ import annotations

import pytest
import torch
import transformers

from crossdiff.crosscoder import Crosscoder, CrosscoderConfig
from crossdiff.errors import CrossdiffError
from crossdiff.evals.dictionaries import IdentityDictionary, PCADictionary
from crossdiff.evals.generate import GenerationConfig, generate_from_ids
from crossdiff.evals.hooks import intervene
from crossdiff.evals.interventions import Intervention, PreparedEdit
from crossdiff.models.capture import forward_to_hook
from crossdiff.models.hookpoints import resolve_hook_point
from crossdiff.models.tiny import tiny_causal_lm, tiny_tokenizer
from crossdiff.normstats import NormStats

transformers.logging.set_verbosity_error()

HOOK = "resid_post.1"
WIDTH_A, WIDTH_B = 32, 48
PROMPTS = [
    "The quick brown fox",
    "Call get_weather with a city name to learn the",
    "Rivers carry sand",
    'A tool call looks like {"name": "add"',
]
POLICIES = ("last_prompt_token", "prompt", "all")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tokenizer():
    tok = tiny_tokenizer()
    tok.padding_side = "left"
    return tok


@pytest.fixture(scope="module")
def pair() -> tuple[torch.nn.Module, torch.nn.Module]:
    return (
        tiny_causal_lm("qwen2", width=WIDTH_A, seed=0),
        tiny_causal_lm("qwen2", width=WIDTH_B, seed=1),
    )


def _prompt_ids(tokenizer, prompts=PROMPTS) -> list[list[int]]:
    return [tokenizer(text)["input_ids"] for text in prompts]


def _generate(
    model, tokenizer, prompt_ids: list[list[int]], new_tokens: int = 6, batch_size: int = 0
) -> list[list[int]]:
    """Greedy continuation ids from the project's decode loop (left padding, KV cache)."""
    config = GenerationConfig(max_new_tokens=new_tokens, batch_size=batch_size or len(prompt_ids))
    return [list(g.token_ids) for g in generate_from_ids(model, tokenizer, prompt_ids, config)]


@pytest.fixture(scope="module")
def activations(pair, tokenizer) -> tuple[torch.Tensor, torch.Tensor]:
    ids = _prompt_ids(tokenizer, [*PROMPTS, "The sea returns it as beaches.", "jumps over"])
    rows_a, rows_b = [], []
    for text_ids in ids:
        batch = torch.tensor([text_ids])
        mask = torch.ones_like(batch)
        for model, rows in zip(pair, (rows_a, rows_b), strict=True):
            point = resolve_hook_point(model, HOOK)
            rows.append(forward_to_hook(model, point, batch, mask)[0])
    return torch.cat(rows_a), torch.cat(rows_b)


@pytest.fixture(scope="module")
def pca(activations) -> PCADictionary:
    return PCADictionary.fit(*activations, num_features=24, partition=(6, 6))


@pytest.fixture(scope="module")
def dfc(activations) -> Crosscoder:
    """A real dedicated feature crosscoder (untrained weights, statistics of real activations)."""
    config = CrosscoderConfig(
        widths=(WIDTH_A, WIDTH_B), dict_size=64, sparsity="topk", k=16, partition=(0.25, 0.25)
    )
    x_a, x_b = activations
    model = Crosscoder(config, stats=(NormStats.from_tensor(x_a), NormStats.from_tensor(x_b)))
    model.requires_grad_(False)
    return model


@pytest.mark.parametrize("policy", POLICIES)
def test_identity_splice_reproduces_clean_generation(pair, tokenizer, policy) -> None:
    ids = _prompt_ids(tokenizer)
    clean = _generate(pair[0], tokenizer, ids)
    dictionary = IdentityDictionary(WIDTH_A, WIDTH_B)
    with intervene(pair, HOOK, Intervention("splice", policy=policy), dictionary) as run:
        spliced = _generate(run.model, tokenizer, ids)
    assert spliced == clean
    steps = run.calls["prefill"] + run.calls["decode"]
    assert run.calls["other"] == (steps if policy == "all" else run.calls["prefill"])


@pytest.mark.parametrize("model_type", ["gpt2", "llama", "gemma2"])
def test_every_architecture_splices_exactly_and_steers(model_type, tokenizer) -> None:
    models = (
        tiny_causal_lm(model_type, width=32, seed=0),
        tiny_causal_lm(model_type, width=32, seed=1),
    )
    ids = _prompt_ids(tokenizer)
    clean = _generate(models[0], tokenizer, ids)
    identity = IdentityDictionary(32, 32)
    with intervene(models, HOOK, Intervention("splice", policy="all"), identity) as run:
        assert _generate(run.model, tokenizer, ids) == clean
    steer = Intervention("direction", features=(0, 1, 2), alpha=40.0, policy="all")
    with intervene(models, HOOK, steer, identity) as run:
        assert _generate(run.model, tokenizer, ids) != clean


@pytest.mark.parametrize("policy", POLICIES)
def test_steering_with_alpha_one_changes_nothing(pair, tokenizer, pca, policy) -> None:
    ids = _prompt_ids(tokenizer)
    clean = _generate(pair[0], tokenizer, ids)
    features = tuple(range(pca.partition_slices()["shared"].start, 20))
    steer = Intervention("steer", features=features, alpha=1.0, policy=policy)
    with intervene(pair, HOOK, steer, pca) as run:
        assert _generate(run.model, tokenizer, ids) == clean
    strong = Intervention("steer", features=features, alpha=50.0, policy=policy)
    with intervene(pair, HOOK, strong, pca) as run:
        assert _generate(run.model, tokenizer, ids) != clean


@pytest.mark.parametrize("kind", ["identity", "pca"])
def test_b_exclusive_steering_into_a_changes_nothing(pair, tokenizer, pca, kind) -> None:
    dictionary = IdentityDictionary(WIDTH_A, WIDTH_B) if kind == "identity" else pca
    b_only = dictionary.partition_slices()["b_exclusive"]
    features = tuple(range(b_only.start, b_only.stop))
    assert features
    ids = _prompt_ids(tokenizer)
    clean = _generate(pair[0], tokenizer, ids)
    steer = Intervention("steer", features=features, alpha=32.0, policy="all")
    with intervene(pair, HOOK, steer, dictionary) as run:
        assert _generate(run.model, tokenizer, ids) == clean


def test_b_exclusive_steering_of_a_real_dfc_into_a_changes_nothing(
    pair, tokenizer, dfc, activations
) -> None:
    b_only = dfc.partition_slices()["b_exclusive"]
    features = tuple(range(b_only.start, b_only.stop))
    codes = dfc.encode(*activations)
    assert codes[:, b_only].abs().sum() > 0, "the B-exclusive features must fire for this to test"
    assert torch.count_nonzero(dfc.decoder_vectors(0)[b_only]) == 0
    ids = _prompt_ids(tokenizer)
    clean = _generate(pair[0], tokenizer, ids)
    with intervene(
        pair, HOOK, Intervention("steer", features=features, alpha=64.0, policy="all"), dfc
    ) as run:
        assert _generate(run.model, tokenizer, ids) == clean
    a_only = dfc.partition_slices()["a_exclusive"]
    steer_a = Intervention(
        "steer", features=tuple(range(a_only.start, a_only.stop)), alpha=64.0, policy="all"
    )
    with intervene(pair, HOOK, steer_a, dfc) as run:
        assert _generate(run.model, tokenizer, ids) != clean


def _hidden_after_edit(models, intervention, dictionary, prompt_ids) -> torch.Tensor:
    """The edited model's hook-point output over one prefill, read after the edit."""
    seen: list[torch.Tensor] = []
    model = models[intervention.model]
    layer = model.get_submodule(resolve_hook_point(model, HOOK).module_path)
    with intervene(models, HOOK, intervention, dictionary) as run:
        handle = layer.register_forward_hook(lambda _m, _a, out: seen.append(out.clone()))
        try:
            with torch.no_grad():
                run.model(input_ids=torch.tensor([prompt_ids]), use_cache=True)
        finally:
            handle.remove()
    return seen[0][0]


@pytest.mark.parametrize("edit", ["steer", "clamp"])
def test_ablation_removes_exactly_the_feature_contribution(pair, tokenizer, pca, edit) -> None:
    ids = _prompt_ids(tokenizer)[1]
    feature = pca.partition_slices()["shared"].start + 1
    clean = _hidden_after_edit(pair, Intervention(), None, ids)
    ablate = Intervention(edit, features=(feature,), alpha=0.0, value=0.0, policy="prompt")
    ablated = _hidden_after_edit(pair, ablate, pca, ids)
    point_b = resolve_hook_point(pair[1], HOOK)
    batch = torch.tensor([ids])
    h_b = forward_to_hook(pair[1], point_b, batch, torch.ones_like(batch))[0]
    f_i = pca.encode(clean, h_b)[:, feature]
    contribution = f_i[:, None] * pca.decoder_vectors(0)[feature]
    torch.testing.assert_close(clean - ablated, contribution, rtol=1e-5, atol=1e-5)
    assert contribution.abs().max() > 1e-3


def _conditions() -> list[Intervention]:
    return [
        Intervention("splice", policy="all"),
        Intervention("splice", model=1, policy="prompt"),
        Intervention("steer", features=(12, 13), alpha=30.0, policy="last_prompt_token"),
        Intervention("steer", features=(12,), alpha=0.0, policy="all"),
        Intervention("steer", features=(12, 13), alpha=30.0, control_seed=3, policy="all"),
        Intervention("clamp", features=(14,), value=25.0, policy="prompt"),
        Intervention("direction", features=(12,), alpha=4.0, policy="all"),
    ]


@pytest.mark.parametrize("intervention", _conditions(), ids=lambda i: i.label())
def test_padded_batch_equals_one_prompt_at_a_time(pair, tokenizer, pca, intervention) -> None:
    ids = _prompt_ids(tokenizer)
    with intervene(pair, HOOK, intervention, pca) as run:
        batched = _generate(run.model, tokenizer, ids)
        single = _generate(run.model, tokenizer, ids, batch_size=1)
    assert batched == single
    assert batched != _generate(pair[intervention.model], tokenizer, ids)  # the edit did something


def test_control_matches_the_steering_norm_in_a_fixed_direction(pca) -> None:
    generator = torch.Generator().manual_seed(0)
    h_a = torch.randn(5, WIDTH_A, generator=generator) * 3
    h_b = torch.randn(5, WIDTH_B, generator=generator) * 3
    steer = Intervention("steer", features=(12, 13), alpha=8.0)
    control = Intervention("steer", features=(12, 13), alpha=8.0, control_seed=7)
    delta = PreparedEdit(steer, pca, (WIDTH_A, WIDTH_B)).apply(h_a, h_b) - h_a
    delta_control = PreparedEdit(control, pca, (WIDTH_A, WIDTH_B)).apply(h_a, h_b) - h_a
    torch.testing.assert_close(delta_control.norm(dim=-1), delta.norm(dim=-1))
    directions = delta_control / delta_control.norm(dim=-1, keepdim=True)
    torch.testing.assert_close(directions, directions[:1].expand_as(directions))
    cosine = torch.nn.functional.cosine_similarity(delta_control, delta, dim=-1)
    assert cosine.abs().max() < 0.9


def test_bad_dictionary_or_feature_fails_before_any_forward(pair, pca) -> None:
    wrong_widths = IdentityDictionary(WIDTH_B, WIDTH_A)
    with (
        pytest.raises(CrossdiffError, match="widths"),
        intervene(pair, HOOK, Intervention("splice"), wrong_widths),
    ):
        pytest.fail("installed despite mismatched widths")
    with (
        pytest.raises(CrossdiffError, match="out of range"),
        intervene(pair, HOOK, Intervention("steer", features=(24,), alpha=2.0), pca),
    ):
        pytest.fail("installed despite a feature index out of range")
    with pytest.raises(CrossdiffError, match="layer 7 is out of range"):
        intervene(pair, "resid_post.7", Intervention("splice"), pca).__enter__()
    with pytest.raises(CrossdiffError, match="needs at least one feature"):
        Intervention("steer")


def test_hooks_are_removed_after_the_block(pair, tokenizer, pca) -> None:
    ids = _prompt_ids(tokenizer)
    clean = _generate(pair[0], tokenizer, ids)
    with intervene(pair, HOOK, Intervention("steer", features=(12,), alpha=50.0), pca):
        pass
    assert _generate(pair[0], tokenizer, ids) == clean


def test_models_may_use_different_hook_points(pair, tokenizer) -> None:
    ids = _prompt_ids(tokenizer)
    clean = _generate(pair[0], tokenizer, ids)
    identity = IdentityDictionary(WIDTH_A, WIDTH_B)
    splice = Intervention("splice", policy="all")
    with intervene(pair, HOOK, splice, identity, hook_point_b="resid_pre.0") as run:
        assert _generate(run.model, tokenizer, ids) == clean
    with pytest.raises(CrossdiffError, match="layer 9 is out of range"):
        intervene(pair, HOOK, splice, identity, hook_point_b="resid_post.9").__enter__()
