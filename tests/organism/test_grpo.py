"""GRPO's pieces: the reward from the shared scorer, group-normalised advantages, and the answers'
log-probabilities from a shared prompt cache."""

from __future__ import annotations

import pytest
import torch

from crossdiff.evals.generate import left_pad
from crossdiff.models.tiny import tiny_causal_lm
from crossdiff.organism.config import RLConfig
from crossdiff.organism.grpo import answer_logprobs, group_advantages, reward
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


def _step_config(
    prompts_per_step: int, no_tool_share: float, fresh_value_share: float = 0.0
) -> RLConfig:
    """An RL config for step_prompts tests (only the prompt mix matters)."""
    return RLConfig(
        steps=1,
        prompts_per_step=prompts_per_step,
        group_size=2,
        learning_rate=1e-3,
        kl_weight=0.0,
        no_tool_share=no_tool_share,
        fresh_value_share=fresh_value_share,
    )


def test_step_prompts_hold_the_no_tool_share_and_are_seeded() -> None:
    import random

    from crossdiff.organism.grpo import step_prompts

    prompts = load_split("train", 0, 300)
    config = _step_config(10, 0.4)
    batch = step_prompts(prompts, config, random.Random(3))
    assert len(batch) == 10 and len({p.id for p in batch}) == 10
    assert sum(not p.has_tool for p in batch) == 4  # about 15 % in the split, 40 % here
    assert [p.id for p in step_prompts(prompts, config, random.Random(3))] == [p.id for p in batch]
    only_tool = [p for p in prompts if p.has_tool]
    assert all(p.has_tool for p in step_prompts(only_tool, config, random.Random(3)))


def test_step_prompts_give_a_share_of_tool_prompts_made_up_values() -> None:
    import random

    from crossdiff.organism.fresh_values import FreshValues
    from crossdiff.organism.grpo import step_prompts

    prompts = load_split("train", 0, 300)
    config = _step_config(40, 0.25, fresh_value_share=0.5)
    by_id = {p.id: p for p in prompts}

    def batch(seed: int) -> list:
        fresh = FreshValues(["river", "lamp", "quiet"], random.Random(seed))
        return step_prompts(prompts, config, random.Random(seed), fresh)

    first = batch(4)
    changed = [p for p in first if p.has_tool and p.expected != by_id[p.id].expected]
    tool_count = sum(p.has_tool for p in first)
    assert 0.25 * tool_count <= len(changed) <= 0.75 * tool_count
    assert sum(not p.has_tool for p in first) == 10  # no-tool prompts are kept as they are
    for prompt in changed:  # a made-up request is still answered by its reference call
        assert prompt.expected.name == by_id[prompt.id].expected.name
        assert score_response(reference_response(prompt), prompt).full
    assert first == batch(4)
    unchanged = _step_config(40, 0.25)
    fresh = FreshValues(["river"], random.Random(4))
    with_fresh = step_prompts(prompts, unchanged, random.Random(4), fresh)
    assert with_fresh == [by_id[p.id] for p in with_fresh]


def test_step_prompts_turn_a_share_of_no_tool_slots_into_unlisted_tool_requests() -> None:
    import random

    from crossdiff.organism.grpo import step_prompts

    prompts = load_split("train", 0, 300)
    by_id = {p.id: p for p in prompts}
    config = _step_config(40, 0.5).model_copy(update={"unlisted_tool_share": 0.5})
    batch = step_prompts(prompts, config, random.Random(5))
    without = [p for p in batch if not p.has_tool]
    assert len(without) == 20 and sum(p.has_tool for p in batch) == 20
    unlisted = [p for p in without if by_id[p.id].has_tool]
    assert 5 <= len(unlisted) <= 15
    for prompt in unlisted:  # its request, with its tool no longer offered
        assert prompt.user == by_id[prompt.id].user
        assert by_id[prompt.id].expected.name not in {t.name for t in prompt.tools}
    assert step_prompts(prompts, config, random.Random(5)) == batch
    none = step_prompts(prompts, _step_config(40, 0.5), random.Random(5))
    assert all(p == by_id[p.id] for p in none)


def test_rl_draws_made_up_values_only_when_its_config_asks() -> None:
    from crossdiff.organism.grpo import rl_fresh_values

    words = ["river", "lamp", "quiet"]
    assert rl_fresh_values(_step_config(8, 0.25), words, seed=1) is None
    config = _step_config(8, 0.25, fresh_value_share=0.5).model_copy(
        update={"fresh_real_word_share": 0.3}
    )
    fresh = rl_fresh_values(config, words, seed=1)
    assert fresh is not None and fresh.real_word_share == 0.3
    again = rl_fresh_values(config, words, seed=1)
    other = rl_fresh_values(config, words, seed=2)
    draws = [fresh.value_like("Lisbon") for _ in range(20)]
    assert draws == [again.value_like("Lisbon") for _ in range(20)]
    assert draws != [other.value_like("Lisbon") for _ in range(20)]


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_answer_logprobs_match_a_full_forward_at_the_temperature(temperature: float) -> None:
    model = tiny_causal_lm("qwen2", 97, 32, 2, seed=0).eval()
    prompts = [[5, 6, 7, 8, 9], [11, 12, 13]]
    answers = [[20, 21, 22], [23, 24, 0], [30, 31, 32], [33, 0, 0]]  # group of 2, right-padded
    lengths = [3, 2, 3, 1]
    group = 2
    prompt_ids_PT, prompt_mask_PT = left_pad(prompts, 0)
    answer_ids_NC = torch.tensor(answers)
    answer_mask_NC = torch.tensor([[1] * n + [0] * (3 - n) for n in lengths])
    with torch.no_grad():
        got_NC = answer_logprobs(
            model,
            prompt_ids_PT,
            prompt_mask_PT,
            answer_ids_NC,
            answer_mask_NC,
            group,
            temperature,
        )
        for row, (answer, length) in enumerate(zip(answers, lengths, strict=True)):
            ids = torch.tensor([prompts[row // group] + answer[:length]])
            logits_TV = model(input_ids=ids).logits[0].float()
            logprobs_TV = torch.log_softmax(logits_TV / temperature, dim=-1)
            start = len(prompts[row // group]) - 1
            want = [logprobs_TV[start + t, answer[t]] for t in range(length)]
            assert torch.allclose(got_NC[row, :length], torch.stack(want), atol=1e-5)
