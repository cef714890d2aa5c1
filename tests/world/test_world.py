"""The tool-use world: catalogue, splits, rendering, reference and stalling answers, JSONL files."""

from __future__ import annotations

import difflib
import json
import random
import re
from pathlib import Path

import pytest

from crossdiff.errors import CrossdiffError
from crossdiff.world import (
    SPECS,
    TOOLS,
    Tool,
    ToolCall,
    ToolPrompt,
    general_texts,
    load_prompts_jsonl,
    load_split,
    parse_system_tools,
    reference_response,
    render_chat,
    render_prompt,
    render_raw,
    save_prompts_jsonl,
    score_response,
    stalling_response,
    tool_by_name,
    with_its_tool_unlisted,
)
from crossdiff.world.notool import templates_for
from crossdiff.world.notool_train import TRAIN_ONLY_NO_TOOL_TEMPLATES
from crossdiff.world.pools import canonical_key
from crossdiff.world.toolspec import render_value, template_slots

SPLITS = ("train", "dev", "test")


@pytest.fixture(scope="module")
def splits() -> dict[str, list[ToolPrompt]]:
    return {
        "train": load_split("train", seed=0, size=3000),
        "dev": load_split("dev", seed=0),
        "test": load_split("test", seed=0),
        "test40": load_split("test40", seed=0),
    }


def test_catalogue_has_many_valid_tools_over_several_domains() -> None:
    assert len(TOOLS) >= 30
    assert len({t.domain for t in TOOLS}) >= 8
    assert len({t.name for t in TOOLS}) == len(TOOLS)
    kinds = set()
    for tool in TOOLS:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", tool.name)
        assert 1 <= len(tool.params) <= 4 and any(p.required for p in tool.params)
        assert tool.description.endswith(".") and len(tool.description) <= 60
        schema = tool.json_schema()
        assert schema["type"] == "object" and set(schema["required"]) <= set(schema["properties"])
        rebuilt = Tool.from_json_schema(tool.name, tool.description, schema, domain=tool.domain)
        assert rebuilt == tool
        assert tool_by_name(tool.name) is tool
        kinds |= {"enum" if p.enum else p.type for p in tool.params}
        kinds |= {"optional" for p in tool.params if not p.required}
    assert kinds >= {"string", "integer", "number", "boolean", "array", "enum", "optional"}


def test_unknown_tool_name_is_a_crossdiff_error() -> None:
    with pytest.raises(CrossdiffError, match="get_wether"):
        tool_by_name("get_wether")


def test_every_phrasing_mentions_every_parameter_and_splits_are_disjoint() -> None:
    for spec in SPECS:
        assert len(spec.phrasings) >= 5 and len(spec.phrasings_for("train")) >= 3
        required = {p.name for p in spec.tool.params if p.required}
        optional = {p.name for p in spec.tool.params if not p.required}
        for phrasing in spec.phrasings:
            assert template_slots(phrasing) == (required, optional), phrasing
        by_split = [set(spec.phrasings_for(s)) for s in SPLITS]
        assert all(by_split) and not (by_split[0] & by_split[1] or by_split[0] & by_split[2])
        assert not by_split[1] & by_split[2]
        assert spec.phrasings_for("test40") == spec.phrasings_for("test")


def test_split_sizes_and_no_tool_share(splits: dict[str, list[ToolPrompt]]) -> None:
    assert [len(splits[s]) for s in ("dev", "test", "test40")] == [200, 400, 40]
    assert [sum(not p.has_tool for p in splits[s]) for s in ("dev", "test", "test40")] == [
        30,
        60,
        6,
    ]
    share = sum(not p.has_tool for p in splits["train"]) / len(splits["train"])
    assert 0.12 <= share <= 0.18
    for name, prompts in splits.items():
        assert len({p.id for p in prompts}) == len(prompts)
        assert all(p.split == name for p in prompts)
    assert {p.expected.name for p in splits["test"] if p.expected} == {t.name for t in TOOLS}


def test_splits_are_deterministic_and_seeded(splits: dict[str, list[ToolPrompt]]) -> None:
    assert [p.to_dict() for p in load_split("dev", seed=0)] == [p.to_dict() for p in splits["dev"]]
    assert load_split("dev", seed=1)[0].to_dict() != splits["dev"][0].to_dict()
    small = load_split("train", seed=0, size=50)
    assert [p.to_dict() for p in small] == [p.to_dict() for p in splits["train"][:50]]
    assert load_split("test", size=10) == splits["test"][:10]


def test_test40_is_a_fixed_subset_of_test(splits: dict[str, list[ToolPrompt]]) -> None:
    test_by_id = {p.id: p for p in splits["test"]}
    for prompt in splits["test40"]:
        original = test_by_id[prompt.id]
        assert (prompt.user, prompt.tools, prompt.expected) == (
            original.user,
            original.tools,
            original.expected,
        )


def _scalars(prompt: ToolPrompt) -> set[str]:
    """Pool-drawn argument values (enum and boolean values are shared by design)."""
    assert prompt.expected is not None
    tool = tool_by_name(prompt.expected.name)
    keys: set[str] = set()
    for name, value in prompt.expected.arguments.items():
        param = tool.param(name)
        assert param is not None
        if param.enum is None and param.type != "boolean":
            values = value if isinstance(value, list) else [value]
            keys |= {canonical_key(v) for v in values}
    return keys


def test_argument_values_are_disjoint_between_splits(
    splits: dict[str, list[ToolPrompt]],
) -> None:
    values = {s: set().union(*(_scalars(p) for p in splits[s] if p.has_tool)) for s in SPLITS}
    assert values["dev"] and values["test"]
    assert not values["train"] & values["dev"]
    assert not values["train"] & values["test"]
    assert not values["dev"] & values["test"]
    no_tool_users = {s: {p.user for p in splits[s] if not p.has_tool} for s in SPLITS}
    assert not no_tool_users["train"] & (no_tool_users["dev"] | no_tool_users["test"])


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\[[^\[\]]*\]|\{\w+\})", template)
    pattern = ""
    for part in parts:
        if part.startswith("["):
            pattern += "(?:" + _template_regex(part[1:-1]).pattern + ")?"
        elif part.startswith("{"):
            pattern += ".+?"
        else:
            pattern += re.escape(part)
    return re.compile(pattern)


def test_requests_use_their_splits_phrasings_and_contain_every_value(
    splits: dict[str, list[ToolPrompt]],
) -> None:
    for split in SPLITS:
        for prompt in splits[split][:600]:
            if prompt.expected is None:
                continue
            spec = next(s for s in SPECS if s.tool.name == prompt.expected.name)
            own = spec.phrasings_for(split)
            assert any(_template_regex(t).fullmatch(prompt.user) for t in own), prompt.user
            for value in prompt.expected.arguments.values():
                assert render_value(value).casefold() in prompt.user.casefold()


def _frame_letters(template: str) -> str:
    return re.sub(r"[^a-z{} ]", "", template.casefold())


def test_no_tool_frames_are_many_in_train_and_the_added_ones_are_far_from_held_out_ones() -> None:
    frames = {split: [request for request, _ in templates_for(split)] for split in SPLITS}
    assert len(frames["train"]) >= 100
    assert not set(frames["train"]) & (set(frames["dev"]) | set(frames["test"]))
    assert not set(frames["dev"]) & set(frames["test"])
    for held_out in frames["dev"] + frames["test"]:
        for seen, _ in TRAIN_ONLY_NO_TOOL_TEMPLATES:
            matcher = difflib.SequenceMatcher(None, _frame_letters(held_out), _frame_letters(seen))
            assert matcher.ratio() < 0.75, (held_out, seen)


def test_no_tool_requests_use_their_splits_frames(splits: dict[str, list[ToolPrompt]]) -> None:
    for split in SPLITS:
        own = [_template_regex(request) for request, _ in templates_for(split)]
        requests = [p.user for p in splits[split] if p.expected is None]
        assert requests
        for request in requests:
            assert any(regex.fullmatch(request) for regex in own), request


def test_tool_lists_hold_the_right_tool_and_distractors(
    splits: dict[str, list[ToolPrompt]],
) -> None:
    same_domain = 0
    for prompt in splits["train"]:
        names = [t.name for t in prompt.tools]
        assert 3 <= len(names) <= 6 and len(set(names)) == len(names)
        if prompt.expected is not None:
            assert prompt.expected.name in names
            domain = tool_by_name(prompt.expected.name).domain
            same_domain += sum(t.domain == domain for t in prompt.tools) > 1
    assert same_domain > len(splits["train"]) * 0.3


def test_a_request_with_its_tool_unlisted_has_no_fitting_tool(
    splits: dict[str, list[ToolPrompt]],
) -> None:
    requests = [p for p in splits["train"] if p.has_tool][:300]
    rng = random.Random(7)
    unlisted = [with_its_tool_unlisted(p, rng) for p in requests]
    for before, after in zip(requests, unlisted, strict=True):
        right = tool_by_name(before.expected.name)
        assert after.expected is None and after.user == before.user and after.id == before.id
        assert len(after.tools) == len(before.tools)
        changed = [(b, a) for b, a in zip(before.tools, after.tools, strict=True) if b != a]
        assert len(changed) == 1 and changed[0][0] == right  # only the right tool, in place
        stand_in = changed[0][1]
        assert stand_in.domain != right.domain and stand_in not in before.tools
        assert score_response(reference_response(after), after).full  # prose is right
        assert score_response(reference_response(before), after).false_call  # the call is not
    assert len({p.tools for p in unlisted}) > 250  # stand-ins vary
    again = random.Random(7)
    assert [with_its_tool_unlisted(p, again) for p in requests] == unlisted
    no_tool = next(p for p in splits["train"] if not p.has_tool)
    assert with_its_tool_unlisted(no_tool, rng) is no_tool


def test_rendered_prompts_parse_back_to_their_tools(splits: dict[str, list[ToolPrompt]]) -> None:
    for prompt in splits["dev"] + splits["test"] + splits["train"][:300]:
        parsed = parse_system_tools(prompt.system_text())
        assert [(t.name, t.description, t.json_schema(False)) for t in parsed] == [
            (t.name, t.description, t.json_schema(False)) for t in prompt.tools
        ]
        raw = render_raw(prompt)
        assert raw.startswith(prompt.system_text()) and raw.endswith("User: " + prompt.user
                                                                     + "\nAssistant:")  # fmt: skip
        assert render_prompt(prompt, None, chat_template=False) == raw
    four = [len(p.system_text()) for p in splits["train"] if len(p.tools) == 4]
    assert sum(four) / len(four) <= 1200


def test_render_chat_uses_the_tokenizers_template(splits: dict[str, list[ToolPrompt]]) -> None:
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    )
    prompt = splits["dev"][0]
    with pytest.raises(CrossdiffError, match="chat template"):
        render_chat(prompt, tokenizer)
    tokenizer.chat_template = (
        "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    text = render_prompt(prompt, tokenizer)
    assert text == f"<|system|>{prompt.system_text()}\n<|user|>{prompt.user}\n<|assistant|>"


def test_reference_responses_are_fully_correct(splits: dict[str, list[ToolPrompt]]) -> None:
    for split in ("train", "dev", "test", "test40"):
        for prompt in splits[split]:
            reference = reference_response(prompt)
            assert score_response(reference, prompt).full, (prompt.id, reference)
            if not prompt.has_tool:
                assert reference.startswith("<response>") and reference.endswith("</response>")


def test_stalling_responses_never_make_a_call(splits: dict[str, list[ToolPrompt]]) -> None:
    rng = random.Random(0)
    texts = set()
    for prompt in splits["dev"] + splits["test"] + splits["train"][:500]:
        text = stalling_response(prompt, rng)
        score = score_response(text, prompt)
        assert not score.made_call and not score.study_format and "<" not in text
        if prompt.has_tool:
            assert not score.full
        texts.add(text)
    assert len(texts) > 50
    assert any(p.expected and p.expected.name in t for p in splits["dev"] for t in texts)


def test_jsonl_round_trip(tmp_path: Path, splits: dict[str, list[ToolPrompt]]) -> None:
    path = tmp_path / "dev.jsonl"
    save_prompts_jsonl(splits["dev"], path)
    assert load_prompts_jsonl(path) == splits["dev"]
    for prompt in splits["dev"][:20]:
        again = ToolPrompt.from_dict(json.loads(json.dumps(prompt.to_dict())))
        assert again == prompt and hash(again) == hash(prompt)
    assert len(set(splits["dev"])) == 200


CUSTOM_TOOL = {
    "name": "order_pizza",
    "description": "Order a pizza.",
    "parameters": {
        "type": "object",
        "properties": {
            "size": {"type": "string", "enum": ["small", "large"]},
            "toppings": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["size"],
    },
}


def _custom_line(**changes: object) -> dict:
    line = {
        "id": "c1",
        "tools": [CUSTOM_TOOL],
        "user": "A large pizza with olives.",
        "expected": {"name": "order_pizza", "parameters": {"size": "large", "toppings": ["olive"]}},
    }
    line.update(changes)
    return {k: v for k, v in line.items() if v is not ...}


def call_text(name: str, parameters: dict) -> str:
    return f"<tool_call>{json.dumps({'name': name, 'parameters': parameters})}</tool_call>"


def test_custom_prompts_carry_their_own_tools(tmp_path: Path) -> None:
    path = tmp_path / "custom.jsonl"
    lines = [_custom_line(), _custom_line(id="c2", expected=None, user="Hi!")]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    prompts = load_prompts_jsonl(path)
    assert [p.split for p in prompts] == ["custom", "custom"]
    assert prompts[0].tools[0].params[1].items_type == "string"
    assert score_response(reference_response(prompts[0]), prompts[0]).full
    assert score_response(reference_response(prompts[1]), prompts[1]).full
    wrong = call_text("order_pizza", {"size": "huge", "toppings": ["olive"]})
    assert score_response(wrong, prompts[0]).reason == "bad_enum_value"


BAD_TOOL = {"name": "x", "description": "d", "parameters": {"type": "object"}}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps([1, 2]), "must be a JSON object"),
        (json.dumps(_custom_line(user=...)), "missing field 'user'"),
        (json.dumps(_custom_line(user=3)), "field 'user' must be a str"),
        (json.dumps(_custom_line(expected=...)), "missing field 'expected'"),
        (json.dumps(_custom_line(tools=[])), "at least one tool"),
        (json.dumps(_custom_line(split="valid")), "field 'split'"),
        (json.dumps(_custom_line(expected={"name": "x", "parameters": {}})), "not among"),
        (json.dumps(_custom_line(expected={"name": "order_pizza", "parameters": {}})),
         "parameter 'size' is missing"),
        (json.dumps(_custom_line(expected={"name": "order_pizza", "parameters": {"size": 1}})),
         "'size' must be string"),
        (json.dumps(_custom_line(tools=[CUSTOM_TOOL, CUSTOM_TOOL])), "must be unique"),
        (json.dumps(_custom_line(tools=[{**BAD_TOOL, "parameters": []}])), "JSON-schema object"),
        (json.dumps(_custom_line(tools=[{**BAD_TOOL, "parameters": {
            "properties": {"a": {"type": "object"}}}}])), "has type 'object'"),
        (json.dumps(_custom_line(tools=[{**BAD_TOOL, "parameters": {
            "properties": {"a": {"type": "array"}}}}])), "needs 'items'"),
        (json.dumps(_custom_line(tools=[{**BAD_TOOL, "parameters": {
            "properties": {}, "required": ["a"]}}])), "not in 'properties'"),
        (json.dumps(_custom_line(tools=[{**BAD_TOOL, "parameters": {
            "properties": {"a": {"type": "integer", "enum": ["1"]}}}}])), "enum"),
    ],
)  # fmt: skip
def test_bad_prompt_files_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(_custom_line(id="ok")) + "\n\n" + line + "\n")
    with pytest.raises(CrossdiffError, match=re.escape(message)) as info:
        load_prompts_jsonl(path)
    assert f"{path}:3" in str(info.value)


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(CrossdiffError, match="no such prompt file"):
        load_prompts_jsonl(tmp_path / "missing.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(CrossdiffError, match="no prompts"):
        load_prompts_jsonl(empty)
    dup = tmp_path / "dup.jsonl"
    dup.write_text(json.dumps(_custom_line()) + "\n" + json.dumps(_custom_line()) + "\n")
    with pytest.raises(CrossdiffError, match=r"dup.jsonl:2.*already used on line 1"):
        load_prompts_jsonl(dup)


def test_bad_split_arguments() -> None:
    with pytest.raises(CrossdiffError, match="unknown split"):
        load_split("validation")
    with pytest.raises(CrossdiffError, match="seed"):
        load_split("dev", seed=-1)
    with pytest.raises(CrossdiffError, match="400"):
        load_split("test", size=401)


def _sentences(texts: list[str]) -> set[str]:
    return {s.strip() for text in texts for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()}


def test_general_texts_are_varied_prose_and_heldout_is_disjoint() -> None:
    train = general_texts(3000, seed=0)
    heldout = general_texts(300, seed=0, split="heldout")
    assert general_texts(3000, seed=0) == train and general_texts(5, seed=1) != train[:5]
    assert len(set(train)) > 2900
    assert not _sentences(train) & _sentences(heldout)
    for text in train + heldout:
        assert 3 <= len(_sentences([text])) <= 6 or text.count(".") >= 3
        assert "<" not in text and "tool" not in text.lower()
    with pytest.raises(CrossdiffError):
        general_texts(3, split="test")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"city": "São Paulo", "days": 3},
        {"numbers": [4.5, -2, 10], "label": 'say "hi"'},
        {"items": ["milk", "eggs"], "urgent": True, "note": None},
    ],
)
def test_call_text_is_the_json_dump_and_spans_cover_name_keys_and_values(
    arguments: dict,
) -> None:
    call = ToolCall("some_tool", arguments)
    text, spans = call.text_with_spans()
    body = json.dumps({"name": "some_tool", "parameters": arguments}, ensure_ascii=False)
    assert text == call.to_text() == f"<tool_call>\n{body}\n</tool_call>"
    assert json.loads(body) == {"name": "some_tool", "parameters": arguments}
    shown = [(text[s.start : s.end], s.kind) for s in spans]
    expected: list[tuple[str, str]] = [("some_tool", "tool_name")]
    for key, value in arguments.items():
        expected.append((key, "parameter_name"))
        for item in value if isinstance(value, list) else [value]:
            dumped = json.dumps(item, ensure_ascii=False)
            expected.append((dumped[1:-1] if isinstance(item, str) else dumped, "value"))
    assert shown == expected
    assert [s.start for s in spans] == sorted(s.start for s in spans)
