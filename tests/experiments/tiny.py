"""A tiny random pair with real dictionaries, shared by the experiment and report tests."""

from __future__ import annotations

import functools

import torch
import transformers

from crossdiff.crosscoder import Crosscoder, CrosscoderConfig
from crossdiff.evals.dictionaries import IdentityDictionary
from crossdiff.evals.generate import GenerationConfig
from crossdiff.evals.harness import LoadedDictionary
from crossdiff.experiments.core import ExperimentSetup
from crossdiff.models.pair import ModelPair
from crossdiff.models.tiny import tiny_causal_lm, tiny_tokenizer
from crossdiff.normstats import NormStats
from crossdiff.world import load_split, render_raw

transformers.logging.set_verbosity_error()
WIDTH_A, WIDTH_B = 32, 24
HOOK = "resid_post.1"
VOCAB = 1500


@functools.cache
def tiny_setup() -> ExperimentSetup:
    """Two random 2-layer Qwen2 models, a DFC, a plain crosscoder, the identity; 3 dev, 4 test."""
    torch.set_num_threads(1)
    # A tokenizer trained on the world's prompts keeps them short (~300 tokens), so tests are fast.
    tokenizer = tiny_tokenizer([render_raw(p) for p in load_split("train", size=200)], VOCAB)
    pair = ModelPair(
        tiny_causal_lm("qwen2", VOCAB, width=WIDTH_A, layers=2, seed=0),
        tiny_causal_lm("qwen2", VOCAB, width=WIDTH_B, layers=2, seed=1),
        tokenizer,
        "tiny-a",
        "tiny-b",
    )
    generator = torch.Generator().manual_seed(0)
    stats = (
        NormStats.from_tensor(torch.randn(64, WIDTH_A, generator=generator)),
        NormStats.from_tensor(torch.randn(64, WIDTH_B, generator=generator)),
    )
    dictionaries = {}
    for name, partition in (("dfc", (0.25, 0.25)), ("plain", None)):
        config = CrosscoderConfig(
            widths=(WIDTH_A, WIDTH_B), dict_size=32, sparsity="topk", k=8, partition=partition
        )
        model = Crosscoder(config, stats=stats).requires_grad_(False)
        dictionaries[name] = LoadedDictionary(model, {"kind": name}, HOOK)
    identity = IdentityDictionary(WIDTH_A, WIDTH_B)
    dictionaries["identity"] = LoadedDictionary(identity, {"kind": "identity"}, HOOK)
    return ExperimentSetup(
        pair=pair,
        hook_point=HOOK,
        dictionaries=dictionaries,
        dev=load_split("dev")[:3],
        test=load_split("test40")[:4],
        generation=GenerationConfig(max_new_tokens=3, batch_size=4),
        bootstrap_resamples=200,
    )
