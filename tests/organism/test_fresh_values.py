"""Made-up drill values: same kind as the catalogue's, train partition only, copyable, seeded."""

from __future__ import annotations

import random
import re

import pytest

from crossdiff.organism.fresh_values import FreshValues
from crossdiff.world import load_split, reference_response, score_response
from crossdiff.world.catalogue import SPECS, spec_by_name
from crossdiff.world.pools import DEV, TEST, TRAIN, value_split
from crossdiff.world.toolspec import fill_template

WORDS = ["harbor", "quiet", "lantern", "meadow", "copper", "violet", "river"]
TOOL_PROMPTS = [p for p in load_split("train", 0, 400) if p.has_tool]


def fresh(seed: int = 0) -> FreshValues:
    return FreshValues(WORDS, random.Random(seed))


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        (417, r"[1-9]\d\d"),
        (56.5, r"[1-9]\d\.\d"),
        ("2026-03-14", r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])"),
        ("18:45", r"([01]\d|2[0-3]):[0-5]\d"),
        ("NX482", r"[A-Z]{2}\d{3}"),
        ("555-1234", r"\d{3}-\d{4}"),
        ("MSFT", r"[A-Z]{4}"),
        ("Lisbon", r"[A-Z][a-z]+"),
        ("serendipity", r"[a-z]+"),
    ],
)
def test_a_fresh_value_has_the_kind_of_the_original(value: object, pattern: str) -> None:
    maker = fresh()
    for _ in range(50):
        made = maker.value_like(value)
        assert type(made) is type(value)
        assert re.fullmatch(pattern, str(made)), made
        if isinstance(made, float):
            assert not made.is_integer()


def test_a_made_up_phrase_uses_the_given_words() -> None:
    maker = fresh()
    for _ in range(50):
        words = maker.value_like("deep sea fish").split()
        assert 1 <= len(words) <= 4 and set(words) <= set(WORDS)


def test_without_real_words_a_single_word_is_made_of_syllables() -> None:
    maker = fresh(5)
    made = [maker.value_like(value) for value in ("Lisbon", "serendipity") for _ in range(100)]
    assert not {word.casefold() for word in made} & set(WORDS)


@pytest.mark.parametrize(("value", "capitalised"), [("Lisbon", True), ("basement", False)])
def test_a_real_word_share_of_single_words_are_real_words(value: str, capitalised: bool) -> None:
    maker = FreshValues(WORDS, random.Random(6), real_word_share=0.5)
    made = [maker.value_like(value) for _ in range(400)]
    real = [word for word in made if word.casefold() in WORDS]
    assert 0.4 <= len(real) / len(made) <= 0.6
    assert all(word[0].isupper() == capitalised for word in made)
    everything_real = FreshValues(WORDS, random.Random(6), real_word_share=1.0)
    assert all(everything_real.value_like(value).casefold() in WORDS for _ in range(100))


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_a_real_word_share_outside_0_to_1_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match="real_word_share"):
        FreshValues(WORDS, random.Random(0), real_word_share=share)


@pytest.mark.parametrize("real_word_share", [0.0, 0.5])
def test_fresh_values_are_never_dev_or_test_values(real_word_share: float) -> None:
    maker = FreshValues(WORDS, random.Random(3), real_word_share)
    held_out = {
        str(v).casefold()
        for spec in SPECS
        for prompt in load_split(TEST) + load_split(DEV)
        if prompt.expected is not None and prompt.expected.name == spec.tool.name
        for v in prompt.expected.arguments.values()
    }
    for prompt in TOOL_PROMPTS:
        arguments = maker.arguments_like(
            spec_by_name(prompt.expected.name).tool, prompt.expected.arguments
        )
        for param in spec_by_name(prompt.expected.name).tool.params:
            if param.name not in arguments or param.enum is not None or param.type == "boolean":
                continue
            values = arguments[param.name]
            for value in values if isinstance(values, list) else [values]:
                assert value_split(value) == TRAIN
                assert str(value).casefold() not in held_out


def test_fresh_arguments_keep_parameters_enums_and_booleans() -> None:
    maker = fresh(1)
    changed = 0
    for prompt in TOOL_PROMPTS:
        tool = spec_by_name(prompt.expected.name).tool
        old = prompt.expected.arguments
        new = maker.arguments_like(tool, old)
        assert new.keys() == old.keys()
        for param in tool.params:
            if param.name in old and (param.enum is not None or param.type == "boolean"):
                assert new[param.name] == old[param.name]
        changed += new != old
    assert changed >= 0.9 * len(TOOL_PROMPTS)


def test_a_fresh_prompt_is_a_train_phrasing_whose_reference_call_scores_full() -> None:
    maker = fresh(2)
    for prompt in TOOL_PROMPTS[:100]:
        made = maker.prompt_like(prompt)
        spec = spec_by_name(made.expected.name)
        fills = {fill_template(t, made.expected.arguments) for t in spec.phrasings_for(TRAIN)}
        assert made.user in fills
        assert made.tools == prompt.tools
        assert score_response(reference_response(made), made).full


def test_prompts_without_a_tool_are_kept() -> None:
    no_tool = next(p for p in load_split("train", 0, 200) if not p.has_tool)
    assert fresh().prompt_like(no_tool) is no_tool


def test_the_same_seed_makes_the_same_values() -> None:
    first = [fresh(7).prompt_like(p) for p in TOOL_PROMPTS[:30]]
    again = [fresh(7).prompt_like(p) for p in TOOL_PROMPTS[:30]]
    other = [fresh(8).prompt_like(p) for p in TOOL_PROMPTS[:30]]
    assert first == again and first != other


def test_an_empty_word_list_is_refused() -> None:
    with pytest.raises(ValueError, match="word list"):
        FreshValues([], random.Random(0))
