"""The one scorer of tool calls: used by the RL reward and by every evaluation.

Rules (documented once, here):
- Only the first `<tool_call>` block is scored; `Score.n_calls` counts all opening tags.
- format: the first block is closed, its body is a JSON object with a string "name" and an
  object "parameters".
- selection: the called name equals the expected tool's name (exact, after strip).
- arguments (as the BFCL AST checker): no unknown parameter, every required parameter present and
  every optional parameter the user asked for present, no optional parameter the user did not ask
  for, types right (a bool is not an integer or a number; an int is a valid number; integers must
  be JSON integers), enum values among the allowed ones, values right (strings compared after
  strip + casefold, numbers by value, arrays element-wise in order).
- full: format and selection and arguments; on a no-tool prompt: no `<tool_call>` tag at all.
- the study's scores: `study_format` = a `<tool_call>` tag followed by a JSON `"name"` key;
  `study_tool` = the first `"name": "..."` value anywhere in the text (no tag needed) matches a
  listed tool fuzzily: difflib ratio >= 0.8 after casefolding; `study_overall` = +2 both,
  +1 tool only, 0 format only, -1 neither.
"""

from __future__ import annotations

import difflib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from crossdiff.world.parsing import first_json_name, has_tag_and_json_name, parse_tool_call
from crossdiff.world.schema import Param, Tool

if TYPE_CHECKING:
    from crossdiff.world.prompt import ToolPrompt

STUDY_TOOL_MIN_RATIO = 0.8


class FailureReason(StrEnum):
    """Why a response is not fully correct; the first failing check wins."""

    NO_TAG = "no_tag"
    UNCLOSED_TAG = "unclosed_tag"
    BAD_JSON = "bad_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_NAME = "missing_name"
    MISSING_PARAMETERS = "missing_parameters"
    UNKNOWN_TOOL = "unknown_tool"
    WRONG_TOOL = "wrong_tool"
    UNKNOWN_PARAMETER = "unknown_parameter"
    MISSING_PARAMETER = "missing_parameter"
    WRONG_TYPE = "wrong_type"
    BAD_ENUM_VALUE = "bad_enum_value"
    WRONG_VALUE = "wrong_value"
    CALL_ON_NO_TOOL_PROMPT = "call_on_no_tool_prompt"


@dataclass(frozen=True)
class Score:
    """Every score of one response to one prompt."""

    made_call: bool  # a <tool_call> tag is present
    format_ok: bool  # first block closed, a JSON object with "name" and "parameters"
    selection_ok: bool  # called name == expected name (False on no-tool prompts)
    arguments_ok: bool  # see the module docstring
    full: bool  # all of the above; on no-tool prompts: no call made
    false_call: bool  # no-tool prompt and a call was made
    reason: FailureReason | None  # why `full` is False (None when full)
    called_name: str | None
    study_format: bool
    study_tool: bool
    study_overall: int
    has_tool: bool = True  # the prompt has a fitting tool
    n_calls: int = 0  # number of <tool_call> opening tags (only the first is scored)
    detail: str = ""  # a human-readable explanation of `reason`

    @property
    def tool_ok(self) -> bool:
        """The right tool in a well-formed call, arguments not checked (the study's notion of a
        correct call); on no-tool prompts: no call made."""
        if not self.has_tool:
            return not self.made_call
        return self.format_ok and self.selection_ok

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (reason as its string value, plus `tool_ok`)."""
        data = asdict(self)
        data["reason"] = None if self.reason is None else str(self.reason)
        data["tool_ok"] = self.tool_ok
        return data


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def type_ok(value: Any, type_name: str, items_type: str | None = None) -> bool:
    """Return True when a JSON value has the JSON-schema type (bool is not int; int is number)."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        return _is_int(value)
    if type_name == "number":
        return _is_number(value)
    if type_name == "boolean":
        return isinstance(value, bool)
    if type_name == "array":
        return isinstance(value, list) and all(type_ok(v, items_type or "string") for v in value)
    return False


def values_equal(got: Any, want: Any) -> bool:
    """Compare type-checked values: strings strip+casefold, numbers by value, arrays in order."""
    if isinstance(want, bool) or isinstance(got, bool):
        return isinstance(got, bool) and isinstance(want, bool) and got == want
    if isinstance(want, str):
        return isinstance(got, str) and got.strip().casefold() == want.strip().casefold()
    if _is_number(want):
        if not _is_number(got):
            return False
        try:
            return math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-12)
        except OverflowError:
            return got == want
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(values_equal(g, w) for g, w in zip(got, want, strict=True))
        )
    return bool(got == want)


def _enum_ok(value: Any, param: Param) -> bool:
    if param.enum is None:
        return True
    folded = {e.strip().casefold() for e in param.enum}
    return isinstance(value, str) and value.strip().casefold() in folded


def check_arguments(
    arguments: dict[str, Any], tool: Tool, expected: dict[str, Any] | None
) -> tuple[FailureReason | None, str]:
    """Check call arguments against a tool's schema and (if given) the expected values.

    Returns (None, "") when they are right, else the first failure and an explanation.
    With `expected=None` only the schema is checked (required present, no unknown, types, enums).
    """
    for name in arguments:
        if tool.param(name) is None:
            return FailureReason.UNKNOWN_PARAMETER, f"{tool.name} has no parameter {name!r}"
    for param in tool.params:
        needed = param.required or (expected is not None and param.name in expected)
        if needed and param.name not in arguments:
            return FailureReason.MISSING_PARAMETER, f"parameter {param.name!r} is missing"
    for name, value in arguments.items():
        param = tool.param(name)
        assert param is not None  # checked above
        if not type_ok(value, param.type, param.items_type):
            shown = param.type if param.items_type is None else f"array of {param.items_type}"
            return FailureReason.WRONG_TYPE, f"{name!r} must be {shown}, got {value!r:.80}"
        if not _enum_ok(value, param):
            return FailureReason.BAD_ENUM_VALUE, f"{name!r}={value!r:.80} is not in {param.enum}"
    if expected is None:
        return None, ""
    for name, value in arguments.items():
        if name not in expected:
            return FailureReason.WRONG_VALUE, f"{name!r} was not asked for"
        if not values_equal(value, expected[name]):
            return FailureReason.WRONG_VALUE, f"{name!r}={value!r:.80}, expected {expected[name]!r}"
    return None, ""


def study_tool_match(name: str | None, tools: Sequence[Tool]) -> bool:
    """The study's tool score: `name` fuzzily matches (difflib ratio >= 0.8) a listed tool."""
    if not name:
        return False
    folded = name.strip().casefold()[:200]
    return any(
        difflib.SequenceMatcher(None, folded, tool.name.casefold()).ratio() >= STUDY_TOOL_MIN_RATIO
        for tool in tools
    )


def _study_overall(study_format: bool, study_tool: bool) -> int:
    if study_format and study_tool:
        return 2
    if study_tool:
        return 1
    return 0 if study_format else -1


_PARSE_REASONS = (
    ("unclosed", FailureReason.UNCLOSED_TAG),
    ("not valid JSON", FailureReason.BAD_JSON),
    ("not an object", FailureReason.NOT_AN_OBJECT),
    ('"name"', FailureReason.MISSING_NAME),
    ('"parameters"', FailureReason.MISSING_PARAMETERS),
)


def score_response(text: str, prompt: ToolPrompt) -> Score:
    """Score one response to one prompt. Never raises on any string and never evaluates it."""
    if not isinstance(text, str):
        text = ""
    parsed = parse_tool_call(text)
    study_format = has_tag_and_json_name(text)
    study_tool = study_tool_match(first_json_name(text), prompt.tools)
    base = dict(
        made_call=parsed.has_tag,
        format_ok=parsed.well_formed,
        called_name=parsed.name,
        study_format=study_format,
        study_tool=study_tool,
        study_overall=_study_overall(study_format, study_tool),
        has_tool=prompt.expected is not None,
        n_calls=parsed.n_blocks,
    )
    if prompt.expected is None:
        if parsed.has_tag:
            reason, detail = FailureReason.CALL_ON_NO_TOOL_PROMPT, "no listed tool fits the request"
            return Score(**base, selection_ok=False, arguments_ok=False, full=False,
                         false_call=True, reason=reason, detail=detail)  # fmt: skip
        return Score(**base, selection_ok=False, arguments_ok=False, full=True,
                     false_call=False, reason=None)  # fmt: skip
    failure = dict(selection_ok=False, arguments_ok=False, full=False, false_call=False)
    if not parsed.has_tag:
        return Score(**base, **failure, reason=FailureReason.NO_TAG, detail="no <tool_call> tag")
    if not parsed.well_formed:
        problem = parsed.problem or ""
        reason = next((r for key, r in _PARSE_REASONS if key in problem), FailureReason.BAD_JSON)
        return Score(**base, **failure, reason=reason, detail=problem)
    name = (parsed.name or "").strip()
    listed = {tool.name: tool for tool in prompt.tools}
    if name not in listed:
        detail = f"{name!r:.80} is not one of the listed tools"
        return Score(**base, **failure, reason=FailureReason.UNKNOWN_TOOL, detail=detail)
    if name != prompt.expected.name:
        detail = f"called {name!r}, expected {prompt.expected.name!r}"
        return Score(**base, **failure, reason=FailureReason.WRONG_TOOL, detail=detail)
    expected_args = prompt.expected.arguments
    reason, detail = check_arguments(parsed.parameters or {}, listed[name], expected_args)
    ok = reason is None
    return Score(**base, selection_ok=True, arguments_ok=ok, full=ok, false_call=False,
                 reason=reason, detail=detail)  # fmt: skip


def _rate(count: int, total: int) -> float | None:
    return count / total if total else None


def summarize(scores: Sequence[Score]) -> dict[str, Any]:
    """Counts and rates over many scores; rates are None when their denominator is 0.

    Tool-prompt metrics (full_correctness, format_rate, selection_rate, arguments_rate, the study
    scores) are over prompts with a fitting tool; false_call_rate over no-tool prompts.
    Every rate `x_rate` comes with its numerator and denominator so callers can add intervals.
    """
    tool = [s for s in scores if s.has_tool]
    no_tool = [s for s in scores if not s.has_tool]
    counts = {
        "full_correct": sum(s.full for s in tool),
        "format_ok": sum(s.format_ok for s in tool),
        "selection_ok": sum(s.selection_ok for s in tool),
        "arguments_ok": sum(s.arguments_ok for s in tool),
        "made_call": sum(s.made_call for s in tool),
        "study_format": sum(s.study_format for s in tool),
        "study_tool": sum(s.study_tool for s in tool),
    }
    false_calls = sum(s.false_call for s in no_tool)
    return {
        "n": len(scores),
        "n_tool_prompts": len(tool),
        "n_no_tool_prompts": len(no_tool),
        **{f"n_{key}": value for key, value in counts.items()},
        "n_false_calls": false_calls,
        "full_correctness": _rate(counts["full_correct"], len(tool)),
        "format_rate": _rate(counts["format_ok"], len(tool)),
        "selection_rate": _rate(counts["selection_ok"], len(tool)),
        "arguments_rate": _rate(counts["arguments_ok"], len(tool)),
        "call_rate": _rate(counts["made_call"], len(tool)),
        "false_call_rate": _rate(false_calls, len(no_tool)),
        "overall_full_correctness": _rate(sum(s.full for s in scores), len(scores)),
        "study_format_rate": _rate(counts["study_format"], len(tool)),
        "study_tool_rate": _rate(counts["study_tool"], len(tool)),
        "study_overall_mean": (sum(s.study_overall for s in tool) / len(tool) if tool else None),
        "reasons": dict(Counter(str(s.reason) for s in scores if s.reason is not None)),
    }
