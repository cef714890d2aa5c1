"""Pre-training the base model from scratch on packed rows, with AdamW, warm-up and cosine decay."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import torch
from transformers import AutoModelForCausalLM, Qwen2Config, Qwen2ForCausalLM

from crossdiff.organism.config import ModelShape, PretrainConfig
from crossdiff.organism.data import PackedBatch, PretrainStream

IGNORE = -100


def make_model(shape: ModelShape, tokenizer: Any, seed: int) -> Qwen2ForCausalLM:
    """Build a freshly initialised Qwen2 decoder whose vocabulary matches the tokenizer."""
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_layers,
        num_attention_heads=shape.num_heads,
        num_key_value_heads=shape.num_heads,
        max_position_embeddings=shape.max_positions,
        tie_word_embeddings=True,
        rope_theta=10000.0,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa")
    return model


def masked_lm_loss(
    model: torch.nn.Module,
    input_ids_BT: torch.Tensor,
    labels_BT: torch.Tensor,
    weights_BT: torch.Tensor | None = None,
) -> torch.Tensor:
    """Weighted mean next-token cross-entropy over positions whose label is not -100.

    Logits are computed only at those positions, which saves most of the vocabulary projection
    when the loss covers a small part of the tokens (dialogue answers).
    """
    hidden_BTD = model.model(input_ids=input_ids_BT, use_cache=False).last_hidden_state
    keep_BT = labels_BT != IGNORE
    logits_NV = model.lm_head(hidden_BTD[keep_BT])
    losses_N = torch.nn.functional.cross_entropy(
        logits_NV.float(), labels_BT[keep_BT], reduction="none"
    )
    if weights_BT is None:
        return losses_N.mean()
    weights_N = weights_BT[keep_BT]
    return (losses_N * weights_N).sum() / weights_N.sum()


def cpu_has_native_bf16() -> bool:
    """True when this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX tiles)."""
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def matmul_dtype(config: PretrainConfig, native_bf16: bool | None = None) -> torch.dtype:
    """The dtype pre-training multiplies in: bfloat16 if the config asks for it and the CPU has
    it natively (emulated bfloat16 is slower than float32), else float32."""
    if native_bf16 is None:
        native_bf16 = cpu_has_native_bf16()
    return torch.bfloat16 if config.bf16_matmuls and native_bf16 else torch.float32


def learning_rate_at(
    step: int, total: int, peak: float, warmup: int, final_fraction: float = 0.1
) -> float:
    """Linear warm-up to `peak`, then cosine decay to `final_fraction` of it at the last step
    (`final_fraction=1` holds the peak after the warm-up)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup - 1)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return peak * (final_fraction + (1 - final_fraction) * cosine)


def call_share_at(step: int, config: PretrainConfig) -> float:
    """The share of correct calls in tool dialogues: `call_share_start` for the first 60 % of the
    steps, then a linear fall to `call_share_end` at 80 %, which holds to the end."""
    progress = step / max(1, config.steps)
    fall = min(1.0, max(0.0, (progress - 0.6) / 0.2))
    start, end = config.call_share_start, config.call_share_end
    return start + (end - start) * fall


def pretrain_steps(config: PretrainConfig) -> int:
    """All the optimiser steps `pretrain` takes: echo, spaced echo and main steps."""
    return config.echo_steps + config.spaced_echo_steps + config.steps


def main_step_kind(step: int, config: PretrainConfig) -> str:
    """What main step `step` trains on: `spaced_echo` every `spaced_echo_every`-th step (if
    set), else `dialogue` or `drill` (see `is_dialogue_step`)."""
    every = config.spaced_echo_every
    if every and step % every == every - 1:
        return "spaced_echo"
    return "dialogue" if is_dialogue_step(step, config) else "drill"


def is_dialogue_step(step: int, config: PretrainConfig) -> bool:
    """True on the steps that train on chat dialogues; the others train on drills.

    The first `drills_only_fraction` of the steps are all drills (copying forms more slowly when
    dialogues are mixed in); after that every `dialogue_every`-th step is a dialogue step.
    """
    if step < config.drills_only_fraction * config.steps:
        return False
    return step % config.dialogue_every == config.dialogue_every - 1


def make_optimizers(
    model: torch.nn.Module, config: PretrainConfig, kind: Literal["adamw", "muon"]
) -> list[torch.optim.Optimizer]:
    """The optimisers of one pre-training phase; each parameter group carries an `lr_scale` that
    multiplies the scheduled learning rate.

    `adamw`: AdamW for every parameter. `muon`: Muon (orthogonalised momentum, with Moonshot's
    scaling so that AdamW's learning rates carry over) for the decoder layers' weight matrices,
    at `muon_lr_scale` times the rate, and AdamW for the rest (the tied embedding, norms, biases).
    """
    matrices = [
        p for name, p in model.named_parameters() if p.ndim == 2 and ".layers." in f".{name}"
    ]
    matrix_ids = {id(p) for p in matrices}
    others = [p for p in model.parameters() if id(p) not in matrix_ids]
    adamw_params = others if kind == "muon" else list(model.parameters())
    optimizers: list[torch.optim.Optimizer] = [
        torch.optim.AdamW(
            [{"params": adamw_params, "lr_scale": 1.0}],
            lr=config.learning_rate,
            betas=(0.9, 0.95),
            weight_decay=config.weight_decay,
        )
    ]
    if kind == "muon":
        optimizers.append(
            torch.optim.Muon(
                [{"params": matrices, "lr_scale": config.muon_lr_scale}],
                lr=config.learning_rate * config.muon_lr_scale,
                weight_decay=config.weight_decay,
                adjust_lr_fn="match_rms_adamw",
            )
        )
    return optimizers


def pretrain(
    model: torch.nn.Module,
    stream: PretrainStream,
    config: PretrainConfig,
    on_step: Callable[[int, float], None] | None = None,
) -> list[dict[str, float | str]]:
    """Train `model` for `config.echo_steps` echo steps, then `config.steps` steps on `stream`;
    return the loss curve (every step, numbered from the first echo step)."""
    optimizers = make_optimizers(model, config, "adamw")
    model.train()
    curve: list[dict[str, float | str]] = []
    dtype = matmul_dtype(config)

    def train_step(batch: PackedBatch, lr: float, entry: dict[str, float | str]) -> None:
        for optimizer in optimizers:
            for group in optimizer.param_groups:
                group["lr"] = lr * group["lr_scale"]
        with torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
            loss = masked_lm_loss(model, batch.input_ids_BT, batch.labels_BT, batch.weights_BT)
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        for optimizer in optimizers:
            optimizer.step()
        curve.append({"step": len(curve), "loss": loss.item(), "lr": lr, **entry})
        if on_step is not None:
            on_step(len(curve) - 1, float(curve[-1]["loss"]))

    for step in range(config.echo_steps):
        # No decay: copying forms late in the echo steps, and a decaying rate stalls it
        # half-formed (2 layers: echo loss 2.2 after 800 decayed steps; held, 0.8 after 800
        # and 0.4 after 1200).
        lr = learning_rate_at(
            step, config.echo_steps, config.echo_learning_rate, config.warmup_steps, 1.0
        )
        batch = stream.echo_batch(config.drill_rows, config.drill_width)
        train_step(batch, lr, {"call_share": 0.0, "kind": "echo"})
    for _ in range(config.spaced_echo_steps):
        # after the plain echoes: spaced ones from the first step stop copying from forming
        batch = stream.echo_batch(config.drill_rows, config.drill_width, config.spaced_echo_share)
        train_step(batch, config.echo_learning_rate, {"call_share": 0.0, "kind": "spaced_echo"})
    if config.main_optimizer != "adamw":
        # echoes form copying faster under AdamW (docs/organism.md, session 16)
        optimizers = make_optimizers(model, config, config.main_optimizer)
    for step in range(config.steps):
        share = call_share_at(step, config)
        kind = main_step_kind(step, config)
        if kind == "spaced_echo":
            spaced = config.spaced_echo_share
            batch = stream.echo_batch(config.drill_rows, config.drill_width, spaced)
        elif kind == "dialogue":
            batch = stream.batch(share)
        else:
            batch = stream.drill_batch(config.drill_rows, config.drill_width)
        lr = learning_rate_at(step, config.steps, config.learning_rate, config.warmup_steps)
        train_step(batch, lr, {"call_share": share, "kind": kind})
    model.eval()
    return curve
