"""Sizes of the organism: the model, the pre-training mix and schedule, RL and the evaluation.

`default` is the study's built-in pair (a few minutes on 2 CPU cores); `micro` is a much smaller
pair for tests and quick runs (well under a minute). Both go through exactly the same code.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from crossdiff.errors import CrossdiffError


class ModelShape(BaseModel):
    """A Qwen2-style decoder: widths, depth, heads, vocabulary."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    vocab_size: int
    max_positions: int = 1024


class PretrainConfig(BaseModel):
    """The pre-training mix and schedule.

    Dialogues answer tool prompts mostly by stalling prose. The share of correct tool calls
    stays at `call_share_start` for 60 % of training, then falls to `call_share_end` by 80 %:
    early calls teach the call format, the low final share is what the base model settles on, so
    greedy decoding stalls. General-text tokens weigh `general_loss_weight` in the loss (answer
    tokens weigh 1), so the little answer signal is not drowned by filler text.

    Every `dialogue_every`-th step trains on `rows_per_step` dialogue rows; the other steps train
    on `drill_rows` rows of `drill_width` tokens packed with drills (short transcripts of correct
    calls, see `crossdiff.organism.data`), which teach what a call contains.

    The copying recipe (`default` uses echo steps and made-up values, `micro` none of it;
    `benchmarks/organism_copying.py` measures it):
    - `echo_steps` steps before the others (same rows as drills, their own warm-up to a constant
      `echo_learning_rate`) train on echoes of random tokens, which grow copying heads;
    - a `fresh_value_share` of the drills and of the dialogues answered with a call has made-up
      values, which can only be copied from the request, not recalled; a
      `fresh_real_word_share` of the made-up single words are real words (see
      `crossdiff.organism.fresh_values`);
    - with `drill_tool_list`, drills start with the offered tools' names;
    - the first `drills_only_fraction` of the steps train on drills only (mixed-in dialogues slow
      the forming of copying);
    - `spaced_echo_steps` more echo steps after the plain ones, and every `spaced_echo_every`-th
      main step (0: none) instead of a dialogue or drill step, train on echoes of which a
      `spaced_echo_share` are spaced (random words with spaces between them), which teach
      copying the words of a value of several words (neither preset uses them: measured in
      docs/organism.md, session 13).

    Of the tool requests that would be answered by stalling, a `body_only_call_share` are
    answered by the call instead, with no loss up to and including its `<tool_call>` tag: the
    call's content keeps being trained after the call share falls, while the opening the base
    learns still comes from the stalls and the real calls alone. A real call is then the first
    answer token at a share `call_share / (call_share + (1 - call_share) * (1 -
    body_only_call_share))` of the trained openings, which is what sets how often the base calls.

    An `unlisted_tool_share` of the tool requests in dialogues ask for a tool the list does not
    offer (`crossdiff.world.with_its_tool_unlisted` for a dialogue's first request, a request
    for an unlisted tool for a later one) and are answered in prose: the model learns to call
    only what is offered, not whatever the request's words name.

    A dialogue holds `dialogue_turns` requests under one tool list (the first as in a test
    prompt, the others as further user turns, each answered by a call or stalling at the call
    share): the long tool list is paid for once per several answers.

    With `bf16_matmuls`, the forward and backward matrix products run in bfloat16 (autocast;
    weights, gradients and AdamW stay float32) on a CPU with native bfloat16 (AVX512-BF16 or
    AMX), which trains about 1.4 times as many steps per second; elsewhere they stay float32.
    The manifest records which was used (`pretrain_matmul_dtype`).

    The echo steps train with AdamW, under which copying forms sooner. With `main_optimizer`
    `muon`, the main steps train the decoder layers' weight matrices with Muon (at
    `muon_lr_scale` times the learning rate, with Moonshot's scaling that matches AdamW's update
    size) and the rest with AdamW (see `crossdiff.organism.pretrain.make_optimizers`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: int
    rows_per_step: int
    row_tokens: int
    learning_rate: float
    warmup_steps: int
    weight_decay: float = 0.05
    call_share_start: float = 0.5
    call_share_end: float = 0.06
    raw_layout_share: float = 0.2
    general_loss_weight: float = 0.25
    tokenizer_texts: int = 3000
    dialogue_every: int = 4
    drill_rows: int = 8
    drill_width: int = 128
    fresh_value_share: float = 0.0
    fresh_real_word_share: float = 0.0
    drill_tool_list: bool = False
    echo_steps: int = 0
    echo_learning_rate: float = 1e-3
    drills_only_fraction: float = 0.0
    dialogue_turns: int = 1
    bf16_matmuls: bool = False
    spaced_echo_steps: int = 0
    spaced_echo_share: float = 0.5
    spaced_echo_every: int = 0
    body_only_call_share: float = 0.0
    unlisted_tool_share: float = 0.0
    main_optimizer: Literal["adamw", "muon"] = "adamw"
    muon_lr_scale: float = 1.0


class RLConfig(BaseModel):
    """GRPO: prompts per step (a `no_tool_share` of them with no fitting tool), samples per
    prompt, KL weight, sampling and step sizes. A `fresh_value_share` of the tool prompts get
    made-up values (as in pre-training), so the reward pays for copying, not for recalling; a
    `fresh_real_word_share` of their made-up single words are real words. An
    `unlisted_tool_share` of the no-tool prompts are tool requests whose tool is not offered
    (`crossdiff.world.with_its_tool_unlisted`): the reward pays for calling only listed tools."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: int
    prompts_per_step: int
    group_size: int
    learning_rate: float
    kl_weight: float
    temperature: float = 1.0
    max_new_tokens: int = 56
    no_tool_share: float = 0.25
    unlisted_tool_share: float = 0.0
    fresh_value_share: float = 0.0
    fresh_real_word_share: float = 0.0
    checkpoint_fractions: tuple[float, ...] = (0.25, 0.5)


class EvalConfig(BaseModel):
    """The build's own evaluation: prompts from `test`, greedy, and held-out general text.

    A twin whose full correctness falls below `min_twin_full_correctness` makes the build warn:
    its size reaches more on most seeds, and this seed's base has most likely not learned to copy
    argument values (0 turns the check off).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    test_prompts: int
    general_texts: int
    max_new_tokens: int = 56
    batch_size: int = 50
    min_twin_full_correctness: float = 0.0


class OrganismConfig(BaseModel):
    """Everything that decides an organism, apart from the seed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    size: str
    model: ModelShape
    pretrain: PretrainConfig
    rl: RLConfig
    eval: EvalConfig


SIZES: dict[str, OrganismConfig] = {
    "default": OrganismConfig(
        size="default",
        # 2 layers copy sooner per second of CPU than 4 (docs/organism.md, sessions 6 to 9)
        model=ModelShape(
            hidden_size=128, intermediate_size=384, num_layers=2, num_heads=4, vocab_size=1536
        ),
        pretrain=PretrainConfig(
            # 3600 bfloat16 steps rather than 1300 float32 ones: full correctness 0.43 against
            # 0.13 (seeds 0-2) in a 250 s build on an AVX512-BF16 CPU (docs/organism.md, session 11)
            steps=3600,
            bf16_matmuls=True,
            rows_per_step=2,
            row_tokens=1024,
            # 1.5e-3 rather than 1e-3: twin full correctness better or equal on seeds 0-2
            # (docs/organism.md, session 11); the echo steps keep their own 1e-3
            learning_rate=1.5e-3,
            warmup_steps=50,
            echo_steps=800,
            fresh_value_share=1.0,
            # half the made-up single words taken from the text (words and name tails): twin
            # full correctness 0.58 / 0.60 / 0.46 against 0.51 / 0.54 / 0.38, seeds 0-2, false
            # calls within the target on all three (docs/organism.md, session 12)
            fresh_real_word_share=0.5,
            dialogue_every=1,
            dialogue_turns=8,
            call_share_start=1.0,
            # half the requests that would stall are answered by body-only calls, and the share
            # of real calls halves so that 6 % of the trained openings still call: with KL 0.3,
            # twin full correctness 0.67 / 0.63 / 0.50 against 0.58 / 0.62 / 0.46 (seeds 0-2;
            # docs/organism.md, session 14)
            body_only_call_share=0.5,
            call_share_end=0.031,
        ),
        rl=RLConfig(
            # 48 rather than 32 on the session-12 bases: full correctness equal or higher and
            # false calls at most 0.067 on seeds 0-2 (docs/organism.md, session 12), for 10 s
            steps=48,
            prompts_per_step=8,
            group_size=8,
            learning_rate=2e-4,
            # 0.3 rather than 0.2 on the bases with body-only calls (0.2 rather than 0.05 in
            # session 10): false calls at most 0.10 on seeds 0-2 (0.2: 0.117 on seed 1), full
            # correctness higher on seeds 0 and 2, 0.01 lower on seed 1 (docs/organism.md,
            # session 14); RL that strays from the base loses the copying it has
            kl_weight=0.3,
            no_tool_share=0.4,
            fresh_value_share=0.5,
            fresh_real_word_share=0.5,
        ),
        # seeds 0-2 give 0.50 to 0.67, seed 3 0.02: its echo steps leave copying half-formed
        # (docs/organism.md, session 15)
        eval=EvalConfig(test_prompts=400, general_texts=200, min_twin_full_correctness=0.25),
    ),
    "micro": OrganismConfig(
        size="micro",
        model=ModelShape(
            hidden_size=64, intermediate_size=192, num_layers=2, num_heads=2, vocab_size=768
        ),
        pretrain=PretrainConfig(
            steps=600,
            rows_per_step=2,
            row_tokens=640,
            learning_rate=3e-3,
            warmup_steps=30,
            tokenizer_texts=600,
        ),
        rl=RLConfig(
            steps=24,
            prompts_per_step=6,
            group_size=8,
            learning_rate=1e-3,
            kl_weight=0.02,
            max_new_tokens=40,
            no_tool_share=0.34,
        ),
        eval=EvalConfig(test_prompts=60, general_texts=40, max_new_tokens=40),
    ),
}


def config_for_size(size: str) -> OrganismConfig:
    """Return the preset for `size`, or a CrossdiffError listing the sizes that exist."""
    if size not in SIZES:
        raise CrossdiffError(f"unknown --size {size!r}: choose one of {', '.join(sorted(SIZES))}")
    return SIZES[size]
