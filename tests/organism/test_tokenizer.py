"""The organism tokenizer: exact round trips, single-token tags, copyable values, chat template."""

from pathlib import Path

from transformers import AutoTokenizer

from crossdiff.organism.tokenizer import TAG_TOKENS, train_tokenizer
from crossdiff.world import load_split, reference_response, render_chat, render_raw

CORPUS = [render_raw(p) + " " + reference_response(p) for p in load_split("train", 0, 300)]


def _tokenizer():
    return train_tokenizer(CORPUS, 600)


def test_round_trip_is_exact_for_prompts_and_calls() -> None:
    tokenizer = _tokenizer()
    for prompt in load_split("dev", 0, 20):
        text = render_raw(prompt) + " " + reference_response(prompt) + "<|im_end|>"
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == text


def test_tags_and_specials_are_single_tokens() -> None:
    tokenizer = _tokenizer()
    for tag in (*TAG_TOKENS, "<|im_start|>", "<|im_end|>", "<|endoftext|>"):
        assert len(tokenizer(tag, add_special_tokens=False)["input_ids"]) == 1, tag
    assert tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.pad_token_id is not None


def test_digits_are_split_and_values_tokenise_the_same_in_text_and_json() -> None:
    tokenizer = _tokenizer()
    digits = tokenizer.convert_ids_to_tokens(
        tokenizer("12345", add_special_tokens=False)["input_ids"]
    )
    assert digits == ["1", "2", "3", "4", "5"]
    in_text = tokenizer("Weather in Zagrebville today", add_special_tokens=False)["input_ids"]
    in_json = tokenizer('{"city": "Zagrebville"}', add_special_tokens=False)["input_ids"]
    value = tokenizer("Zagrebville", add_special_tokens=False)["input_ids"]
    as_text = " ".join(map(str, in_text))
    assert " ".join(map(str, value)) in as_text
    assert " ".join(map(str, value)) in " ".join(map(str, in_json))


def test_chat_template_and_reload(tmp_path: Path) -> None:
    tokenizer = _tokenizer()
    prompt = load_split("dev", 0, 1)[0]
    text = render_chat(prompt, tokenizer)
    assert text.startswith("<|im_start|>system\n")
    assert text.endswith(f"<|im_start|>user\n{prompt.user}<|im_end|>\n<|im_start|>assistant\n")
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert render_chat(prompt, reloaded) == text
    assert (
        reloaded(text, add_special_tokens=False)["input_ids"]
        == tokenizer(text, add_special_tokens=False)["input_ids"]
    )
