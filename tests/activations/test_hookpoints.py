"""Hook points read exactly what `output_hidden_states` reports, for each supported architecture."""

from __future__ import annotations

import pytest
import torch
import transformers

from crossdiff.errors import CrossdiffError
from crossdiff.models.capture import forward_to_hook
from crossdiff.models.hookpoints import (
    DECODER_LAYERS_BY_MODEL_TYPE,
    decoder_layers,
    hidden_from_output,
    replace_hidden_in_inputs,
    replace_hidden_in_output,
    resolve_hook_point,
)
from crossdiff.models.tiny import tiny_causal_lm

transformers.logging.set_verbosity_error()

ARCHITECTURES = sorted(DECODER_LAYERS_BY_MODEL_TYPE)
LAYERS = 3


def _batch(vocab: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(4, vocab, (2, 7), generator=gen)
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0  # right padding in the second row
    return ids, mask


@pytest.mark.parametrize("model_type", ARCHITECTURES)
def test_resid_post_and_pre_equal_output_hidden_states(model_type: str) -> None:
    model = tiny_causal_lm(model_type, vocab_size=64, width=32, layers=LAYERS)
    ids, mask = _batch(64)
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
    assert len(decoder_layers(model)) == LAYERS
    keep = mask.bool()
    for layer in range(LAYERS):
        pre = forward_to_hook(model, resolve_hook_point(model, f"resid_pre.{layer}"), ids, mask)
        torch.testing.assert_close(pre[keep], hidden[layer][keep], rtol=1e-5, atol=1e-5)
    # The last entry of hidden_states has the final norm applied: compare the layers before it.
    for layer in range(LAYERS - 1):
        post = forward_to_hook(model, resolve_hook_point(model, f"resid_post.{layer}"), ids, mask)
        torch.testing.assert_close(post[keep], hidden[layer + 1][keep], rtol=1e-5, atol=1e-5)


def test_last_layer_output_is_pre_final_norm() -> None:
    model = tiny_causal_lm("qwen2", vocab_size=64, width=32, layers=LAYERS)
    ids, _mask = _batch(64)
    with torch.no_grad():
        hidden = model(input_ids=ids, output_hidden_states=True).hidden_states
        post = forward_to_hook(
            model, resolve_hook_point(model, f"resid_post.{LAYERS - 1}"), ids, torch.ones_like(ids)
        )
        torch.testing.assert_close(model.model.norm(post), hidden[-1], rtol=1e-5, atol=1e-5)


def test_forward_stops_after_the_hooked_layer() -> None:
    model = tiny_causal_lm("llama", vocab_size=64, width=32, layers=LAYERS)
    ran: list[int] = []
    for index, layer in enumerate(decoder_layers(model)):
        layer.register_forward_hook(lambda *_args, i=index: ran.append(i))
    ids, mask = _batch(64)
    forward_to_hook(model, resolve_hook_point(model, "resid_post.0"), ids, mask)
    assert ran == [0]


def test_explicit_module_path_on_an_unknown_architecture() -> None:
    config = transformers.OPTConfig(
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=3,
        ffn_dim=64,
        num_attention_heads=4,
        word_embed_proj_dim=32,
    )
    model = transformers.AutoModelForCausalLM.from_config(config).eval()
    with pytest.raises(CrossdiffError, match=r"'opt'.*qwen2.*module:model\.layers\.13"):
        resolve_hook_point(model, "resid_post.1")
    hook = resolve_hook_point(model, "module:model.decoder.layers.1")
    assert (hook.kind, hook.layer) == ("output", None)
    ids, mask = _batch(64)
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
    got = forward_to_hook(model, hook, ids, mask)
    torch.testing.assert_close(got[mask.bool()], hidden[2][mask.bool()], rtol=1e-5, atol=1e-5)
    pre = forward_to_hook(
        model, resolve_hook_point(model, "module:model.decoder.layers.1:input"), ids, mask
    )
    torch.testing.assert_close(pre[mask.bool()], hidden[1][mask.bool()], rtol=1e-5, atol=1e-5)


def test_module_path_naming_a_decoder_layer_knows_its_index() -> None:
    model = tiny_causal_lm("qwen2", vocab_size=64, width=32, layers=LAYERS)
    assert resolve_hook_point(model, "module:model.layers.2:input").layer == 2


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("resid_post.3", r"layer 3 is out of range.*3 decoder layers \(0\.\.2\)"),
        ("resid_pre.-1", r"out of range"),
        ("resid_mid.1", r"unknown hook point"),
        ("module:model.nope", r"module 'model.nope' not found"),
        ("module:model.layers.1:sideways", r"':output' or ':input'"),
    ],
)
def test_bad_hook_point_names(name: str, pattern: str) -> None:
    model = tiny_causal_lm("qwen2", vocab_size=64, width=32, layers=LAYERS)
    with pytest.raises(CrossdiffError, match=pattern):
        resolve_hook_point(model, name)


def test_hidden_helpers_accept_tensors_and_tuples() -> None:
    hidden, new = torch.zeros(1, 2, 3), torch.ones(1, 2, 3)
    extra = torch.full((1,), 7.0)
    assert hidden_from_output(hidden) is hidden
    assert hidden_from_output((hidden, extra)) is hidden
    assert replace_hidden_in_output(hidden, new) is new
    replaced = replace_hidden_in_output((hidden, extra), new)
    assert isinstance(replaced, tuple) and replaced[0] is new and replaced[1] is extra
    args, kwargs = replace_hidden_in_inputs((hidden, extra), {"a": 1}, new)
    assert args[0] is new and args[1] is extra and kwargs == {"a": 1}
    args, kwargs = replace_hidden_in_inputs((), {"hidden_states": hidden}, new)
    assert args == () and kwargs["hidden_states"] is new
    with pytest.raises(CrossdiffError, match="hidden-state tensor"):
        hidden_from_output({"x": hidden})
