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
