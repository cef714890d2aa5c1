"""GRPO's pieces: the reward from the shared scorer and group-normalised advantages."""

from __future__ import annotations

import torch

from crossdiff.organism.grpo import group_advantages, reward
from crossdiff.world import load_split, reference_response, score_response

DEV = load_split("dev", 0, 40)
TOOL = next(p for p in DEV if p.has_tool)
NO_TOOL = next(p for p in DEV if not p.has_tool)


def test_reward_orders_answers_by_quality() -> None:
    perfect = reward(score_response(reference_response(TOOL), TOOL), stopped=True)
    unfinished = reward(score_response(reference_response(TOOL), TOOL), stopped=False)
    wrong_tool = '<tool_call>\n{"name": "nope", "parameters": {}}\n</tool_call>'
    wrong = reward(score_response(wrong_tool, TOOL), stopped=True)
    stall = reward(score_response("Let me check that for you.", TOOL), stopped=True)
    assert perfect == 1.0
    assert perfect > unfinished > wrong > stall
    prose = reward(score_response(reference_response(NO_TOOL), NO_TOOL), stopped=True)
    false_call = reward(score_response(reference_response(TOOL), NO_TOOL), stopped=True)
    assert prose == 1.0
    assert false_call == 0.0


def test_group_advantages_are_normalised_within_each_group() -> None:
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.5, 0.5, 0.5, 0.5]])
    advantages = group_advantages(rewards)
    assert torch.allclose(advantages[0], torch.tensor([1.0, -1.0, -1.0, 1.0]), atol=1e-3)
    assert torch.equal(advantages[1], torch.zeros(4))


def test_step_prompts_hold_the_no_tool_share_and_are_seeded() -> None:
    import random

    from crossdiff.organism.config import RLConfig
    from crossdiff.organism.grpo import step_prompts
    from crossdiff.world import load_split

    prompts = load_split("train", 0, 300)
    config = RLConfig(
        steps=1,
        prompts_per_step=10,
        group_size=2,
        learning_rate=1e-3,
        kl_weight=0.0,
        no_tool_share=0.4,
    )
    batch = step_prompts(prompts, config, random.Random(3))
    assert len(batch) == 10 and len({p.id for p in batch}) == 10
    assert sum(not p.has_tool for p in batch) == 4  # about 15 % in the split, 40 % here
    assert [p.id for p in step_prompts(prompts, config, random.Random(3))] == [p.id for p in batch]
    only_tool = [p for p in prompts if p.has_tool]
    assert all(p.has_tool for p in step_prompts(only_tool, config, random.Random(3)))
