"""The one intervention mechanism: forward hooks on the edited model, the other model in lockstep.

`intervene(...)` installs two hooks on the edited model and removes them on exit:
- a pre-hook on the model itself reads each forward call's token ids, attention mask, position
  ids and cache, decides the phase (prefill when the cache is empty, else decode) and which
  columns the policy edits, and, when the edit encodes, runs the other model on the same ids with
  its own KV cache, stopping at the hook point (layers after it are never needed); under the
  prefill-only policies the other model's rows come from a `PromptActivationCache` when the same
  prompt batch was seen before (another condition or sample);
- a hook at the hook point replaces the selected rows by `PreparedEdit.apply(h_edit, h_other)`.

So any generation loop that calls the model with `input_ids`, `attention_mask` and a cache
(`crossdiff.evals.generate`, or `transformers`' own `generate`) runs under the intervention,
batched, with left padding and the KV cache. The loop must keep every row of the batch in every
step.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from transformers import PreTrainedModel

from crossdiff.errors import CrossdiffError
from crossdiff.evals.dictionaries import Dictionary
from crossdiff.evals.interventions import Intervention, PreparedEdit
from crossdiff.evals.kv_cache import reserved_cache
from crossdiff.evals.positions import Phase, edit_mask
from crossdiff.evals.prompt_cache import PromptActivationCache
from crossdiff.models.capture import forward_to_hook
from crossdiff.models.hookpoints import (
    HookPoint,
    get_module,
    hidden_from_inputs,
    hidden_from_output,
    replace_hidden_in_inputs,
    replace_hidden_in_output,
    resolve_hook_point,
)


def hidden_width(model: PreTrainedModel) -> int:
    """The model's residual-stream width (hidden size): the width of a resid_* hook point."""
    config = model.config
    for name in ("hidden_size", "n_embd", "d_model"):
        value = getattr(config, name, None)
        if isinstance(value, int):
            return value
    get_text_config = getattr(config, "get_text_config", None)
    if get_text_config is not None:
        return int(get_text_config().hidden_size)
    raise CrossdiffError(
        f"cannot read the hidden size of {type(model).__name__} (no hidden_size in its config)"
    )


def _cache_keyword(model: PreTrainedModel) -> str:
    parameters = inspect.signature(model.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def _input_ids(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Tensor:
    input_ids = kwargs.get("input_ids", args[0] if args else None)
    if not isinstance(input_ids, Tensor):
        raise CrossdiffError(
            "interventions need token ids: call the model with input_ids (not inputs_embeds)"
        )
    return input_ids


def _cache_length(cache: Any) -> int:
    if cache is None:
        return 0
    if hasattr(cache, "get_seq_length"):
        return int(cache.get_seq_length())
    raise CrossdiffError(
        f"unsupported cache type {type(cache).__name__}: use a transformers Cache (DynamicCache)"
    )


def _new_calls() -> dict[str, int]:
    return {"prefill": 0, "decode": 0, "other": 0, "other_cached": 0}


@dataclass
class _StepState:
    mask_BT: Tensor | None = None
    rows_other_ND: Tensor | None = None
    other_cache: Any = None
    calls: dict[str, int] = field(default_factory=_new_calls)


class _LockstepIntervention:
    """The hooks' shared state and the two hook functions."""

    def __init__(
        self,
        edited: PreparedEdit,
        model: PreTrainedModel,
        other: PreTrainedModel | None,
        point: HookPoint,
        other_point: HookPoint | None,
        skip_token_ids: frozenset[int],
        prompt_cache: PromptActivationCache,
    ) -> None:
        self.edited = edited
        self.other = other
        self.point = point
        self.other_point = other_point
        self.skip_token_ids = skip_token_ids
        self.prompt_cache = prompt_cache
        self.cache_key = _cache_keyword(model)
        self.other_cache_key = _cache_keyword(other) if other is not None else "cache"
        self.state = _StepState()

    def before_forward(self, module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        input_ids = _input_ids(args, kwargs)
        cache = kwargs.get(self.cache_key, kwargs.get("past_key_values", kwargs.get("cache")))
        phase: Phase = "prefill" if _cache_length(cache) == 0 else "decode"
        self.state.calls[phase] += 1
        attention_mask = kwargs.get("attention_mask")
        policy = self.edited.intervention.policy
        mask = edit_mask(policy, phase, input_ids, attention_mask, self.skip_token_ids)
        self.state.mask_BT = mask
        self.state.rows_other_ND = None
        if mask is None or not self.edited.intervention.needs_other_model:
            return
        assert self.other is not None and self.other_point is not None
        if policy == "all":
            # The other model runs in lockstep on every token, so it keeps its own KV cache.
            if phase == "prefill":
                self.state.other_cache = reserved_cache(self.other.config)
            self.state.rows_other_ND = self._run_other(input_ids, kwargs)[mask]
            return
        # Prefill-only policies: the other model's rows depend only on the prompt batch, so they
        # are shared by every condition and sample evaluated on the same prompts.
        self.state.other_cache = None
        inputs = (input_ids, attention_mask, kwargs.get("position_ids"), mask)
        before = self.state.calls["other"]
        self.state.rows_other_ND = self.prompt_cache.rows(
            self.other,
            self.other_point.name,
            inputs,
            lambda: self._run_other(input_ids, kwargs)[mask],
        )
        if self.state.calls["other"] == before:
            self.state.calls["other_cached"] += 1

    def _run_other(self, input_ids: Tensor, kwargs: dict) -> Tensor:
        assert self.other is not None and self.other_point is not None
        self.state.calls["other"] += 1
        return forward_to_hook(
            self.other,
            self.other_point,
            input_ids,
            kwargs.get("attention_mask"),
            position_ids=kwargs.get("position_ids"),
            cache=self.state.other_cache,
            cache_keyword=self.other_cache_key,
        )

    def _edit(self, hidden_BTD: Tensor) -> Tensor:
        mask = self.state.mask_BT
        if mask is None or not bool(mask.any()):
            return hidden_BTD
        if mask.shape != hidden_BTD.shape[:2]:
            raise CrossdiffError(
                f"hook point {self.point.name} carries shape {tuple(hidden_BTD.shape)}, expected "
                f"(batch, tokens) = {tuple(mask.shape)} in front: hook a residual-stream module"
            )
        edited_rows = self.edited.apply(hidden_BTD[mask], self.state.rows_other_ND)
        result = hidden_BTD.clone()
        result[mask] = edited_rows
        return result

    def on_output(self, module: torch.nn.Module, args: tuple, output: Any) -> Any:
        return replace_hidden_in_output(output, self._edit(hidden_from_output(output)))

    def on_input(self, module: torch.nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        return replace_hidden_in_inputs(args, kwargs, self._edit(hidden_from_inputs(args, kwargs)))


@dataclass
class InterventionRun:
    """What `intervene` yields: the model to generate with, and per-run call counts."""

    model: PreTrainedModel
    intervention: Intervention
    calls: dict[str, int]


@contextlib.contextmanager
def intervene(
    models: tuple[PreTrainedModel, PreTrainedModel],
    hook_point: str | None,
    intervention: Intervention,
    dictionary: Dictionary | None = None,
    skip_token_ids: frozenset[int] = frozenset(),
    hook_point_b: str | None = None,
    prompt_cache: PromptActivationCache | None = None,
) -> Iterator[InterventionRun]:
    """Install `intervention` on models[intervention.model] (0 = A, 1 = B) for the `with` block.

    `hook_point` names the hook point of both models unless model B's differs (`hook_point_b`).
    `prompt_cache` keeps the other model's prompt activations (prefill-only policies) across
    `intervene` calls, e.g. every condition evaluated on the same prompts; without one, a fresh
    cache serves this block only (so repeated samples of the same prompts still share them).

    Checks everything (hook point on both models, dictionary widths, feature indices) before
    installing anything, so bad input fails before generation starts. Generate with the yielded
    `run.model`. The "none" edit installs nothing and needs no hook point.
    """
    model = models[intervention.model]
    calls = _new_calls()
    if intervention.edit == "none":
        yield InterventionRun(model=model, intervention=intervention, calls=calls)
        return
    if not hook_point:
        raise CrossdiffError(
            f"the {intervention.edit} edit needs a hook point (e.g. resid_post.13)"
        )
    other = models[1 - intervention.model]
    names = (hook_point, hook_point_b or hook_point)
    point = resolve_hook_point(model, names[intervention.model])
    other_point = resolve_hook_point(other, names[1 - intervention.model])
    widths = (hidden_width(models[0]), hidden_width(models[1]))
    edit = PreparedEdit(intervention, dictionary, widths)
    uses_other = intervention.needs_other_model
    hooks = _LockstepIntervention(
        edit,
        model,
        other if uses_other else None,
        point,
        other_point if uses_other else None,
        skip_token_ids,
        prompt_cache if prompt_cache is not None else PromptActivationCache(),
    )
    target = get_module(model, point.module_path)
    handles = [model.register_forward_pre_hook(hooks.before_forward, with_kwargs=True)]
    if point.kind == "output":
        handles.append(target.register_forward_hook(hooks.on_output))
    else:
        handles.append(target.register_forward_pre_hook(hooks.on_input, with_kwargs=True))
    try:
        yield InterventionRun(model=model, intervention=intervention, calls=hooks.state.calls)
    finally:
        for handle in handles:
            handle.remove()
