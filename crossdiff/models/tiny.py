"""Tiny random-weight models and a small trained tokenizer, for tests and benchmarks (no downloads).

`tiny_tokenizer` trains a byte-level BPE tokenizer on a handful of texts in milliseconds; it adds
a BOS token to raw text and carries a ChatML chat template, like the real models crossdiff targets.
`tiny_causal_lm` builds a random-weight causal LM of a given architecture from its config.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerFast

BOS, EOS, IM_START, IM_END = "<s>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"
CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
DEFAULT_CORPUS = (
    "The quick brown fox jumps over the lazy dog.",
    "Call get_weather with a city name to learn the forecast for tomorrow.",
    'A tool call looks like {"name": "add", "parameters": {"a": 1, "b": 2}}.',
    "Rivers carry sand to the sea, and the sea returns it as beaches.",
)


def tiny_tokenizer(
    corpus: Sequence[str] = DEFAULT_CORPUS, vocab_size: int = 320
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer (BOS added to raw text, ChatML template, pad = EOS)."""
    specials = [EOS, BOS, IM_START, IM_END]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(corpus), trainer=trainer)
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, bos_id)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=EOS,
        additional_special_tokens=[IM_START, IM_END],
    )
    fast.chat_template = CHATML_TEMPLATE
    return fast


def tiny_config_kwargs(model_type: str, vocab_size: int, width: int, layers: int) -> dict:
    """Config arguments of a tiny model of `model_type` (names differ across architectures)."""
    if model_type == "gpt2":
        return {
            "vocab_size": vocab_size,
            "n_embd": width,
            "n_layer": layers,
            "n_head": 4,
            "n_positions": 512,
            "bos_token_id": 1,
            "eos_token_id": 0,
        }
    kwargs = {
        "vocab_size": vocab_size,
        "hidden_size": width,
        "intermediate_size": 2 * width,
        "num_hidden_layers": layers,
        "num_attention_heads": 4,
        "max_position_embeddings": 512,
        "bos_token_id": 1,
        "eos_token_id": 0,
        "pad_token_id": 0,
    }
    if model_type != "gpt_neox":
        kwargs["num_key_value_heads"] = 2
    if model_type in ("gemma", "gemma2", "qwen3"):
        kwargs["head_dim"] = width // 4
    if model_type == "mixtral":
        kwargs.update(num_local_experts=2, num_experts_per_tok=1)
    return kwargs


def tiny_causal_lm(
    model_type: str = "qwen2",
    vocab_size: int = 320,
    width: int = 32,
    layers: int = 3,
    seed: int = 0,
) -> PreTrainedModel:
    """A random-weight causal LM of `model_type`, in eval mode, built from its config."""
    config = AutoConfig.for_model(
        model_type, **tiny_config_kwargs(model_type, vocab_size, width, layers)
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.eval()
    return model
