"""Typed results to JSON and back: one generic converter for every result dataclass.

Results are frozen dataclasses whose fields are plain values, lists, tuples, dicts with string
keys, optionals, or other dataclasses (including the statistics module's `RateInterval`,
`DifferenceInterval` and `FlipTable`). `to_json` writes them with a `kind` tag; `from_json`
rebuilds the same types, so a report can be built from files written by an earlier run.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from crossdiff.errors import CrossdiffError
from crossdiff.files import read_json, write_json_atomic

T = TypeVar("T")


def to_plain(value: Any) -> Any:
    """A JSON-able copy of `value` (dataclasses become dicts; NaN/inf become None)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _build(kind: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    if kind is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _build(options[0], value, where)
        for option in options:
            try:
                return _build(option, value, where)
            except (CrossdiffError, TypeError, ValueError):
                continue
        raise CrossdiffError(f"{where}: value {value!r} matches none of {options}")
    if origin is typing.Literal:
        if value not in args:
            raise CrossdiffError(f"{where}: expected one of {args}, got {value!r}")
        return value
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise CrossdiffError(f"{where}: expected an object for {kind.__name__}")
        return from_plain(kind, value, where)
    if origin in (list, tuple) or kind in (list, tuple):
        if not isinstance(value, list):
            raise CrossdiffError(f"{where}: expected a list, got {type(value).__name__}")
        item = args[0] if args else Any
        items = [_build(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if (origin or kind) is tuple else items
    if origin is dict or kind is dict:
        if not isinstance(value, dict):
            raise CrossdiffError(f"{where}: expected an object, got {type(value).__name__}")
        item = args[1] if len(args) == 2 else Any
        return {k: _build(item, v, f"{where}.{k}") for k, v in value.items()}
    if kind is float:
        if value is None:
            return math.nan
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CrossdiffError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if kind in (int, str, bool) and not isinstance(value, kind):
        raise CrossdiffError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value


def from_plain(cls: type[T], data: dict[str, Any], where: str = "result") -> T:
    """Rebuild dataclass `cls` from its `to_plain` form; CrossdiffError naming a bad field."""
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
                continue
            raise CrossdiffError(f"{where}: missing field {f.name!r}")
        values[f.name] = _build(hints[f.name], data[f.name], f"{where}.{f.name}")
    return cls(**values)


def save_result(result: Any, path: str | Path) -> None:
    """Write a result dataclass as JSON, tagged with its type name, atomically."""
    write_json_atomic(path, {"kind": type(result).__name__, "result": to_plain(result)})


def load_result(cls: type[T], path: str | Path) -> T:
    """Read a result written by `save_result`, checking that it is a `cls`."""
    data = read_json(path, f"{cls.__name__} result")
    if not isinstance(data, dict) or data.get("kind") != cls.__name__:
        raise CrossdiffError(f"{path}: not a {cls.__name__} result (kind={data.get('kind')!r})")
    return from_plain(cls, data["result"], str(path))
