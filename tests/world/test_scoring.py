"""The one parser and scorer: a hand-written case per failure reason; no string breaks it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossdiff.world import (
    FailureReason,
    Param,
    Tool,
    ToolCall,
    ToolPrompt,
    parse_tool_call,
    score_response,
    summarize,
)

WEATHER = Tool(
    "get_weather",
    "weather",
    "Get the current weather in a city.",
    (
        Param("city", "string", "City name"),
        Param("unit", "string", "Unit", required=False, enum=("celsius", "fahrenheit")),
        Param("days", "integer", "Days", required=False),
    ),
)
SORT = Tool(
    "sort_numbers",
    "lists",
    "Sort numbers.",
    (
        Param("numbers", "array", "Numbers", items_type="number"),
        Param("descending", "boolean", "Largest first", required=False),
    ),
)
VOLUME = Tool("set_volume", "media", "Set the volume.", (Param("level", "integer", "Level"),))
ADD = Tool(
    "add_numbers", "arithmetic", "Add.", (Param("a", "number", "A"), Param("b", "number", "B"))
)
TOOLS = (WEATHER, SORT, VOLUME, ADD)


def prompt_for(name: str | None, arguments: dict | None = None) -> ToolPrompt:
    expected = None if name is None else ToolCall(name, arguments or {})
    return ToolPrompt("t-1", "custom", TOOLS, "request", expected)


WEATHER_PROMPT = prompt_for("get_weather", {"city": "Paris", "unit": "celsius"})


def call(name: str, parameters: object) -> str:
    body = json.dumps({"name": name, "parameters": parameters})
    return f"<tool_call>\n{body}\n</tool_call>"


GOOD = call("get_weather", {"city": "Paris", "unit": "celsius"})


def test_exact_call_is_fully_correct() -> None:
    score = score_response(GOOD, WEATHER_PROMPT)
    assert score.full and score.format_ok and score.selection_ok and score.arguments_ok
    assert score.reason is None and score.made_call and not score.false_call
    assert score.called_name == "get_weather" and score.n_calls == 1
    assert (score.study_format, score.study_tool, score.study_overall) == (True, True, 2)


def test_tool_ok_ignores_arguments_but_not_the_tool_or_a_false_call() -> None:
    wrong_city = score_response(call("get_weather", {"city": "Oslo"}), WEATHER_PROMPT)
    assert wrong_city.tool_ok and not wrong_city.full
    assert wrong_city.to_dict()["tool_ok"] is True
    assert not score_response(call("add_numbers", {"a": 1, "b": 2}), WEATHER_PROMPT).tool_ok
    assert not score_response("It is sunny in Paris.", WEATHER_PROMPT).tool_ok
    assert score_response("Happy to chat!", prompt_for(None)).tool_ok
    assert not score_response(GOOD, prompt_for(None)).tool_ok


def test_strings_compare_after_strip_and_casefold_with_text_around() -> None:
    text = "<think>ok</think>" + call("get_weather", {"unit": "CELSIUS", "city": " paris "})
    assert score_response(text + "\n<response>Done.</response>", WEATHER_PROMPT).full


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("I will check the weather in Paris for you.", FailureReason.NO_TAG),
        ('{"name": "get_weather", "parameters": {"city": "Paris"}}', FailureReason.NO_TAG),
        ('<tool_call>\n{"name": "get_weather", "parameters": {"city": "Paris", "unit": "celsius"}}',
         FailureReason.UNCLOSED_TAG),
        ("<tool_call>{'name': 'get_weather'}</tool_call>", FailureReason.BAD_JSON),
        ('<tool_call>{"name": "get_weather", "parameters": {"city": NaN}}</tool_call>',
         FailureReason.BAD_JSON),
        ("<tool_call></tool_call>", FailureReason.BAD_JSON),
        ('<tool_call>["get_weather", "Paris"]</tool_call>', FailureReason.NOT_AN_OBJECT),
        ('<tool_call>"get_weather"</tool_call>', FailureReason.NOT_AN_OBJECT),
        ('<tool_call>{"parameters": {"city": "Paris"}}</tool_call>', FailureReason.MISSING_NAME),
        ('<tool_call>{"name": 7, "parameters": {}}</tool_call>', FailureReason.MISSING_NAME),
        ('<tool_call>{"name": "get_weather"}</tool_call>', FailureReason.MISSING_PARAMETERS),
        ('<tool_call>{"name": "get_weather", "parameters": ["Paris"]}</tool_call>',
         FailureReason.MISSING_PARAMETERS),
        (call("get_wether", {"city": "Paris", "unit": "celsius"}), FailureReason.UNKNOWN_TOOL),
        (call("book_hotel", {"city": "Paris"}), FailureReason.UNKNOWN_TOOL),
        (call("set_volume", {"level": 3}), FailureReason.WRONG_TOOL),
        (call("get_weather", {"unit": "celsius"}), FailureReason.MISSING_PARAMETER),
        (call("get_weather", {"city": "Paris"}), FailureReason.MISSING_PARAMETER),
        (call("get_weather", {"city": "Paris", "unit": "celsius", "country": "FR"}),
         FailureReason.UNKNOWN_PARAMETER),
        (call("get_weather", {"city": 5, "unit": "celsius"}), FailureReason.WRONG_TYPE),
        (call("get_weather", {"city": None, "unit": "celsius"}), FailureReason.WRONG_TYPE),
        (call("get_weather", {"city": "Paris", "unit": "kelvin"}), FailureReason.BAD_ENUM_VALUE),
        (call("get_weather", {"city": "London", "unit": "celsius"}), FailureReason.WRONG_VALUE),
        (call("get_weather", {"city": "Paris", "unit": "celsius", "days": 3}),
         FailureReason.WRONG_VALUE),
    ],
)  # fmt: skip
def test_every_failure_reason(text: str, reason: FailureReason) -> None:
    score = score_response(text, WEATHER_PROMPT)
    assert score.reason == reason
    assert not score.full and score.detail


def test_parse_failures_are_not_format_ok_but_argument_failures_are() -> None:
    unclosed = score_response(GOOD.removesuffix("</tool_call>"), WEATHER_PROMPT)
    assert unclosed.made_call and not unclosed.format_ok and unclosed.study_format
    rome = call("get_weather", {"city": "Rome", "unit": "celsius"})
    wrong_value = score_response(rome, WEATHER_PROMPT)
    assert wrong_value.format_ok
    assert wrong_value.selection_ok and not wrong_value.arguments_ok


def test_bool_is_not_an_integer_and_integers_must_be_json_integers() -> None:
    prompt = prompt_for("set_volume", {"level": 1})
    assert score_response(call("set_volume", {"level": 1}), prompt).full
    assert score_response(call("set_volume", {"level": True}), prompt).reason == "wrong_type"
    assert score_response(call("set_volume", {"level": 1.0}), prompt).reason == "wrong_type"
    assert score_response(call("set_volume", {"level": "1"}), prompt).reason == "wrong_type"


def test_numbers_compare_by_value_and_int_is_a_valid_number() -> None:
    prompt = prompt_for("add_numbers", {"a": 2, "b": 12.5})
    assert score_response(call("add_numbers", {"a": 2.0, "b": 12.5}), prompt).full
    assert score_response(call("add_numbers", {"a": 2, "b": 12.50}), prompt).full
    assert score_response(call("add_numbers", {"a": 12.5, "b": 2}), prompt).reason == "wrong_value"
    assert score_response(call("add_numbers", {"a": False, "b": 12.5}), prompt).reason == (
        "wrong_type"
    )


def test_arrays_are_compared_in_order_and_item_types_checked() -> None:
    prompt = prompt_for("sort_numbers", {"numbers": [3, 1, 2], "descending": True})
    exact = call("sort_numbers", {"numbers": [3, 1, 2], "descending": True})
    assert score_response(exact, prompt).full
    as_float = call("sort_numbers", {"numbers": [3, 1.0, 2], "descending": True})
    assert score_response(as_float, prompt).full
    reordered = call("sort_numbers", {"numbers": [1, 2, 3], "descending": True})
    assert score_response(reordered, prompt).reason == FailureReason.WRONG_VALUE
    strings = call("sort_numbers", {"numbers": ["3", "1", "2"], "descending": True})
    assert score_response(strings, prompt).reason == FailureReason.WRONG_TYPE
    as_string = call("sort_numbers", {"numbers": [3, 1, 2], "descending": "true"})
    assert score_response(as_string, prompt).reason == FailureReason.WRONG_TYPE


def test_only_the_first_of_several_calls_is_scored() -> None:
    wrong = call("set_volume", {"level": 3})
    first_right = score_response(GOOD + "\n" + wrong, WEATHER_PROMPT)
    assert first_right.full and first_right.n_calls == 2
    first_wrong = score_response(wrong + "\n" + GOOD, WEATHER_PROMPT)
    assert first_wrong.reason == FailureReason.WRONG_TOOL and first_wrong.n_calls == 2


def test_no_tool_prompt_full_means_no_call() -> None:
    prompt = prompt_for(None)
    prose = score_response("<response>Once upon a time...</response>", prompt)
    assert prose.full and not prose.false_call and not prose.has_tool and prose.reason is None
    called = score_response(GOOD, prompt)
    assert not called.full and called.false_call
    assert called.reason == FailureReason.CALL_ON_NO_TOOL_PROMPT
    broken = score_response("<tool_call>oops", prompt)
    assert broken.false_call and not broken.full


@pytest.mark.parametrize(
    ("text", "study_format", "study_tool", "overall"),
    [
        (GOOD, True, True, 2),
        ('<tool_call>{"name": "get_wether", "parameters": {}', True, True, 2),  # fuzzy, unclosed
        ('I would call {"name": "get_weather"} here.', False, True, 1),  # no tag needed
        ('<tool_call>{"name": "launch_rocket", "parameters": {}}</tool_call>', True, False, 0),
        ("<tool_call>\nnot json\n</tool_call>", False, False, -1),
        ("Let me look that up.", False, False, -1),
        ('{"name": "zzz"} then <tool_call> {"name": "get_weather"}', True, False, 0),  # first name
    ],
)
def test_study_compatible_scores(
    text: str, study_format: bool, study_tool: bool, overall: int
) -> None:
    score = score_response(text, WEATHER_PROMPT)
    assert (score.study_format, score.study_tool, score.study_overall) == (
        study_format,
        study_tool,
        overall,
    )


def test_parse_tool_call_exposes_the_parts() -> None:
    parsed = parse_tool_call("x " + GOOD + " tail")
    assert parsed.well_formed and parsed.name == "get_weather" and parsed.text_after == " tail"
    assert parsed.parameters == {"city": "Paris", "unit": "celsius"}
    assert not parse_tool_call("nothing").has_tag


def test_deep_nesting_and_huge_numbers_do_not_raise() -> None:
    deep = "<tool_call>" + "[" * 100_000 + "]" * 100_000 + "</tool_call>"
    assert score_response(deep, WEATHER_PROMPT).reason in (
        FailureReason.BAD_JSON,
        FailureReason.NOT_AN_OBJECT,
    )
    huge = '<tool_call>{"name": "get_weather", "parameters": {"city": ' + "9" * 10_000 + "}}"
    assert not score_response(huge + "</tool_call>", WEATHER_PROMPT).full


def test_score_to_dict_is_json_and_summarize_counts() -> None:
    no_tool = prompt_for(None)
    scores = [
        score_response(GOOD, WEATHER_PROMPT),
        score_response("Sorry.", WEATHER_PROMPT),
        score_response(call("get_weather", {"city": "Rome", "unit": "celsius"}), WEATHER_PROMPT),
        score_response(GOOD, no_tool),
        score_response("<response>Hi!</response>", no_tool),
    ]
    json.dumps([s.to_dict() for s in scores])
    summary = summarize(scores)
    assert summary["n"] == 5 and summary["n_tool_prompts"] == 3
    assert summary["n_full_correct"] == 1 and summary["full_correctness"] == pytest.approx(1 / 3)
    assert summary["format_rate"] == pytest.approx(2 / 3)
    assert summary["selection_rate"] == pytest.approx(2 / 3)
    assert summary["n_false_calls"] == 1 and summary["false_call_rate"] == pytest.approx(0.5)
    assert summary["study_overall_mean"] == pytest.approx((2 - 1 + 2) / 3)
    assert summary["reasons"] == {"no_tag": 1, "wrong_value": 1, "call_on_no_tool_prompt": 1}
    assert summarize([])["full_correctness"] is None


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)
PROMPTS = st.sampled_from([WEATHER_PROMPT, prompt_for(None), prompt_for("sort_numbers", {})])


@settings(max_examples=300, deadline=None)
@given(text=st.text(), prompt=PROMPTS)
def test_no_string_makes_the_scorer_raise(text: str, prompt: ToolPrompt) -> None:
    score = score_response(text, prompt)
    assert score.study_overall in (-1, 0, 1, 2)
    assert score.full == (score.reason is None)


@settings(max_examples=300, deadline=None)
@given(
    before=st.text(max_size=30),
    after=st.text(max_size=30),
    name=st.sampled_from(["get_weather", "set_volume", "sort_numbers", "x", ""]),
    parameters=JSON_VALUES,
    cut=st.integers(min_value=0, max_value=200),
)
def test_text_around_and_inside_calls_never_raises(
    before: str, after: str, name: str, parameters: object, cut: int
) -> None:
    body = json.dumps({"name": name, "parameters": parameters})
    text = f"{before}<tool_call>\n{body}\n</tool_call>{after}"
    for candidate in (text, text[:cut], text[cut:]):
        for prompt in (WEATHER_PROMPT, prompt_for(None)):
            score = score_response(candidate, prompt)
            assert score.full == (score.reason is None)
