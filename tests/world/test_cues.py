"""Word cues for tool selection: hand-made prompts whose cues are known, and the test split."""

from __future__ import annotations

import dataclasses

import pytest

from crossdiff.world import ToolPrompt, load_split, tool_by_name
from crossdiff.world.cues import content_words, cue_rates, known_words, selection_cue
from crossdiff.world.schema import ToolCall


def _prompt(user: str, right: str, others: tuple[str, ...], arguments: dict) -> ToolPrompt:
    tools = tuple(tool_by_name(n) for n in (right, *others))
    return ToolPrompt("hand-0", "test", tools, user, ToolCall(right, arguments))


def test_content_words_drop_stop_words_and_short_words() -> None:
    assert content_words("What's the weather in Oslo, please?") == {"weather", "oslo"}


def test_known_words_come_from_name_description_parameters_and_train_phrasings() -> None:
    words = known_words("get_weather")
    assert {"weather", "city", "unit", "current", "warm", "cold"} <= words
    assert "conditions" in words  # in a train phrasing ("Current conditions in {city}")
    assert "landed" not in known_words("track_flight")  # only in its test phrasing


def test_a_request_sharing_a_word_only_with_its_tool_has_a_distinctive_cue() -> None:
    cue = selection_cue(
        _prompt("Weather for Oslo?", "get_weather", ("add_numbers",), {"city": "Oslo"})
    )
    assert cue.shared == {"weather"} and cue.distinctive == {"weather"}


def test_a_word_known_for_a_listed_distractor_is_not_distinctive() -> None:
    cue = selection_cue(
        _prompt("Weather for Oslo?", "get_weather", ("get_forecast",), {"city": "Oslo"})
    )
    assert cue.shared == {"weather"} and cue.distinctive == frozenset()


def test_value_words_are_not_cues() -> None:
    cue = selection_cue(
        _prompt("Landed yet: Status?", "track_flight", (), {"flight_number": "Status"})
    )
    assert "status" in known_words("track_flight")
    assert cue.shared == frozenset()  # "Status" is the value here, so it is no cue


def test_cue_rates_count_tool_prompts_only_and_name_tools_without_cues() -> None:
    with_cue = _prompt("Weather for Oslo?", "get_weather", (), {"city": "Oslo"})
    without = dataclasses.replace(with_cue, id="hand-1", user="I need a barometer in Oslo.")
    no_tool = dataclasses.replace(with_cue, id="hand-2", expected=None, user="Hello!")
    rates = cue_rates([with_cue, without, no_tool])
    assert rates["shared_word_rate"] == 0.5
    assert rates["tools_without_cue"] == []  # get_weather has a cue in one of its prompts
    with pytest.raises(ValueError, match="no tool"):
        selection_cue(no_tool)
    with pytest.raises(ValueError, match="at least one tool prompt"):
        cue_rates([no_tool])


def test_enum_values_are_cues_since_the_tool_list_shows_them() -> None:
    prompt = _prompt(
        "How much is 5 USD in EUR?",
        "convert_currency",
        ("add_numbers",),
        {"amount": 5, "from_currency": "USD", "to_currency": "EUR"},
    )
    assert selection_cue(prompt).distinctive == {"usd", "eur"}


def test_train_requests_nearly_always_share_a_word_with_their_tool() -> None:
    train = cue_rates(load_split("train", 0, 400))
    test = cue_rates(load_split("test", 0))
    assert train["shared_word_rate"] >= 0.98
    assert test["shared_word_rate"] < train["shared_word_rate"]  # unseen phrasings
