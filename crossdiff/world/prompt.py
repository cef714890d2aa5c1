"""A tool-use prompt, its ToolRL system text, and how it is rendered for a model.

System text layout (METHOD.md §6), parsed back by `parse_system_tools`:

    <INSTRUCTIONS>

    1. Name: get_weather
    Description: Get the current weather in a city.
    Parameters: {"type":"object","properties":{...},"required":[...]}

    2. Name: ...
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from crossdiff.errors import CrossdiffError
from crossdiff.world.schema import Tool, ToolCall

INSTRUCTIONS = (
    "You can use the tools below. To use one, answer with <tool_call> holding JSON with "
    '"name" and "parameters"; if no tool fits, answer with <response>.'
)
SPLITS = ("train", "dev", "test", "test40", "custom")

_TOOL_BLOCK = re.compile(
    r"^(\d+)\. Name: (.+)\nDescription: (.*)\nParameters: (.+)$", flags=re.MULTILINE
)


@dataclass(frozen=True)
class ToolPrompt:
    """One request to the assistant with the numbered tools it may call, and the right call."""

    id: str  # unique, e.g. "test-00007"
    split: str  # "train" | "dev" | "test" | "test40" | "custom"
    tools: tuple[Tool, ...]  # the numbered tool list shown, in order
    user: str  # the user's request
    expected: ToolCall | None  # None: no tool fits, the right answer is prose
    answer: str | None = None  # prose answer for no-tool prompts (reference_response uses it)

    @property
    def has_tool(self) -> bool:
        """True when one of the listed tools fits the request."""
        return self.expected is not None

    def system_text(self) -> str:
        """Return the instructions followed by the numbered tool list (ToolRL layout)."""
        return render_system_text(self.tools)

    def messages(self) -> list[dict[str, str]]:
        """Return chat messages: the system text and the user's request."""
        return [
            {"role": "system", "content": self.system_text()},
            {"role": "user", "content": self.user},
        ]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSONL form: id, split, tools (with JSON schemas), user, expected, answer."""
        data: dict[str, Any] = {
            "id": self.id,
            "split": self.split,
            "tools": [tool.to_dict() for tool in self.tools],
            "user": self.user,
            "expected": None if self.expected is None else self.expected.to_dict(),
        }
        if self.answer is not None:
            data["answer"] = self.answer
        return data

    @staticmethod
    def from_dict(data: dict, where: str = "<dict>") -> ToolPrompt:
        """Build and validate a prompt from its JSONL form; CrossdiffError naming `where`."""
        return prompt_from_dict(data, where)


def render_system_text(tools: tuple[Tool, ...] | list[Tool]) -> str:
    """Return the ToolRL system text for a list of tools."""
    blocks = [
        f"{i}. Name: {tool.name}\nDescription: {tool.description}\n"
        f"Parameters: {tool.compact_schema_text()}"
        for i, tool in enumerate(tools, start=1)
    ]
    return INSTRUCTIONS + "\n\n" + "\n\n".join(blocks)


def parse_system_tools(text: str) -> list[Tool]:
    """Parse the numbered tool list back out of a system text (inverse of render_system_text)."""
    tools = []
    for match in _TOOL_BLOCK.finditer(text):
        schema = json.loads(match.group(4))
        tools.append(Tool.from_json_schema(match.group(2), match.group(3), schema))
    return tools


def render_raw(prompt: ToolPrompt) -> str:
    """Render without a chat template: system text, the user turn, then 'Assistant:'."""
    return prompt.system_text() + "\n\nUser: " + prompt.user + "\nAssistant:"


def render_chat(prompt: ToolPrompt, tokenizer: Any) -> str:
    """Render with the tokenizer's chat template and the generation prompt."""
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise CrossdiffError(
            "render_chat: the tokenizer has no chat template; render with chat_template=False "
            "(raw 'User:/Assistant:' layout) or use a tokenizer that defines one"
        )
    return tokenizer.apply_chat_template(
        prompt.messages(), add_generation_prompt=True, tokenize=False
    )


def render_prompt(prompt: ToolPrompt, tokenizer: Any, chat_template: bool = True) -> str:
    """Render with the chat template when asked (`chat_template=True`), else the raw layout."""
    return render_chat(prompt, tokenizer) if chat_template else render_raw(prompt)


def _require(data: dict, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise CrossdiffError(f"{where}: missing field {key!r}; add it (see ToolPrompt.to_dict)")
    value = data[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise CrossdiffError(
            f"{where}: field {key!r} must be a {names}, got {type(value).__name__}"
        )
    return value


def prompt_from_dict(data: Any, where: str = "<dict>") -> ToolPrompt:
    """Validate the JSONL form of a prompt and build it; every problem is a CrossdiffError."""
    from crossdiff.world.scoring import check_arguments  # scoring imports this module

    if not isinstance(data, dict):
        raise CrossdiffError(f"{where}: a prompt must be a JSON object, got {type(data).__name__}")
    prompt_id = _require(data, "id", str, where)
    split = data.get("split", "custom")
    if split not in SPLITS:
        raise CrossdiffError(f"{where}: field 'split' must be one of {SPLITS}, got {split!r}")
    user = _require(data, "user", str, where)
    raw_tools = _require(data, "tools", list, where)
    if not raw_tools:
        raise CrossdiffError(f"{where}: field 'tools' must list at least one tool")
    tools = []
    for i, raw in enumerate(raw_tools):
        tool_where = f"{where}: tools[{i}]"
        if not isinstance(raw, dict):
            raise CrossdiffError(f"{tool_where} must be an object with name/description/parameters")
        domain = raw.get("domain", "custom")
        if not isinstance(domain, str):
            raise CrossdiffError(f"{tool_where}: 'domain' must be a string")
        tools.append(
            Tool.from_json_schema(
                raw.get("name"),
                raw.get("description", ""),
                raw.get("parameters"),
                domain=domain,
                where=tool_where,
            )
        )
    names = [tool.name for tool in tools]
    if len(set(names)) != len(names):
        raise CrossdiffError(f"{where}: tool names in 'tools' must be unique, got {names}")
    if "expected" not in data:
        raise CrossdiffError(f"{where}: missing field 'expected' (a call object, or null)")
    expected = _expected_from_dict(data["expected"], {t.name: t for t in tools}, where)
    answer = data.get("answer")
    if answer is not None and not isinstance(answer, str):
        raise CrossdiffError(f"{where}: field 'answer' must be a string or absent")
    if expected is not None:
        tool = tools[names.index(expected.name)]
        reason, detail = check_arguments(expected.arguments, tool, None)
        if reason is not None:
            raise CrossdiffError(f"{where}: 'expected' does not fit its tool's schema: {detail}")
    return ToolPrompt(prompt_id, split, tuple(tools), user, expected, answer)


def _expected_from_dict(raw: Any, tools: dict[str, Tool], where: str) -> ToolCall | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise CrossdiffError(
            f"{where}: field 'expected' must be null or {{'name': ..., 'parameters': {{...}}}}"
        )
    name = raw.get("name")
    params = raw.get("parameters", raw.get("arguments"))
    if not isinstance(name, str):
        raise CrossdiffError(f"{where}: 'expected.name' must be a string")
    if not isinstance(params, dict):
        raise CrossdiffError(f"{where}: 'expected.parameters' must be an object")
    if name not in tools:
        raise CrossdiffError(
            f"{where}: expected tool {name!r} is not among the listed tools {sorted(tools)}; "
            "add its definition to 'tools'"
        )
    return ToolCall(name, dict(params))
