"""GRPO in plain PyTorch: group sampling, group-normalised advantages, a KL penalty to the base.

Each step samples `group_size` answers to each of `prompts_per_step` training prompts (seeded),
scores them with the world's scorer, normalises rewards within each prompt's group, and takes one
AdamW step on  -advantage * log p(answer) + kl_weight * KL(policy || base)  averaged over each
answer's tokens, then over answers. With one update per batch the PPO ratio is 1, so no clipping.
Both distributions are taken at the sampling temperature, so the policy optimised is the one
sampled.

For speed the prompt (all but its last token) is run once per prompt without gradient and its KV
cache is shared by the group; the gradient flows through the prompt's last token and the answer.
The log-probabilities themselves are exact.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from crossdiff.evals.generate import (
    GenerationConfig,
    generate_batch_ids,
    left_pad,
    pad_token_id,
    stop_token_ids,
)
from crossdiff.organism.config import RLConfig
from crossdiff.organism.fresh_values import FreshValues
from crossdiff.seeding import derive_seed
from crossdiff.world import (
    Score,
    ToolPrompt,
    render_prompt,
    score_response,
    with_its_tool_unlisted,
)


def reward(score: Score, stopped: bool) -> float:
    """The RL reward of one answer, in [0, 1], from the shared scorer.

    Tool prompts: 0.1 a `<tool_call>` tag + 0.2 parseable call + 0.2 right tool + 0.4 fully
    correct call + 0.1 clean end of turn. No-tool prompts: 0.9 for making no call + 0.1 clean end;
    a call earns nothing.
    """
    clean_end = 0.1 if stopped else 0.0
    if score.false_call:
        return 0.0
    if not score.has_tool:
        return 0.9 + clean_end
    parts = 0.1 * score.made_call + 0.2 * score.format_ok + 0.2 * score.selection_ok
    return parts + 0.4 * score.full + clean_end


def group_advantages(rewards_PG: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """(reward - group mean) / (group std + eps); a group with equal rewards gets zeros."""
    mean_P1 = rewards_PG.mean(dim=1, keepdim=True)
    std_P1 = rewards_PG.std(dim=1, keepdim=True, unbiased=False)
    return (rewards_PG - mean_P1) / (std_P1 + eps)


def answer_logprobs(
    model: torch.nn.Module,
    prompt_ids_PT: torch.Tensor,
    prompt_mask_PT: torch.Tensor,
    answer_ids_NC: torch.Tensor,
    answer_mask_NC: torch.Tensor,
    group_size: int,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Log-probabilities [N, C] of each answer token given its prompt (N = P * group_size),
    under the model's distribution at `temperature` (the one answers are sampled from).

    Prompts are left-padded; answers right-padded (mask 0 on padding). The prompt minus its last
    token is run without gradient, its cache repeated for the group; gradient (if enabled by the
    caller) flows through the last prompt token and the answer tokens.
    """
    with torch.no_grad():
        prefix = model(
            input_ids=prompt_ids_PT[:, :-1],
            attention_mask=prompt_mask_PT[:, :-1],
            position_ids=(prompt_mask_PT[:, :-1].cumsum(-1) - 1).clamp(min=0),
            use_cache=True,
            logits_to_keep=1,
        )
    cache = prefix.cache
    cache.batch_repeat_interleave(group_size)
    prompt_mask_NT = prompt_mask_PT.repeat_interleave(group_size, dim=0)
    last_N1 = prompt_ids_PT[:, -1:].repeat_interleave(group_size, dim=0)
    inputs_NC = torch.cat([last_N1, answer_ids_NC[:, :-1]], dim=1)
    mask_NS = torch.cat([prompt_mask_NT, answer_mask_NC[:, :-1]], dim=1)
    start_N1 = prompt_mask_NT.sum(dim=1, keepdim=True) - 1
    positions_NC = start_N1 + torch.arange(inputs_NC.shape[1])[None, :]
    logits_NCV = model(
        input_ids=inputs_NC,
        attention_mask=mask_NS,
        position_ids=positions_NC,
        cache=cache,
        use_cache=True,
    ).logits.float()
    logprobs_NCV = torch.log_softmax(logits_NCV / temperature, dim=-1)
    return logprobs_NCV.gather(-1, answer_ids_NC[:, :, None]).squeeze(-1)


@dataclass(frozen=True)
class Rollouts:
    """One step's sampled answers, their rewards and the tensors the loss needs."""

    prompt_ids_PT: torch.Tensor
    prompt_mask_PT: torch.Tensor
    answer_ids_NC: torch.Tensor
    answer_mask_NC: torch.Tensor
    rewards_PG: torch.Tensor
    scores: list[Score]


def sample_rollouts(
    policy: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[ToolPrompt],
    config: RLConfig,
    seed: int,
    chat_template: Sequence[bool],
) -> Rollouts:
    """Sample `group_size` answers per prompt with the shared generator and score them."""
    group = config.group_size
    texts = [
        render_prompt(p, tokenizer, chat) for p, chat in zip(prompts, chat_template, strict=True)
    ]
    prompt_ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    generation = GenerationConfig(
        max_new_tokens=config.max_new_tokens, temperature=config.temperature, seed=seed
    )
    stops = stop_token_ids(tokenizer)
    pad = pad_token_id(tokenizer)
    row_seeds = [derive_seed(seed, "row", row) for row in range(len(prompts) * group)]
    was_training = policy.training
    policy.eval()
    new_ids, stopped = generate_batch_ids(
        policy, prompt_ids, generation, stops, pad, row_seeds, samples_per_prompt=group
    )
    policy.train(was_training)
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else stops[0]
    # every answer has at least one token: a generated token or the stop token
    answers = [
        ids + ([eos] if did_stop else []) for ids, did_stop in zip(new_ids, stopped, strict=True)
    ]
    width = max(len(ids) for ids in answers)
    answer_ids_NC = torch.full((len(answers), width), pad, dtype=torch.long)
    answer_mask_NC = torch.zeros((len(answers), width), dtype=torch.long)
    for row, ids in enumerate(answers):
        answer_ids_NC[row, : len(ids)] = torch.tensor(ids)
        answer_mask_NC[row, : len(ids)] = 1
    texts_out = [tokenizer.decode(ids, skip_special_tokens=False) for ids in new_ids]
    scores = [score_response(text, prompts[i // group]) for i, text in enumerate(texts_out)]
    rewards = [reward(sc, did_stop) for sc, did_stop in zip(scores, stopped, strict=True)]
    prompt_ids_PT, prompt_mask_PT = left_pad(prompt_ids, pad)
    return Rollouts(
        prompt_ids_PT,
        prompt_mask_PT,
        answer_ids_NC,
        answer_mask_NC,
        torch.tensor(rewards).view(len(prompts), group),
        scores,
    )


def grpo_loss(
    policy: torch.nn.Module, reference: torch.nn.Module, rollouts: Rollouts, config: RLConfig
) -> tuple[torch.Tensor, dict[str, float]]:
    """The GRPO objective for one batch of rollouts, and its parts for the training curve."""
    group = config.group_size
    args = (
        rollouts.prompt_ids_PT,
        rollouts.prompt_mask_PT,
        rollouts.answer_ids_NC,
        rollouts.answer_mask_NC,
        group,
        config.temperature,
    )
    with torch.no_grad():
        reference_NC = answer_logprobs(reference, *args)
    policy_NC = answer_logprobs(policy, *args)
    advantages_N1 = group_advantages(rollouts.rewards_PG).reshape(-1, 1)
    log_ratio_NC = reference_NC - policy_NC
    kl_NC = torch.exp(log_ratio_NC) - log_ratio_NC - 1  # k3 estimator, >= 0
    mask_NC = rollouts.answer_mask_NC.float()
    per_token_NC = -advantages_N1 * policy_NC + config.kl_weight * kl_NC
    lengths_N = mask_NC.sum(dim=1).clamp(min=1)
    loss = ((per_token_NC * mask_NC).sum(dim=1) / lengths_N).mean()
    kl = float(((kl_NC.detach() * mask_NC).sum(dim=1) / lengths_N).mean())
    return loss, {"kl": kl}


def step_prompts(
    prompts: Sequence[ToolPrompt],
    config: RLConfig,
    rng: random.Random,
    fresh: FreshValues | None = None,
) -> list[ToolPrompt]:
    """One step's prompts: `prompts_per_step` of them, a `no_tool_share` with no fitting tool.

    No-tool prompts are oversampled: calls on them are rare until the policy calls a lot, and
    then they must be frequent enough to teach it when not to call. An `unlisted_tool_share` of
    those are tool requests whose tool is not in the list (`with_its_tool_unlisted`), which
    teach it to call only what is offered. With `fresh`, a `fresh_value_share` of the tool
    prompts get made-up values.
    """
    tool = [p for p in prompts if p.has_tool]
    no_tool = [p for p in prompts if not p.has_tool]
    n_no_tool = round(config.prompts_per_step * config.no_tool_share)
    n_no_tool = len(no_tool) and min(n_no_tool, len(no_tool))
    n_tool = min(config.prompts_per_step - n_no_tool, len(tool))
    chosen = rng.sample(tool, n_tool)
    if fresh is not None:
        chosen = [
            fresh.prompt_like(p) if rng.random() < config.fresh_value_share else p for p in chosen
        ]
    without = rng.sample(no_tool, n_no_tool)
    if config.unlisted_tool_share > 0 and tool:
        without = [
            with_its_tool_unlisted(rng.choice(tool), rng)
            if rng.random() < config.unlisted_tool_share
            else p
            for p in without
        ]
    return chosen + without


def rl_fresh_values(config: RLConfig, words: Sequence[str], seed: int) -> FreshValues | None:
    """The made-up values RL draws from (its own seeded stream), or None if it uses none."""
    if config.fresh_value_share <= 0:
        return None
    rng = random.Random(derive_seed(seed, "rl", "fresh"))
    return FreshValues(words, rng, config.fresh_real_word_share)


def grpo_train(
    policy: torch.nn.Module,
    reference: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[ToolPrompt],
    config: RLConfig,
    seed: int,
    raw_layout_share: float = 0.0,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
    fresh_words: Sequence[str] = (),
) -> list[dict[str, float]]:
    """Run `config.steps` GRPO steps on `policy` (the base stays frozen); return the curve.

    `fresh_words` are the words of made-up phrase values (needed when the config's
    `fresh_value_share` is above 0).
    """
    rng = random.Random(derive_seed(seed, "rl", "prompts"))
    fresh = rl_fresh_values(config, fresh_words, seed)
    optimizer = torch.optim.AdamW(
        policy.parameters(), lr=config.learning_rate, betas=(0.9, 0.99), weight_decay=0.0
    )
    reference.eval()
    for parameter in reference.parameters():
        parameter.requires_grad_(False)
    curve: list[dict[str, float]] = []
    for step in range(config.steps):
        batch = step_prompts(prompts, config, rng, fresh)
        chat = [rng.random() >= raw_layout_share for _ in batch]
        rollouts = sample_rollouts(
            policy, tokenizer, batch, config, derive_seed(seed, "rl", "sample", step), chat
        )
        policy.train()
        loss, parts = grpo_loss(policy, reference, rollouts, config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        optimizer.step()
        policy.eval()
        has_tool_N = torch.tensor([s.has_tool for s in rollouts.scores])
        rewards_N = rollouts.rewards_PG.reshape(-1)
        tool_scores = [s for s in rollouts.scores if s.has_tool]
        no_tool_scores = [s for s in rollouts.scores if not s.has_tool]
        point = {
            "step": step,
            "loss": float(loss.detach()),
            "reward": float(rewards_N.mean()),
            "tool_reward": float(rewards_N[has_tool_N].mean()) if tool_scores else 0.0,
            "call_rate": sum(s.made_call for s in tool_scores) / max(1, len(tool_scores)),
            "format": sum(s.format_ok for s in tool_scores) / max(1, len(tool_scores)),
            "full": sum(s.full for s in tool_scores) / max(1, len(tool_scores)),
            "false_call": sum(s.false_call for s in no_tool_scores) / max(1, len(no_tool_scores)),
            **parts,
        }
        curve.append(point)
        if on_step is not None:
            on_step(step, point)
    return curve
