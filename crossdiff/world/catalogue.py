"""The tool catalogue: every built-in tool, looked up by name."""

from __future__ import annotations

from crossdiff.errors import CrossdiffError
from crossdiff.world.schema import Tool
from crossdiff.world.tools_core import CORE_SPECS
from crossdiff.world.tools_services import SERVICE_SPECS
from crossdiff.world.toolspec import ToolSpec

SPECS: tuple[ToolSpec, ...] = CORE_SPECS + SERVICE_SPECS
TOOLS: tuple[Tool, ...] = tuple(spec.tool for spec in SPECS)
_SPEC_BY_NAME = {spec.tool.name: spec for spec in SPECS}
DOMAINS: tuple[str, ...] = tuple(dict.fromkeys(tool.domain for tool in TOOLS))


def tool_by_name(name: str) -> Tool:
    """Return the catalogue tool called `name`; CrossdiffError naming it if there is none."""
    return spec_by_name(name).tool


def spec_by_name(name: str) -> ToolSpec:
    """Return the catalogue entry (tool, generators, phrasings) called `name`."""
    try:
        return _SPEC_BY_NAME[name]
    except KeyError:
        raise CrossdiffError(
            f"unknown tool {name!r}; the catalogue has: {', '.join(sorted(_SPEC_BY_NAME))}"
        ) from None
