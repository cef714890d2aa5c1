"""A KV cache for decode loops that writes each new token in place instead of re-concatenating.

`transformers`' `DynamicLayer` grows its keys and values with `torch.cat`, which copies the whole
cache on every generated token: for a batch of long prompts that copy, not the model, is most of
a decode step's time on a CPU. `ReservedLayer` keeps spare room after the filled part and writes
new positions into it; the keys and values it hands to attention are views of the filled part,
so attention sees exactly the tensors a `DynamicLayer` would hold.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer


class ReservedLayer(DynamicLayer):
    """A `DynamicLayer` whose keys and values live in a buffer with `reserve` spare positions.

    When the buffer is full it is reallocated with room to spare (at least double), so a decode
    loop copies the cache O(log n) times instead of once per token. If anything replaces the
    layer's tensors from outside (`batch_repeat_interleave`, `batch_select_indices`, `crop`), the
    next `update` notices and moves the new tensors into a fresh buffer.
    """

    def __init__(self, reserve: int = 64) -> None:
        super().__init__()
        self.reserve = reserve
        self._key_buffer: torch.Tensor | None = None
        self._value_buffer: torch.Tensor | None = None

    def _can_write(self, key_states: torch.Tensor, held: int, end: int) -> bool:
        """True when the buffer has room up to `end` and holds the current tensors (if any)."""
        buffer = self._key_buffer
        if buffer is None or end > buffer.shape[-2] or buffer.shape[:2] != key_states.shape[:2]:
            return False
        if held == 0:
            return True
        return self.keys.data_ptr() == buffer.data_ptr() and self.keys.stride() == buffer.stride()

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write the new positions after the held ones; return views of everything held."""
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        held = self.keys.shape[-2] if self.keys.numel() > 0 else 0
        end = held + key_states.shape[-2]
        if not self._can_write(key_states, held, end):
            capacity = max(end + self.reserve, 2 * held)
            self._key_buffer = _buffer_like(key_states, capacity)
            self._value_buffer = _buffer_like(value_states, capacity)
            if held:
                self._key_buffer[:, :, :held] = self.keys
                self._value_buffer[:, :, :held] = self.values
        assert self._key_buffer is not None and self._value_buffer is not None
        self._key_buffer[:, :, held:end] = key_states
        self._value_buffer[:, :, held:end] = value_states
        self.keys = self._key_buffer[:, :, :end]
        self.values = self._value_buffer[:, :, :end]
        return self.keys, self.values


def _buffer_like(states: torch.Tensor, capacity: int) -> torch.Tensor:
    batch, heads, _, head_dim = states.shape
    return states.new_empty((batch, heads, capacity, head_dim))


def reserved_cache(config: Any, reserve: int = 64) -> DynamicCache:
    """A `DynamicCache` for `config` whose full-attention layers are `ReservedLayer`s.

    Sliding-window and other special layers keep the type `transformers` chooses for them.
    `reserve` is the spare room after the prompt: the number of new tokens that fit before the
    first reallocation.
    """
    cache = DynamicCache(config=config)
    make_layer = functools.partial(ReservedLayer, reserve)
    if not cache.layers:
        cache.layer_class_to_replicate = make_layer
    cache.layers = [
        make_layer() if type(layer) is DynamicLayer else layer for layer in cache.layers
    ]
    return cache
