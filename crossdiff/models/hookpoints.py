"""Hook points: where in a model a residual-stream vector is read (and, for interventions, edited).

A hook point is named `resid_post.L` (the output of decoder layer L, i.e. `hidden_states[L + 1]`
of `output_hidden_states`), `resid_pre.L` (the input of decoder layer L, `hidden_states[L]`) or
`module:<dotted.path>[:output|:input]` for any module of any model. Decoder layers are found through
a small registry of architectures; every other model is reached by an explicit module path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from crossdiff.errors import CrossdiffError

# model_type -> path of the decoder-layer ModuleList relative to the model's base model.
DECODER_LAYERS_BY_MODEL_TYPE: dict[str, str] = {
    "qwen2": "layers",
    "qwen3": "layers",
    "llama": "layers",
    "mistral": "layers",
    "mixtral": "layers",
    "gemma": "layers",
    "gemma2": "layers",
    "phi3": "layers",
    "gpt2": "h",
    "gpt_neox": "layers",
}

HookKind = Literal["output", "input"]
_RESID_NAME = re.compile(r"^resid_(post|pre)\.(-?\d+)$")


@dataclass(frozen=True)
class HookPoint:
    """A resolved hook point of one model.

    `name` is what the user asked for, `module_path` the dotted path (from the top-level model) of
    the module whose output (`kind="output"`) or first input (`kind="input"`) is the vector, and
    `layer` the decoder-layer index when the hook point is a residual-stream position.
    """

    name: str
    module_path: str
    kind: HookKind
    layer: int | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return {
            "name": self.name,
            "module_path": self.module_path,
            "kind": self.kind,
            "layer": self.layer,
        }


def _model_type(model: torch.nn.Module) -> str:
    config = getattr(model, "config", None)
    return str(getattr(config, "model_type", type(model).__name__))


def _naming_help(model: torch.nn.Module) -> str:
    lists = [n for n, m in model.named_modules() if isinstance(m, torch.nn.ModuleList) and n]
    found = f" Module lists in this model: {', '.join(lists[:8])}." if lists else ""
    return (
        "Name the module explicitly instead, e.g. 'module:model.layers.13' (its output) or "
        f"'module:model.layers.13:input' (its first input).{found}"
    )


def get_module(model: torch.nn.Module, module_path: str) -> torch.nn.Module:
    """Return the submodule of `model` at a dotted path ('' is the model itself)."""
    if module_path == "":
        return model
    try:
        return model.get_submodule(module_path)
    except AttributeError as exc:
        raise CrossdiffError(
            f"module '{module_path}' not found in {type(model).__name__}: {exc}. "
            + _naming_help(model)
        ) from exc


def _base_model_prefix(model: torch.nn.Module) -> str:
    """Dotted path from `model` to its base model ('' when `model` is the base model)."""
    base = getattr(model, "base_model", model)
    if base is model:
        return ""
    for name, module in model.named_modules():
        if module is base:
            return name
    return ""


def decoder_layers_path(model: torch.nn.Module) -> str:
    """Dotted path (from the top-level model) of the decoder-layer ModuleList."""
    model_type = _model_type(model)
    relative = DECODER_LAYERS_BY_MODEL_TYPE.get(model_type)
    if relative is None:
        supported = ", ".join(sorted(DECODER_LAYERS_BY_MODEL_TYPE))
        raise CrossdiffError(
            f"architecture '{model_type}' ({type(model).__name__}) has no built-in hook points "
            f"(resid_post.L / resid_pre.L are known for: {supported}). " + _naming_help(model)
        )
    prefix = _base_model_prefix(model)
    return f"{prefix}.{relative}" if prefix else relative


def decoder_layers(model: torch.nn.Module) -> torch.nn.ModuleList:
    """Return the ModuleList of decoder layers of a supported architecture."""
    layers = get_module(model, decoder_layers_path(model))
    if not isinstance(layers, torch.nn.ModuleList):
        raise CrossdiffError(
            f"expected a ModuleList of decoder layers at '{decoder_layers_path(model)}' in "
            f"{type(model).__name__}, found {type(layers).__name__}. " + _naming_help(model)
        )
    return layers


def resolve_hook_point(model: torch.nn.Module, name: str) -> HookPoint:
    """Resolve a hook-point name ('resid_post.13', 'resid_pre.0', 'module:a.b[:input]')."""
    name = name.strip()
    if name.startswith("module:"):
        spec = name[len("module:") :]
        path, _, kind = spec.partition(":")
        kind = kind or "output"
        if kind not in ("output", "input"):
            raise CrossdiffError(
                f"hook point '{name}': the part after the module path must be ':output' or "
                f"':input', got ':{kind}'"
            )
        get_module(model, path)
        layer = _layer_of_path(model, path)
        return HookPoint(name=name, module_path=path, kind=kind, layer=layer)  # type: ignore[arg-type]
    match = _RESID_NAME.match(name)
    if match is None:
        raise CrossdiffError(
            f"unknown hook point '{name}': expected 'resid_post.L' (output of decoder layer L), "
            "'resid_pre.L' (input of decoder layer L) or 'module:<dotted.path>[:output|:input]'"
        )
    where, layer = match.group(1), int(match.group(2))
    layers = decoder_layers(model)
    if not 0 <= layer < len(layers):
        raise CrossdiffError(
            f"hook point '{name}': layer {layer} is out of range, {type(model).__name__} has "
            f"{len(layers)} decoder layers (0..{len(layers) - 1})"
        )
    kind: HookKind = "output" if where == "post" else "input"
    return HookPoint(
        name=name, module_path=f"{decoder_layers_path(model)}.{layer}", kind=kind, layer=layer
    )


def _layer_of_path(model: torch.nn.Module, path: str) -> int | None:
    """The decoder-layer index when `path` names a decoder layer, else None."""
    try:
        prefix = decoder_layers_path(model) + "."
    except CrossdiffError:
        return None
    rest = path[len(prefix) :] if path.startswith(prefix) else ""
    return int(rest) if rest.isdigit() else None


def hidden_from_output(output: Any) -> Tensor:
    """The hidden-state tensor of a module's output: a Tensor, or the first item of a tuple."""
    if isinstance(output, Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], Tensor):
        return output[0]
    raise CrossdiffError(
        f"cannot find a hidden-state tensor in a module output of type {type(output).__name__}: "
        "hook a module that returns a Tensor or a tuple whose first item is one"
    )


def replace_hidden_in_output(output: Any, hidden: Tensor) -> Any:
    """Return `output` with its hidden-state tensor replaced by `hidden` (same structure)."""
    if isinstance(output, Tensor):
        return hidden
    if isinstance(output, tuple):
        hidden_from_output(output)
        return (hidden, *output[1:])
    if isinstance(output, list):
        hidden_from_output(output)
        return [hidden, *output[1:]]
    return hidden_from_output(output)  # raises the explanatory error


def hidden_from_inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Tensor:
    """The hidden-state tensor a module receives: first positional argument or `hidden_states`."""
    if args and isinstance(args[0], Tensor):
        return args[0]
    value = kwargs.get("hidden_states")
    if isinstance(value, Tensor):
        return value
    raise CrossdiffError(
        "cannot find the hidden-state input of the hooked module (no tensor as first argument "
        "and no 'hidden_states' keyword): hook its output instead"
    )


def replace_hidden_in_inputs(
    args: tuple[Any, ...], kwargs: dict[str, Any], hidden: Tensor
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Return (args, kwargs) with the hidden-state input replaced by `hidden`."""
    if args and isinstance(args[0], Tensor):
        return (hidden, *args[1:]), kwargs
    hidden_from_inputs(args, kwargs)
    return args, {**kwargs, "hidden_states": hidden}
