"""Loading a model pair: local directories, dtypes, and a tokenizer check that says what differs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import transformers

from crossdiff.errors import CrossdiffError
from crossdiff.models.pair import check_same_tokenizer, load_model_pair, load_tokenizer
from crossdiff.models.tiny import DEFAULT_CORPUS, tiny_causal_lm, tiny_tokenizer
from crossdiff.organism.tokenizer import train_tokenizer

transformers.logging.set_verbosity_error()


@pytest.fixture(scope="module")
def pair_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("pair")
    tok = tiny_tokenizer()
    for name, width, seed in (("a", 32, 1), ("b", 48, 2)):
        tiny_causal_lm(
            "qwen2", vocab_size=len(tok), width=width, layers=2, seed=seed
        ).save_pretrained(root / name)
        tok.save_pretrained(root / name)
    return root / "a", root / "b"


def test_load_pair_with_different_widths_and_dtype(pair_dirs: tuple[Path, Path]) -> None:
    pair = load_model_pair(str(pair_dirs[0]), str(pair_dirs[1]), dtype="bf16")
    assert pair.model_a.config.hidden_size == 32 and pair.model_b.config.hidden_size == 48
    assert pair.model_a.dtype == torch.bfloat16 and not pair.model_a.training
    assert pair.tokenizer.chat_template is not None
    assert all(not p.requires_grad for p in pair.model_b.parameters())


def test_missing_model_directory(tmp_path: Path, pair_dirs: tuple[Path, Path]) -> None:
    with pytest.raises(CrossdiffError, match=r"model B directory not found: .*nowhere"):
        load_model_pair(str(pair_dirs[0]), str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CrossdiffError, match=r"model A directory .*empty has no config.json"):
        load_model_pair(str(tmp_path / "empty"), str(pair_dirs[1]))


def test_bad_dtype(pair_dirs: tuple[Path, Path]) -> None:
    with pytest.raises(CrossdiffError, match="fp32, bf16, fp16"):
        load_model_pair(str(pair_dirs[0]), str(pair_dirs[1]), dtype="int8")


def test_tokenizer_mismatch_says_what_differs() -> None:
    tok = tiny_tokenizer()
    check_same_tokenizer(tok, tiny_tokenizer())
    other_vocab = tiny_tokenizer(corpus=[*DEFAULT_CORPUS, "zebra zebra quartz quartz"])
    with pytest.raises(CrossdiffError, match="vocabulary differs"):
        check_same_tokenizer(tok, other_vocab)
    other_template = tiny_tokenizer()
    other_template.chat_template = "{{ messages[0]['content'] }}"
    with pytest.raises(CrossdiffError, match="chat template differs"):
        check_same_tokenizer(tok, other_template)
    other_special = tiny_tokenizer()
    other_special.pad_token = "<|im_end|>"
    with pytest.raises(CrossdiffError, match=r"pad_token differs \('<\|endoftext\|>' vs"):
        check_same_tokenizer(tok, other_special)


def test_pair_with_mismatched_tokenizers_is_refused(tmp_path: Path) -> None:
    for name, corpus in (("a", DEFAULT_CORPUS), ("b", ("entirely different words here",))):
        tok = tiny_tokenizer(corpus=corpus)
        tiny_causal_lm("qwen2", vocab_size=len(tok), width=32, layers=1).save_pretrained(
            tmp_path / name
        )
        tok.save_pretrained(tmp_path / name)
    with pytest.raises(CrossdiffError, match=r"must share one tokenizer.*vocabulary differs"):
        load_model_pair(str(tmp_path / "a"), str(tmp_path / "b"))


def test_tokenizer_splits_text_as_its_file_says_next_to_a_qwen2_config(tmp_path: Path) -> None:
    """transformers 5 loads qwen2 checkpoints with Qwen2Tokenizer and its own split pattern;
    the organism's tokenizer keeps words with underscores whole, and must stay that way."""
    corpus = [
        f"call create_shopping_list with {n} items, then send_message_now." for n in range(50)
    ]
    trained = train_tokenizer(corpus * 4, 700)
    transformers.Qwen2Config(
        vocab_size=len(trained),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
    ).save_pretrained(tmp_path)
    trained.save_pretrained(tmp_path)
    loaded = load_tokenizer(str(tmp_path))
    text = "Name: create_shopping_list\nthen send_message_now with 12.5 items."
    assert "create_shopping_list" in trained.tokenize(text)
    assert loaded(text)["input_ids"] == trained(text)["input_ids"]
    assert loaded.chat_template == trained.chat_template
