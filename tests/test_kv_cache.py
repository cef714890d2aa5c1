"""The in-place KV cache: same tensors as transformers' DynamicLayer, written without re-copying."""

from __future__ import annotations

import pytest
import torch
import transformers
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from crossdiff.evals.kv_cache import ReservedLayer, reserved_cache
from crossdiff.models.tiny import tiny_causal_lm

transformers.logging.set_verbosity_error()

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _states(generator: torch.Generator, batch: int, tokens: int) -> tuple[torch.Tensor, ...]:
    shape = (batch, 2, tokens, 4)
    return torch.randn(shape, generator=generator), torch.randn(shape, generator=generator)


def test_reserved_layer_holds_what_a_dynamic_layer_holds_through_every_batch_operation() -> None:
    generator = torch.Generator().manual_seed(0)
    reference, reserved = DynamicLayer(), ReservedLayer(reserve=8)

    def both(operation: str, *args) -> None:
        for layer in (reference, reserved):
            getattr(layer, operation)(*args)

    def feed(batch: int, tokens: int) -> None:
        keys, values = _states(generator, batch, tokens)
        expected = reference.update(keys, values)
        got = reserved.update(keys, values)
        for want, have in zip(expected, got, strict=True):
            assert torch.equal(want, have)

    feed(4, 5)
    for _ in range(30):  # past the reserve: the buffer must grow
        feed(4, 1)
    both("crop", -3)
    feed(4, 2)
    both("batch_repeat_interleave", 2)
    feed(8, 1)
    both("batch_select_indices", torch.tensor([0, 3, 5]))
    for _ in range(3):
        feed(3, 1)
    assert reserved.get_seq_length() == reference.get_seq_length() == 5 + 30 - 3 + 2 + 1 + 3


def test_decode_steps_write_in_place_and_reallocate_rarely() -> None:
    generator = torch.Generator().manual_seed(1)
    layer = ReservedLayer(reserve=16)
    layer.update(*_states(generator, 2, 10))
    first_buffer = layer.keys.data_ptr()
    for _ in range(16):
        layer.update(*_states(generator, 2, 1))
    assert layer.keys.data_ptr() == first_buffer, "new tokens within the reserve must not copy"
    buffers = {first_buffer}
    for _ in range(200):
        layer.update(*_states(generator, 2, 1))
        buffers.add(layer.keys.data_ptr())
    assert len(buffers) <= 5, "growth must at least double, not follow every token"


@pytest.mark.parametrize("model_type", ["qwen2", "llama", "gpt2", "gemma2"])
def test_decoding_with_the_reserved_cache_gives_the_dynamic_cache_logits(model_type: str) -> None:
    model = tiny_causal_lm(model_type, width=32, seed=0)
    generator = torch.Generator().manual_seed(2)
    vocab = model.config.vocab_size
    ids_BT = torch.randint(0, vocab, (3, 9), generator=generator)
    mask_BT = torch.ones_like(ids_BT)
    mask_BT[0, :4] = 0  # left padding
    forced_BN = torch.randint(0, vocab, (3, 12), generator=generator)
    caches = (DynamicCache(config=model.config), reserved_cache(model.config, reserve=4))
    logits = []
    for cache in caches:
        mask = mask_BT
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        steps = []
        with torch.no_grad():
            out = model(input_ids=ids_BT, attention_mask=mask, position_ids=positions, cache=cache)
            steps.append(out.logits[:, -1])
            for step in range(forced_BN.shape[1]):
                mask = torch.cat([mask, torch.ones((3, 1), dtype=mask.dtype)], dim=-1)
                positions = positions[:, -1:] + 1
                out = model(
                    input_ids=forced_BN[:, step : step + 1],
                    attention_mask=mask,
                    position_ids=positions,
                    cache=out.cache,
                )
                steps.append(out.logits[:, -1])
        logits.append(torch.stack(steps))
    torch.testing.assert_close(logits[1], logits[0], rtol=1e-5, atol=1e-5)
    kinds = {type(layer) for layer in caches[1].layers}
    assert ReservedLayer in kinds
    if model_type == "gemma2":  # its sliding-window layers keep their own type
        assert any(type(layer) is not ReservedLayer for layer in caches[1].layers)
