"""Tools, their parameters and tool calls: the world's small value types and their JSON schemas.

A `Tool` renders to a JSON-schema object (`json_schema`) and is rebuilt from one
(`Tool.from_json_schema`), so prompts loaded from JSONL can carry their own tool definitions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from crossdiff.errors import CrossdiffError

ParamType = Literal["string", "integer", "number", "boolean", "array"]
PARAM_TYPES: tuple[str, ...] = ("string", "integer", "number", "boolean", "array")
ITEM_TYPES: tuple[str, ...] = ("string", "integer", "number")


@dataclass(frozen=True)
class Param:
    """One parameter of a tool: a name, a JSON-schema type and whether it must be given."""

    name: str
    type: ParamType
    description: str
    required: bool = True
    enum: tuple[str, ...] | None = None  # only for type "string"
    items_type: str | None = None  # for "array": "string" | "integer" | "number"

    def __post_init__(self) -> None:
        if self.type not in PARAM_TYPES:
            raise CrossdiffError(
                f"parameter {self.name!r}: type must be one of {PARAM_TYPES}, got {self.type!r}"
            )
        if self.enum is not None and (self.type != "string" or not self.enum):
            raise CrossdiffError(
                f"parameter {self.name!r}: enum must be a non-empty list and needs type 'string'"
            )
        if (self.type == "array") != (self.items_type is not None):
            raise CrossdiffError(
                f"parameter {self.name!r}: an 'array' needs items.type in {ITEM_TYPES}, "
                "and only arrays have items"
            )
        if self.items_type is not None and self.items_type not in ITEM_TYPES:
            raise CrossdiffError(
                f"parameter {self.name!r}: items.type must be one of {ITEM_TYPES}, "
                f"got {self.items_type!r}"
            )

    def property_schema(self, with_description: bool = True) -> dict[str, Any]:
        """Return this parameter's JSON-schema property (type, enum, items, description)."""
        schema: dict[str, Any] = {"type": self.type}
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        if self.items_type is not None:
            schema["items"] = {"type": self.items_type}
        if with_description and self.description:
            schema["description"] = self.description
        return schema


@dataclass(frozen=True)
class Tool:
    """A callable tool: snake_case name, domain, one-sentence description and parameters."""

    name: str
    domain: str
    description: str
    params: tuple[Param, ...]

    def json_schema(self, with_descriptions: bool = True) -> dict[str, Any]:
        """Return the parameters as a JSON-schema object: type, properties, required."""
        return {
            "type": "object",
            "properties": {p.name: p.property_schema(with_descriptions) for p in self.params},
            "required": [p.name for p in self.params if p.required],
        }

    def compact_schema_text(self) -> str:
        """Return the schema as compact JSON without per-parameter descriptions (for prompts)."""
        return json.dumps(self.json_schema(with_descriptions=False), separators=(",", ":"))

    def param(self, name: str) -> Param | None:
        """Return the parameter called `name`, or None."""
        for candidate in self.params:
            if candidate.name == name:
                return candidate
        return None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form used in prompt files: name, domain, description, parameters."""
        return {
            "name": self.name,
            "domain": self.domain,
            "description": self.description,
            "parameters": self.json_schema(with_descriptions=True),
        }

    @staticmethod
    def from_json_schema(
        name: str, description: str, schema: Any, domain: str = "custom", where: str = "<tool>"
    ) -> Tool:
        """Build a Tool from a JSON-schema parameters object; CrossdiffError naming `where`."""
        if not isinstance(name, str) or not name.strip():
            raise CrossdiffError(f"{where}: tool 'name' must be a non-empty string, got {name!r}")
        if not isinstance(description, str):
            raise CrossdiffError(f"{where}: tool {name!r} 'description' must be a string")
        if not isinstance(schema, dict) or schema.get("type", "object") != "object":
            raise CrossdiffError(
                f"{where}: tool {name!r} 'parameters' must be a JSON-schema object "
                '({"type": "object", "properties": {...}, "required": [...]})'
            )
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        if not isinstance(properties, dict):
            raise CrossdiffError(f"{where}: tool {name!r} 'properties' must be an object")
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            raise CrossdiffError(f"{where}: tool {name!r} 'required' must be a list of names")
        unknown = [r for r in required if r not in properties]
        if unknown:
            raise CrossdiffError(
                f"{where}: tool {name!r} lists required parameters {unknown} that are not in "
                "'properties'; add them to 'properties' or remove them from 'required'"
            )
        params = [
            _param_from_property(pname, prop, pname in required, f"{where}: tool {name!r}")
            for pname, prop in properties.items()
        ]
        return Tool(name=name, domain=domain, description=description, params=tuple(params))


def _param_from_property(name: str, prop: Any, required: bool, where: str) -> Param:
    """Build one Param from a JSON-schema property; CrossdiffError on anything unsupported."""
    if not isinstance(prop, dict):
        raise CrossdiffError(f"{where}: parameter {name!r} must be an object with a 'type'")
    ptype = prop.get("type")
    if ptype not in PARAM_TYPES:
        raise CrossdiffError(
            f"{where}: parameter {name!r} has type {ptype!r}; expected one of {PARAM_TYPES}"
        )
    enum = prop.get("enum")
    if enum is not None and (
        not isinstance(enum, list) or not enum or not all(isinstance(e, str) for e in enum)
    ):
        raise CrossdiffError(f"{where}: parameter {name!r} 'enum' must be a list of strings")
    items = prop.get("items")
    items_type = None
    if ptype == "array":
        if not isinstance(items, dict) or items.get("type") not in ITEM_TYPES:
            raise CrossdiffError(
                f"{where}: array parameter {name!r} needs 'items': {{'type': one of {ITEM_TYPES}}}"
            )
        items_type = items["type"]
    description = prop.get("description", "")
    if not isinstance(description, str):
        raise CrossdiffError(f"{where}: parameter {name!r} 'description' must be a string")
    try:
        return Param(
            name=name,
            type=ptype,
            description=description,
            required=required,
            enum=tuple(enum) if enum is not None else None,
            items_type=items_type,
        )
    except CrossdiffError as exc:
        raise CrossdiffError(f"{where}: {exc}") from None


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class TextSpan:
    """Characters [start, end) of a text, and what they are."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True)
class ToolCall:
    """A call of one tool with JSON arguments, as the assistant should write it."""

    name: str
    arguments: dict[str, Any]

    def to_text(self) -> str:
        """Return the ToolRL block: <tool_call>, newline, the JSON call, newline, </tool_call>."""
        return self.text_with_spans()[0]

    def text_with_spans(self) -> tuple[str, list[TextSpan]]:
        """`to_text()` and the character spans of what a model must get right in it: the tool
        name, each parameter name, each value (a string's characters inside its quotes; each
        element of an array on its own), in text order.

        The JSON is `json.dumps({"name": ..., "parameters": ...})` with its default separators,
        built here piece by piece so that the spans are known.
        """
        pieces: list[str] = ["<tool_call>\n{", '"name": ']
        spans: list[TextSpan] = []
        length = sum(len(p) for p in pieces)

        def add(text: str, kind: str | None = None) -> None:
            nonlocal length
            if kind is not None:
                quoted = text.startswith('"')  # a string: the span is inside the quotes
                start = length + quoted
                spans.append(TextSpan(start, length + len(text) - quoted, kind))
            pieces.append(text)
            length += len(text)

        add(_dumps(self.name), "tool_name")
        add(', "parameters": {')
        for index, (key, value) in enumerate(self.arguments.items()):
            add(", " if index else "")
            add(_dumps(key), "parameter_name")
            add(": ")
            if isinstance(value, list):
                add("[")
                for position, item in enumerate(value):
                    add(", " if position else "")
                    add(_dumps(item), "value")
                add("]")
            else:
                add(_dumps(value), "value")
        add("}}\n</tool_call>")
        return "".join(pieces), spans

    def __hash__(self) -> int:
        """Hash by content, so prompts holding calls can live in sets and dict keys."""
        return hash((self.name, json.dumps(self.arguments, sort_keys=True, default=str)))

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form used in prompt files: {"name": ..., "parameters": {...}}."""
        return {"name": self.name, "parameters": dict(self.arguments)}
