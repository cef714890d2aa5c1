"""The other model's hook-point activations on a prompt batch, kept across conditions and samples.

Encoding at the edited model's hook point needs the other model's activations at the same tokens.
Under the prefill-only policies (`last_prompt_token`, `prompt`) those come from one forward of the
other model over the prompt batch, and that forward is the same for every condition evaluated on
the same prompts (splice, steer at every α, ablate, control, ...) and for every sample of a prompt:
it depends only on the other model, its hook point and the exact inputs. `PromptActivationCache`
keeps the rows the edit reads (the edit mask's rows, not the whole batch) under a key made of
exactly those inputs, so a hit returns bit-for-bit what the forward would have computed.

The cache assumes the models' weights do not change while it is in use (evaluation, not training);
entries are dropped when their model is garbage-collected, and the oldest entries are evicted once
the stored rows exceed `max_bytes`.
"""

from __future__ import annotations

import hashlib
import weakref
from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import Tensor

DEFAULT_MAX_BYTES = 1 << 30


def _digest(tensors: tuple[Tensor | None, ...]) -> bytes:
    """A collision-resistant digest of the tensors' dtypes, shapes and values (None included)."""
    digest = hashlib.sha256()
    for tensor in tensors:
        if tensor is None:
            digest.update(b"none;")
            continue
        flat = tensor.detach().contiguous().cpu()
        digest.update(f"{flat.dtype}{tuple(flat.shape)};".encode())
        digest.update(flat.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.digest()


class PromptActivationCache:
    """LRU store of the other model's edit-mask rows per (model, hook point, exact inputs).

    Pass one instance to several `intervene(...)` calls (e.g. every condition of an experiment)
    to run the other model's prompt forward once per prompt batch. `max_bytes = 0` disables it.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self.stored_bytes = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[int, str, bytes], Tensor] = OrderedDict()
        self._models: dict[int, weakref.ref[torch.nn.Module]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def _model_key(self, model: torch.nn.Module) -> int:
        """id(model), after dropping entries of a dead model that had the same id."""
        key = id(model)
        known = self._models.get(key)
        if known is None or known() is not model:
            self._forget(key)
            self._models[key] = weakref.ref(model, lambda _ref, k=key: self._forget(k))
        return key

    def _forget(self, model_key: int) -> None:
        for entry in [k for k in self._entries if k[0] == model_key]:
            self.stored_bytes -= self._bytes(self._entries.pop(entry))
        self._models.pop(model_key, None)

    @staticmethod
    def _bytes(rows: Tensor) -> int:
        return rows.numel() * rows.element_size()

    def rows(
        self,
        model: torch.nn.Module,
        hook_point: str,
        inputs: tuple[Tensor | None, ...],
        compute: Callable[[], Tensor],
    ) -> Tensor:
        """The cached rows for (model, hook point, inputs), or `compute()`'s result, stored.

        `inputs` must hold everything the rows depend on besides the model and hook point (token
        ids, attention mask, position ids, the edit mask). The returned tensor must not be
        modified by the caller.
        """
        if self.max_bytes == 0:
            self.misses += 1
            return compute()
        key = (self._model_key(model), hook_point, _digest(inputs))
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
            self.hits += 1
            return found
        self.misses += 1
        rows = compute().detach().contiguous()
        size = self._bytes(rows)
        if size <= self.max_bytes:
            self._entries[key] = rows
            self.stored_bytes += size
            while self.stored_bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self.stored_bytes -= self._bytes(evicted)
        return rows

    def clear(self) -> None:
        """Drop every entry (the hit and miss counts are kept)."""
        self._entries.clear()
        self.stored_bytes = 0
