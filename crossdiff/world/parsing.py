"""Parse a model's text into its first tool call. Never raises, never evaluates the text.

The ToolRL format is `<tool_call>\\n{"name": ..., "parameters": {...}}\\n</tool_call>`. Only the
FIRST `<tool_call>` block is parsed and scored; `n_blocks` counts how many opening tags there are
so callers can see (and, if they want, penalise) extra calls.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

OPEN_TAG = "<tool_call>"
CLOSE_TAG = "</tool_call>"

# The study's lenient checks look for a JSON "name" key anywhere, tag or not.
_NAME_KEY = re.compile(r'"name"\s*:\s*"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class ParsedCall:
    """What the first `<tool_call>` block of a text contains, and what went wrong parsing it."""

    has_tag: bool  # an opening <tool_call> tag is present
    closed: bool  # ... and a closing </tool_call> follows it
    n_blocks: int  # number of opening tags in the text
    body: str | None  # text between the first tags (to the end of text if unclosed)
    payload: Any = None  # the decoded JSON of the body, if it decoded
    json_ok: bool = False  # the body decoded as JSON
    name: str | None = None  # the "name" string of the call object
    parameters: dict[str, Any] | None = None  # the "parameters" object of the call
    text_after: str = ""  # text after the first closing tag (for end-of-turn checks)
    problem: str | None = None  # why this is not a well-formed call (None if it is)
    extra_keys: tuple[str, ...] = field(default=())  # top-level keys besides name/parameters

    @property
    def well_formed(self) -> bool:
        """True when the first block is closed, is a JSON object, and has name and parameters."""
        return self.problem is None


def _reject_constant(token: str) -> Any:
    """Refuse NaN / Infinity, which are not JSON."""
    raise ValueError(f"{token} is not valid JSON")


def decode_json(text: str) -> tuple[bool, Any]:
    """Decode strict JSON; return (ok, value). Never raises (deep nesting, huge ints included)."""
    try:
        return True, json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError, MemoryError, TypeError):
        return False, None


def parse_tool_call(text: str) -> ParsedCall:
    """Parse the first `<tool_call>` block of `text`. Never raises and never evaluates it."""
    if not isinstance(text, str):
        return ParsedCall(False, False, 0, None, problem="not a string")
    start = text.find(OPEN_TAG)
    if start < 0:
        return ParsedCall(False, False, 0, None, problem="no <tool_call> tag")
    n_blocks = text.count(OPEN_TAG)
    body_start = start + len(OPEN_TAG)
    end = text.find(CLOSE_TAG, body_start)
    closed = end >= 0
    body = text[body_start:end] if closed else text[body_start:]
    # A second opening tag before any close also ends an unclosed body.
    if not closed:
        nxt = body.find(OPEN_TAG)
        if nxt >= 0:
            body = body[:nxt]
    text_after = text[end + len(CLOSE_TAG) :] if closed else ""
    json_ok, payload = decode_json(body.strip())
    common = dict(has_tag=True, closed=closed, n_blocks=n_blocks, body=body, text_after=text_after)
    if not json_ok:
        problem = "unclosed <tool_call> tag" if not closed else "body is not valid JSON"
        return ParsedCall(**common, problem=problem)
    if not isinstance(payload, dict):
        return ParsedCall(**common, payload=payload, json_ok=True, problem="JSON is not an object")
    name = payload.get("name")
    name = name if isinstance(name, str) else None
    params = payload.get("parameters")
    params = params if isinstance(params, dict) else None
    extra = tuple(str(k) for k in payload if k not in ("name", "parameters"))
    problem = None
    if not closed:
        problem = "unclosed <tool_call> tag"
    elif name is None:
        problem = 'no string "name" in the call object'
    elif params is None:
        problem = 'no object "parameters" in the call object'
    return ParsedCall(
        **common,
        payload=payload,
        json_ok=True,
        name=name,
        parameters=params,
        problem=problem,
        extra_keys=extra,
    )


def first_json_name(text: str) -> str | None:
    """Return the first `"name": "..."` string value anywhere in `text` (the study's reading)."""
    if not isinstance(text, str):
        return None
    match = _NAME_KEY.search(text)
    if match is None:
        return None
    ok, value = decode_json(f'"{match.group(1)}"')
    return value if ok and isinstance(value, str) else match.group(1)


def has_tag_and_json_name(text: str) -> bool:
    """The study's format check: a `<tool_call>` tag followed by a JSON `"name"` key."""
    if not isinstance(text, str):
        return False
    start = text.find(OPEN_TAG)
    return start >= 0 and _NAME_KEY.search(text, start) is not None
