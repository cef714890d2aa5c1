"""The synthetic tool-use world: tools, prompts and splits, rendering, and the one scorer.

Everything other stages need is importable from here; see the modules for the rules:
catalogue (tools), splits (prompt splits), scoring (the scorer), general_text (prose corpus).
"""

from crossdiff.world.catalogue import DOMAINS, SPECS, TOOLS, spec_by_name, tool_by_name
from crossdiff.world.general_text import general_texts
from crossdiff.world.jsonl import load_prompts_jsonl, save_prompts_jsonl
from crossdiff.world.parsing import ParsedCall, parse_tool_call
from crossdiff.world.prompt import (
    INSTRUCTIONS,
    ToolPrompt,
    parse_system_tools,
    render_chat,
    render_prompt,
    render_raw,
    render_system_text,
)
from crossdiff.world.responses import reference_response, stalling_response
from crossdiff.world.schema import Param, TextSpan, Tool, ToolCall
from crossdiff.world.scoring import (
    FailureReason,
    Score,
    check_arguments,
    score_response,
    summarize,
)
from crossdiff.world.splits import (
    NO_TOOL_SHARE,
    SPLIT_SIZES,
    load_split,
    with_its_tool_unlisted,
)

__all__ = [
    "DOMAINS",
    "INSTRUCTIONS",
    "NO_TOOL_SHARE",
    "SPECS",
    "SPLIT_SIZES",
    "TOOLS",
    "FailureReason",
    "Param",
    "ParsedCall",
    "Score",
    "TextSpan",
    "Tool",
    "ToolCall",
    "ToolPrompt",
    "check_arguments",
    "general_texts",
    "load_prompts_jsonl",
    "load_split",
    "parse_system_tools",
    "parse_tool_call",
    "reference_response",
    "render_chat",
    "render_prompt",
    "render_raw",
    "render_system_text",
    "save_prompts_jsonl",
    "score_response",
    "spec_by_name",
    "stalling_response",
    "summarize",
    "tool_by_name",
    "with_its_tool_unlisted",
]
