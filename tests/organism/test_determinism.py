"""Same seed, same numbers: pre-training and GRPO steps give bit-identical weights."""

from __future__ import annotations

import copy
import functools
import math
from typing import Any

import pytest
import torch

from crossdiff.organism.build import deterministic_torch
from crossdiff.organism.config import ModelShape, PretrainConfig, RLConfig
from crossdiff.organism.data import PretrainStream
from crossdiff.organism.grpo import grpo_train
from crossdiff.organism.pretrain import (
    cpu_has_native_bf16,
    make_model,
    make_optimizers,
    matmul_dtype,
    pretrain,
    pretrain_steps,
)
from crossdiff.organism.tokenizer import train_tokenizer
from crossdiff.world import general_texts, load_split, reference_response, render_raw

PROMPTS = load_split("train", 0, 120)
TEXTS = general_texts(120, 0)
SHAPE = ModelShape(hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2, vocab_size=400)
PRE = PretrainConfig(
    steps=4,
    rows_per_step=2,
    row_tokens=640,
    learning_rate=3e-3,
    warmup_steps=1,
    echo_steps=3,
    fresh_value_share=0.5,
    drill_tool_list=True,
    drill_width=384,
    raw_layout_share=0.5,
    dialogue_turns=2,
)
RL = RLConfig(
    steps=2, prompts_per_step=2, group_size=3, learning_rate=1e-3, kl_weight=0.05, max_new_tokens=8
)


@functools.cache
def _tokenizer() -> Any:
    """The tests' tokenizer, trained once (training it is deterministic, so sharing it is too)."""
    corpus = TEXTS + [render_raw(p) + " " + reference_response(p) for p in PROMPTS]
    return train_tokenizer(corpus, SHAPE.vocab_size)


def _build(seed: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], list, list]:
    tokenizer = _tokenizer()
    with deterministic_torch():
        model = make_model(SHAPE, tokenizer, seed)
        stream = PretrainStream.for_config(PROMPTS, TEXTS, tokenizer, PRE, seed)
        pre_curve = pretrain(model, stream, PRE)
        base_state = copy.deepcopy(model.state_dict())
        policy = copy.deepcopy(model)
        curve = grpo_train(policy, model, tokenizer, PROMPTS, RL, seed, 0.5)
    return base_state, policy.state_dict(), pre_curve, curve


def _pretrained(tokenizer: Any, pre: PretrainConfig) -> tuple[dict[str, torch.Tensor], list]:
    """Pre-train a fresh SHAPE model (seed 5) on `pre`; return its weights and loss curve."""
    with deterministic_torch():
        model = make_model(SHAPE, tokenizer, 5)
        curve = pretrain(model, PretrainStream.for_config(PROMPTS, TEXTS, tokenizer, pre, 5), pre)
    return model.state_dict(), curve


def test_same_seed_gives_identical_weights_and_curves() -> None:
    base_a, rl_a, pre_a, curve_a = _build(3)
    base_b, rl_b, pre_b, curve_b = _build(3)
    kinds = ["echo"] * 3 + ["drill", "drill", "drill", "dialogue"]
    assert [r["kind"] for r in pre_a] == kinds
    assert [r["step"] for r in pre_a] == list(range(7))
    # echo steps hold their rate after the warm-up; the main steps decay theirs
    assert [r["lr"] for r in pre_a[:3]] == [PRE.echo_learning_rate] * 3
    assert pre_a[-1]["lr"] == pytest.approx(0.1 * PRE.learning_rate)
    assert all(math.isfinite(r["loss"]) for r in pre_a)
    assert all(torch.equal(base_a[k], base_b[k]) for k in base_a)
    assert all(torch.equal(rl_a[k], rl_b[k]) for k in rl_a)
    assert pre_a == pre_b and curve_a == curve_b
    assert any(not torch.equal(base_a[k], rl_a[k]) for k in base_a)  # RL changed the weights
    base_c, _, _, _ = _build(4)
    assert any(not torch.equal(base_a[k], base_c[k]) for k in base_a)


def test_spaced_echo_steps_follow_the_echoes_and_replace_every_nth_main_step() -> None:
    tokenizer = _tokenizer()
    config = PRE.model_copy(update={"spaced_echo_steps": 2, "spaced_echo_every": 2})
    _, curve = _pretrained(tokenizer, config)
    kinds = ["echo"] * 3 + ["spaced_echo"] * 2 + ["drill", "spaced_echo", "drill", "spaced_echo"]
    assert [r["kind"] for r in curve] == kinds and pretrain_steps(config) == len(kinds)
    # the extra echo steps keep the echo rate; the main ones follow the main schedule
    assert [r["lr"] for r in curve[3:5]] == [config.echo_learning_rate] * 2
    assert curve[-1]["lr"] == pytest.approx(0.1 * config.learning_rate)
    assert all(math.isfinite(r["loss"]) for r in curve)


def test_muon_takes_the_decoder_matrices_and_adamw_the_rest() -> None:
    model = make_model(SHAPE, _tokenizer(), 0)
    config = PRE.model_copy(update={"muon_lr_scale": 2.0})
    names = {id(p): n for n, p in model.named_parameters()}
    (adamw_only,) = make_optimizers(model, config, "adamw")
    assert {id(p) for p in adamw_only.param_groups[0]["params"]} == set(names)
    adamw, muon = make_optimizers(model, config, "muon")
    assert isinstance(adamw, torch.optim.AdamW) and isinstance(muon, torch.optim.Muon)
    muon_names = {names[id(p)] for p in muon.param_groups[0]["params"]}
    adamw_names = {names[id(p)] for p in adamw.param_groups[0]["params"]}
    assert muon_names.isdisjoint(adamw_names) and muon_names | adamw_names == set(names.values())
    per_layer = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert len(muon_names) == SHAPE.num_layers * len(per_layer)
    assert all(n.endswith(".weight") and n.split(".")[-2] in per_layer for n in muon_names)
    assert {"model.embed_tokens.weight", "model.norm.weight"} <= adamw_names
    assert any(n.endswith("q_proj.bias") for n in adamw_names)
    assert muon.param_groups[0]["lr_scale"] == 2.0 and adamw.param_groups[0]["lr_scale"] == 1.0


def test_a_muon_main_phase_keeps_adamw_for_the_echoes_and_is_deterministic() -> None:
    tokenizer = _tokenizer()
    muon = PRE.model_copy(update={"main_optimizer": "muon"})

    state_a, curve_a = _pretrained(tokenizer, muon)
    state_b, curve_b = _pretrained(tokenizer, muon)
    _, curve_adamw = _pretrained(tokenizer, PRE)
    assert curve_a == curve_b and all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    echoes = PRE.echo_steps
    assert curve_a[:echoes] == curve_adamw[:echoes]  # the echo steps are AdamW's in both
    # the first main step sees the same weights; the second sees Muon's first update
    assert curve_a[echoes] == curve_adamw[echoes]
    assert curve_a[echoes + 1]["loss"] != curve_adamw[echoes + 1]["loss"]
    assert all(math.isfinite(r["loss"]) for r in curve_a)


def test_bf16_matmuls_only_where_the_cpu_has_them() -> None:
    bf16 = PRE.model_copy(update={"bf16_matmuls": True})
    assert matmul_dtype(PRE, native_bf16=True) == torch.float32
    assert matmul_dtype(bf16, native_bf16=False) == torch.float32
    assert matmul_dtype(bf16, native_bf16=True) == torch.bfloat16


@pytest.mark.skipif(not cpu_has_native_bf16(), reason="this CPU has no native bfloat16")
def test_bf16_pretraining_is_deterministic_and_differs_from_float32() -> None:
    tokenizer = _tokenizer()
    config = PRE.model_copy(update={"bf16_matmuls": True, "steps": 12})

    state_a, curve_a = _pretrained(tokenizer, config)
    state_b, curve_b = _pretrained(tokenizer, config)
    _, curve_f32 = _pretrained(tokenizer, config.model_copy(update={"bf16_matmuls": False}))
    assert curve_a == curve_b
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert all(v.dtype == torch.float32 for v in state_a.values())  # master weights stay float32
    assert curve_a != curve_f32  # the products really ran in bfloat16
    assert curve_a[-1]["loss"] < curve_a[0]["loss"]
