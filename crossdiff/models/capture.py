"""Read the vector at a hook point, stopping the forward pass right after it.

Why an exception rather than running the layers by hand: running decoder layers manually means
re-creating each architecture's attention masks, rotary embeddings, embedding scaling and position
handling, which differ across architectures and transformers versions. A forward hook that stores
the hidden state and raises a private exception works for every architecture and every module
path, runs exactly the model's own code up to the hook point, and costs nothing afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from crossdiff.models.hookpoints import (
    HookPoint,
    get_module,
    hidden_from_inputs,
    hidden_from_output,
)


class _StopForward(Exception):
    """Raised inside a hook to end the forward pass once the hook point has been read."""


class Capture:
    """Holds the tensor read at a hook point during one forward pass."""

    def __init__(self) -> None:
        self.hidden: Tensor | None = None


@contextlib.contextmanager
def capture_hook(model: torch.nn.Module, hook: HookPoint, stop: bool) -> Iterator[Capture]:
    """Register a hook storing the hook point's tensor in the yielded Capture.

    With `stop=True` the hook ends the forward pass right after storing the tensor; the caller must
    run the model through `forward_to_hook`, which swallows the private stop signal.
    """
    module = get_module(model, hook.module_path)
    capture = Capture()

    def on_output(_module: torch.nn.Module, _args: Any, output: Any) -> None:
        capture.hidden = hidden_from_output(output)
        if stop:
            raise _StopForward

    def on_input(_module: torch.nn.Module, args: Any, kwargs: dict[str, Any]) -> None:
        capture.hidden = hidden_from_inputs(args, kwargs)
        if stop:
            raise _StopForward

    if hook.kind == "output":
        handle = module.register_forward_hook(on_output)
    else:
        handle = module.register_forward_pre_hook(on_input, with_kwargs=True)
    try:
        yield capture
    finally:
        handle.remove()


def forward_to_hook(
    model: torch.nn.Module,
    hook: HookPoint,
    input_ids: Tensor,
    attention_mask: Tensor,
    position_ids: Tensor | None = None,
    cache: Any = None,
    cache_keyword: str = "cache",
) -> Tensor:
    """Run `model` on a padded batch only as far as `hook`; return its tensor (batch, seq, d).

    `position_ids` is passed only when given (left-padded batches need it so that absolute
    position embeddings see the same positions as an unpadded text). With a `cache` (a
    transformers Cache, passed as `cache_keyword`), the call extends it, so the model can run in
    lockstep with a generation loop; layers after the hook point are never cached nor needed.
    """
    kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
    if position_ids is not None:
        kwargs["position_ids"] = position_ids
    if cache is not None:
        kwargs[cache_keyword] = cache
    with (
        torch.inference_mode(),
        capture_hook(model, hook, stop=True) as capture,
        contextlib.suppress(_StopForward),
    ):
        model(**kwargs, use_cache=cache is not None)
    if capture.hidden is None:
        raise RuntimeError(f"hook point {hook.name} at '{hook.module_path}' was never reached")
    return capture.hidden
