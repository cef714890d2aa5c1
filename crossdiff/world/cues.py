"""Word cues for tool selection: does a request share a word with what a model knows of its tool?

A model that learns language only from this world (the organism) can pick the right tool for an
unseen phrasing only from cues it has seen: words of the tool's training phrasings, of its name,
description, parameter names and enum values (the tool list shows them), or the kind of values in
the request. This module measures the word cues: for each tool prompt, whether its request (values
removed, except enum values) shares a content word with its tool's known words, and whether that
word is also known for a listed distractor. A split where many requests share no word with their
tool caps the selection rate of such a model, whatever its training.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from crossdiff.world.catalogue import spec_by_name
from crossdiff.world.pools import TRAIN
from crossdiff.world.prompt import ToolPrompt
from crossdiff.world.toolspec import render_value

_WORD = re.compile(r"[a-z]+")
_SLOT_OR_BRACKET = re.compile(r"\{\w+\}|[\[\]]")
_STOP_TEXT = """a an the in of for to me my is it at on and or with by what how i you please can
could do does be are from this that your any give tell get set now right today find show need much
many will would should its into than then there here about"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


def content_words(text: str) -> frozenset[str]:
    """Lower-case words of three or more letters in `text`, stop words removed."""
    return frozenset(w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in STOP_WORDS)


@cache
def known_words(tool_name: str) -> frozenset[str]:
    """Words a world-trained model can tie to a catalogue tool: its name parts, description,
    parameter names and enum values (all shown in the tool list) and the words of its train
    phrasings (slots removed)."""
    spec = spec_by_name(tool_name)
    tool = spec.tool
    words = set(content_words(tool.description)) | set(tool.name.split("_"))
    for param in tool.params:
        words |= {param.name, *content_words(" ".join(param.enum or ()))}
    for phrasing in spec.phrasings_for(TRAIN):
        words |= content_words(_SLOT_OR_BRACKET.sub(" ", phrasing))
    return frozenset(words)


@dataclass(frozen=True)
class SelectionCue:
    """Word cues of one tool prompt: `shared` words of the request (values removed) known for its
    tool, and the `distinctive` ones among them that no listed distractor is known by."""

    shared: frozenset[str]
    distinctive: frozenset[str]


def selection_cue(prompt: ToolPrompt) -> SelectionCue:
    """The word cues of a catalogue tool prompt (a ValueError for a no-tool prompt)."""
    if prompt.expected is None:
        raise ValueError(f"prompt {prompt.id} has no tool, so no selection cue")
    tool = spec_by_name(prompt.expected.name).tool
    value_words: set[str] = set()  # enum values stay: the tool list shows them
    for name, value in prompt.expected.arguments.items():
        param = tool.param(name)
        if param is None or param.enum is None:
            value_words |= content_words(render_value(value))
    request = content_words(prompt.user) - value_words
    shared = request & known_words(prompt.expected.name)
    distractors: set[str] = set()
    for listed in prompt.tools:
        if listed.name != prompt.expected.name:
            distractors |= known_words(listed.name)
    return SelectionCue(frozenset(shared), frozenset(shared - distractors))


def cue_rates(prompts: Sequence[ToolPrompt]) -> dict[str, float | list[str]]:
    """Shares of tool prompts with a shared / a distinctive word cue, and the tools whose
    requests in `prompts` never share a word with them."""
    tool_prompts = [p for p in prompts if p.expected is not None]
    if not tool_prompts:
        raise ValueError("cue_rates needs at least one tool prompt")
    cues = [selection_cue(p) for p in tool_prompts]
    with_cue = {p.expected.name for p, c in zip(tool_prompts, cues, strict=True) if c.shared}
    every_tool = {p.expected.name for p in tool_prompts}
    return {
        "shared_word_rate": sum(bool(c.shared) for c in cues) / len(cues),
        "distinctive_word_rate": sum(bool(c.distinctive) for c in cues) / len(cues),
        "tools_without_cue": sorted(every_tool - with_cue),
    }
