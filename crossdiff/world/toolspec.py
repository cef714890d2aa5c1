"""How a catalogue tool is declared: its Tool, argument generators and request phrasings.

Phrasing templates use `{param}` slots; a `[...]` segment holding optional slots is kept only when
every slot in it has a value. The last phrasing of every tool is reserved for `test`, the one
before it for `dev`, the rest (at least 3) are `train` phrasings.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from crossdiff.world.pools import DECIMALS, INTS, Pool
from crossdiff.world.schema import Param, Tool

Generator = Callable[[random.Random, str], Any]
ParamSpec = tuple[Param, Generator]

_OPTIONAL_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_SLOT = re.compile(r"\{(\w+)\}")


def render_value(value: Any) -> str:
    """Render an argument value the way it appears in a request (numbers as digits)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(render_value(v) for v in value)
    return json.dumps(value)


def fill_template(template: str, arguments: dict[str, Any]) -> str:
    """Fill `{slot}`s from arguments, keeping a `[...]` segment only if all its slots are given."""

    def keep_segment(match: re.Match[str]) -> str:
        inner = match.group(1)
        return inner if all(s in arguments for s in _SLOT.findall(inner)) else ""

    text = _OPTIONAL_SEGMENT.sub(keep_segment, template)
    return _SLOT.sub(lambda m: render_value(arguments[m.group(1)]), text)


def template_slots(template: str) -> tuple[set[str], set[str]]:
    """Return (slots outside optional segments, slots inside them)."""
    optional = {s for seg in _OPTIONAL_SEGMENT.findall(template) for s in _SLOT.findall(seg)}
    required = set(_SLOT.findall(_OPTIONAL_SEGMENT.sub("", template)))
    return required, optional


@dataclass(frozen=True)
class ToolSpec:
    """A catalogue tool: the Tool, one value generator per parameter, and its phrasings."""

    tool: Tool
    generators: tuple[Generator, ...]
    phrasings: tuple[str, ...]

    def phrasings_for(self, split: str) -> tuple[str, ...]:
        """The phrasings a split may use: last = test, second to last = dev, rest = train."""
        if split in ("test", "test40"):
            return self.phrasings[-1:]
        if split == "dev":
            return self.phrasings[-2:-1]
        return self.phrasings[:-2]

    def draw_arguments(self, rng: random.Random, split: str, optional_p: float = 0.5) -> dict:
        """Draw arguments (each optional one with probability `optional_p`), all values distinct."""
        for _ in range(50):
            arguments = {
                param.name: gen(rng, split)
                for param, gen in zip(self.tool.params, self.generators, strict=True)
                if param.required or rng.random() < optional_p
            }
            shown = [render_value(v).casefold() for v in arguments.values()]
            if len(set(shown)) == len(shown):
                return arguments
        raise RuntimeError(f"could not draw distinct arguments for {self.tool.name}")


def make_spec(
    name: str, domain: str, description: str, params: Sequence[ParamSpec], phrasings: list[str]
) -> ToolSpec:
    """Declare a catalogue tool."""
    tool = Tool(name, domain, description, tuple(p for p, _ in params))
    return ToolSpec(tool, tuple(g for _, g in params), tuple(phrasings))


def string(name: str, description: str, pool: Pool, required: bool = True) -> ParamSpec:
    """A string parameter drawn from a pool."""
    return Param(name, "string", description, required), pool.draw


def enum(name: str, description: str, values: Sequence[str], required: bool = True) -> ParamSpec:
    """A string parameter restricted to `values` (shared by all splits: fixed by the schema)."""
    choices = tuple(values)
    return Param(name, "string", description, required, enum=choices), lambda r, s: r.choice(
        choices
    )


def integer(name: str, description: str, pool: Pool, required: bool = True) -> ParamSpec:
    """An integer parameter drawn from a pool of ints."""
    return Param(name, "integer", description, required), pool.draw


def number(
    name: str, description: str, required: bool = True, pool: Pool | None = None
) -> ParamSpec:
    """A number parameter from `pool`, or by default half ints and half one-decimal floats."""

    def draw(rng: random.Random, split: str) -> Any:
        if pool is not None:
            return pool.draw(rng, split)
        return (INTS if rng.random() < 0.5 else DECIMALS).draw(rng, split)

    return Param(name, "number", description, required), draw


def boolean(name: str, description: str, required: bool = False) -> ParamSpec:
    """A boolean parameter (optional by default), true or false with equal chance."""
    return Param(name, "boolean", description, required), lambda r, s: r.random() < 0.5


def array(
    name: str, description: str, pool: Pool, items_type: str, k: tuple[int, int] = (2, 4)
) -> ParamSpec:
    """A required array parameter of `k[0]..k[1]` distinct pool values."""

    def draw(rng: random.Random, split: str) -> list[Any]:
        return pool.draw_many(rng, split, rng.randint(*k))

    return Param(name, "array", description, True, items_type=items_type), draw
