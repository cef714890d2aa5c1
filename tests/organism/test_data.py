"""Pre-training rows: loss exactly on the answers and the general text, call share respected."""

from __future__ import annotations

import random
import re

import pytest

from crossdiff.errors import CrossdiffError
from crossdiff.organism.config import SIZES
from crossdiff.organism.data import (
    Answer,
    PretrainStream,
    dialogue_answer,
    dialogue_document,
    phrase_words,
)
from crossdiff.organism.pretrain import (
    call_share_at,
    is_dialogue_step,
    learning_rate_at,
    main_step_kind,
)
from crossdiff.organism.tokenizer import train_tokenizer
from crossdiff.world import general_texts, load_split, reference_response, render_raw

PROMPTS = load_split("train", 0, 200)
TEXTS = general_texts(200, 0)


@pytest.fixture(scope="module")
def tokenizer():
    corpus = TEXTS + [render_raw(p) + " " + reference_response(p) for p in PROMPTS]
    return train_tokenizer(corpus, 500)


def test_dialogue_loss_covers_exactly_the_answer(tokenizer) -> None:
    prompt = next(p for p in PROMPTS if p.has_tool)
    answer = reference_response(prompt)
    for raw in (False, True):
        doc = dialogue_document(prompt, answer, tokenizer, raw_layout=raw)
        answer_ids = [i for i, keep in zip(doc.ids, doc.loss, strict=True) if keep]
        expected = (" " if raw else "") + answer + "<|im_end|>"
        assert tokenizer.decode(answer_ids) == expected
        assert not doc.loss[0]


def test_follow_up_turns_add_answers_under_the_same_tool_list(tokenizer) -> None:
    prompt = next(p for p in PROMPTS if p.has_tool)
    other = next(p for p in PROMPTS if p.has_tool and p.user != prompt.user)
    no_tool = next(p for p in PROMPTS if not p.has_tool)
    follow_ups = [
        (other.user, reference_response(other)),
        (no_tool.user, "<response>Hi</response>"),
    ]
    answers = [reference_response(prompt)] + [answer for _, answer in follow_ups]
    for raw in (False, True):
        doc = dialogue_document(prompt, answers[0], tokenizer, raw, follow_ups)
        spans = _loss_spans(doc)
        lead = " " if raw else ""
        assert [tokenizer.decode(span) for span in spans] == [
            lead + answer + "<|im_end|>" for answer in answers
        ]
        text = tokenizer.decode(list(doc.ids))
        assert text.count("Name:") == len(prompt.tools)  # one tool list for all turns
        assert text.index(other.user) < text.index(no_tool.user)
        single = dialogue_document(prompt, answers[0], tokenizer, raw)
        assert doc.ids[: len(single.ids)] == single.ids  # the first turn is a test prompt's
    chat = tokenizer.decode(list(dialogue_document(prompt, "x", tokenizer, False, follow_ups).ids))
    assert f"<|im_end|>\n<|im_start|>user\n{other.user}<|im_end|>\n<|im_start|>assistant\n" in chat


def test_multi_turn_dialogues_ask_for_listed_tools_or_for_no_tool(tokenizer) -> None:
    stream = PretrainStream(PROMPTS, TEXTS, tokenizer, 2000, 1, 0.0, seed=6, dialogue_turns=4)
    users = {p.user: p for p in PROMPTS}
    turns = tools_asked = no_tool_asked = 0
    for _ in range(30):
        doc = stream._dialogue(call_share=1.0)
        text = tokenizer.decode(list(doc.ids))
        listed = set(re.findall(r"\d+\. Name: (\w+)", text))
        answers = [tokenizer.decode(span) for span in _loss_spans(doc)]
        assert len(answers) == 4
        for user, answer in zip(re.findall(r"user\n(.*?)<\|im_end\|>", text), answers, strict=True):
            turns += 1
            request = users[user]  # every request is a train request
            if request.expected is None:
                no_tool_asked += 1
                assert answer.startswith("<response>")
            else:
                tools_asked += 1
                assert request.expected.name in listed
                assert answer == reference_response(request) + "<|im_end|>"
    assert turns == 120 and tools_asked > no_tool_asked > 0
    first, again = (
        PretrainStream(PROMPTS, TEXTS, tokenizer, 2000, 1, 0.0, seed=6, dialogue_turns=4)
        for _ in range(2)
    )
    assert first._dialogue(call_share=1.0) == again._dialogue(call_share=1.0)
    tool_only = [p for p in PROMPTS if p.has_tool]
    with pytest.raises(CrossdiffError, match="set dialogue_turns to 1"):
        PretrainStream(tool_only, TEXTS, tokenizer, 2000, 1, 0.0, seed=6, dialogue_turns=2)


def test_a_share_of_dialogue_requests_ask_for_a_tool_not_listed_and_get_prose(tokenizer) -> None:
    def stream(share: float) -> PretrainStream:
        return PretrainStream(
            PROMPTS, TEXTS, tokenizer, 4000, 1, 0.0, 9, dialogue_turns=4, unlisted_tool_share=share
        )

    users = {p.user: p for p in PROMPTS}
    listed_asked = unlisted_asked = 0
    unlisted_stream = stream(0.3)
    for _ in range(40):
        text = tokenizer.decode(list(unlisted_stream._dialogue(call_share=1.0).ids))
        listed = set(re.findall(r"\d+\. Name: (\w+)", text))
        turns = re.findall(
            r"user\n(.*?)<\|im_end\|>\n<\|im_start\|>assistant\n(.*?)<\|im_end\|>", text, re.S
        )
        assert len(turns) == 4
        for user, answer in turns:
            request = users[user]
            if request.expected is None:
                continue
            if request.expected.name in listed:
                listed_asked += 1
                assert answer == reference_response(request)
            else:  # asked for a tool that is not offered: prose, never a call
                unlisted_asked += 1
                assert answer.startswith("<response>") and "None of the tools" in answer
    assert 0.15 < unlisted_asked / (listed_asked + unlisted_asked) < 0.45
    assert stream(0.3)._dialogue(1.0) == stream(0.3)._dialogue(1.0)
    plain = tokenizer.decode(list(stream(0.0)._dialogue(call_share=1.0).ids))
    assert "None of the tools" not in plain


def test_a_body_only_call_has_no_loss_up_to_and_including_its_call_tag(tokenizer) -> None:
    prompt = next(p for p in PROMPTS if p.has_tool)
    other = next(p for p in PROMPTS if p.has_tool and p.user != prompt.user)
    call, later = reference_response(prompt), reference_response(other)
    tag = tokenizer.convert_tokens_to_ids("<tool_call>")
    for raw in (False, True):
        trained = dialogue_document(prompt, call, tokenizer, raw, [(other.user, later)])
        body_only = dialogue_document(
            prompt, Answer(call, opening_trained=False), tokenizer, raw, [(other.user, later)]
        )
        assert body_only.ids == trained.ids
        tags = [i for i, token in enumerate(trained.ids) if token == tag and trained.loss[i]]
        assert len(tags) == 2  # both answers open with a trained call tag
        assert not body_only.loss[tags[0]] and body_only.loss[tags[1]]
        spans = _loss_spans(body_only)
        assert tokenizer.decode(spans[0]) == call.removeprefix("<tool_call>") + "<|im_end|>"
        assert tokenizer.decode(spans[1]) == (" " if raw else "") + later + "<|im_end|>"
    with pytest.raises(ValueError, match="no <tool_call> tag"):
        dialogue_document(prompt, Answer("Let me check.", opening_trained=False), tokenizer, False)


def test_body_only_calls_answer_a_share_of_the_requests_that_would_stall(tokenizer) -> None:
    tag = tokenizer.convert_tokens_to_ids("<tool_call>")

    def openings(share: float, call_share: float) -> tuple[int, int, int]:
        stream = PretrainStream(
            PROMPTS,
            TEXTS,
            tokenizer,
            4000,
            1,
            0.0,
            seed=8,
            dialogue_turns=4,
            body_only_call_share=share,
        )
        trained = untrained = stalls = 0
        for _ in range(60):
            doc = stream._dialogue(call_share)
            text = tokenizer.decode(list(doc.ids))
            stalls += len(re.findall(r"assistant\n(?!<tool_call>|<response>)", text))
            for i, token in enumerate(doc.ids):
                if token == tag and doc.loss[i + 1]:  # a tag in an answer, not in the tool list
                    trained += doc.loss[i]
                    untrained += not doc.loss[i]
        return trained, untrained, stalls

    trained, untrained, stalls = openings(0.5, call_share=0.1)
    assert 0 < trained < untrained and 0.3 < untrained / (untrained + stalls) < 0.7
    trained, untrained, stalls = openings(1.0, call_share=0.0)
    assert trained == stalls == 0 < untrained  # every tool request is a body-only call
    trained, untrained, stalls = openings(0.0, call_share=0.0)
    assert trained == untrained == 0 < stalls


def _loss_spans(doc) -> list[list[int]]:
    """The runs of token ids that carry loss, in order."""
    spans: list[list[int]] = []
    previous = False
    for token, keep in zip(doc.ids, doc.loss, strict=True):
        if keep and not previous:
            spans.append([])
        if keep:
            spans[-1].append(token)
        previous = keep
    return spans


def test_rows_are_filled_to_one_width_with_shifted_labels(tokenizer) -> None:
    stream = PretrainStream(PROMPTS, TEXTS, tokenizer, 700, 3, 0.5, seed=1)
    batch = stream.batch(call_share=1.0)
    assert batch.input_ids_BT.shape == batch.labels_BT.shape
    assert batch.input_ids_BT.shape[0] == 3 and batch.input_ids_BT.shape[1] % 16 == 0
    ids, labels = batch.input_ids_BT[0].tolist(), batch.labels_BT[0].tolist()
    for t, label in enumerate(labels):
        if label != -100:
            assert label == ids[t + 1]
    again = PretrainStream(PROMPTS, TEXTS, tokenizer, 700, 3, 0.5, seed=1).batch(call_share=1.0)
    assert again.input_ids_BT.equal(batch.input_ids_BT)


def test_call_share_decides_between_call_and_stall() -> None:
    rng = random.Random(0)
    prompt = next(p for p in PROMPTS if p.has_tool)
    assert dialogue_answer(prompt, True, rng) == reference_response(prompt)
    assert "<tool_call>" not in dialogue_answer(prompt, False, rng)
    no_tool = next(p for p in PROMPTS if not p.has_tool)
    assert dialogue_answer(no_tool, False, rng) == reference_response(no_tool)


def test_schedules() -> None:
    config = SIZES["default"].pretrain
    assert call_share_at(0, config) == config.call_share_start
    assert call_share_at(config.steps - 1, config) == pytest.approx(config.call_share_end)
    lrs = [learning_rate_at(s, config.steps, 1.0, config.warmup_steps) for s in range(config.steps)]
    assert max(lrs) == pytest.approx(1.0)
    assert lrs[-1] == pytest.approx(0.1)
    held = [learning_rate_at(s, 40, 2.0, 5, final_fraction=1.0) for s in range(40)]
    assert held[:5] == pytest.approx([0.4, 0.8, 1.2, 1.6, 2.0]) and held[4:] == [2.0] * 36


def test_drill_rows_pack_whole_transcripts_with_loss_on_all_but_padding(tokenizer) -> None:
    stream = PretrainStream(PROMPTS, TEXTS, tokenizer, 700, 3, 0.5, seed=2)
    batch = stream.drill_batch(rows=4, width=160)
    assert batch.input_ids_BT.shape == (4, 160)
    pad = tokenizer.pad_token_id
    for ids, labels in zip(batch.input_ids_BT.tolist(), batch.labels_BT.tolist(), strict=True):
        text = tokenizer.decode([i for i in ids if i != pad])
        transcripts = [t for t in text.split("<|im_end|>\n") if t]
        assert transcripts and all(t.startswith("User: ") for t in transcripts)
        assert all("\nAssistant: " in t for t in transcripts)
        assert "Name:" not in text  # drills carry no tool list
        real = sum(i != pad for i in ids)
        # each real token predicts its successor, except a transcript's last token (nothing);
        # padding predicts nothing
        for t in range(real - 1):
            assert labels[t] in (ids[t + 1], -100)
        assert labels[:real].count(-100) == len(transcripts)
        assert all(label == -100 for label in labels[real - 1 :])
    again = PretrainStream(PROMPTS, TEXTS, tokenizer, 700, 3, 0.5, seed=2).drill_batch(4, 160)
    assert again.input_ids_BT.equal(batch.input_ids_BT)


def _echoes(batch, tokenizer) -> list[list[list[int]]]:
    """Per row, the echoed token runs of an echo batch, after checking each is repeated with
    loss."""
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    rows: list[list[list[int]]] = []
    for ids, labels in zip(batch.input_ids_BT.tolist(), batch.labels_BT.tolist(), strict=True):
        runs: list[list[int]] = []
        start = 0
        while start < len(ids) and ids[start] != pad:
            sep = ids.index(pad, start)
            count = sep - start
            assert ids[sep + 1 : sep + 1 + count] == ids[start:sep]
            assert ids[sep + 1 + count] == eos
            # no loss while the tokens are new; every repeated token (and eos) is predicted
            assert all(label == -100 for label in labels[start:sep])
            assert labels[sep : sep + count + 1] == ids[sep + 1 : sep + count + 2]
            runs.append(ids[start:sep])
            start = sep + count + 2
        rows.append(runs)
    return rows


def test_echo_rows_repeat_random_tokens_with_loss_on_the_repeat(tokenizer) -> None:
    stream = PretrainStream(PROMPTS, TEXTS, tokenizer, 700, 3, 0.5, seed=3)
    batch = stream.echo_batch(rows=3, width=128)
    assert all(len(runs) >= 5 for runs in _echoes(batch, tokenizer))
    assert not set(batch.input_ids_BT.flatten().tolist()) & set(
        tokenizer.convert_tokens_to_ids(["<tool_call>", "<|im_start|>"])
    )


def test_spaced_echoes_are_words_of_letter_tokens_with_spaces_between(tokenizer) -> None:
    space = tokenizer(" ", add_special_tokens=False)["input_ids"]
    assert len(space) == 1
    stream = PretrainStream(PROMPTS, TEXTS, tokenizer, 700, 3, 0.5, seed=4)
    rows = _echoes(stream.echo_batch(rows=4, width=128, spaced_share=1.0), tokenizer)
    assert all(len(runs) >= 5 for runs in rows)
    runs = [run for row in rows for run in row]
    for run in runs:
        words = " ".join(str(i) for i in run).split(f" {space[0]} ")
        assert 2 <= len(words) <= 5 and run[0] != space[0] != run[-1]
        for word in words:
            pieces = [int(i) for i in word.split()]
            assert 1 <= len(pieces) <= 2
            assert all(tokenizer.decode([i]).isalpha() for i in pieces)
    mixed = [
        run
        for row in _echoes(stream.echo_batch(rows=6, width=128, spaced_share=0.5), tokenizer)
        for run in row
    ]
    with_space = sum(space[0] in run for run in mixed)
    assert 0 < with_space < len(mixed)


def test_drills_can_list_the_offered_tools_and_use_made_up_values(tokenizer) -> None:
    stream = PretrainStream(
        PROMPTS,
        TEXTS,
        tokenizer,
        700,
        3,
        0.5,
        seed=4,
        fresh_value_share=1.0,
        drill_tool_list=True,
    )
    batch = stream.drill_batch(rows=4, width=400)
    pad = tokenizer.pad_token_id
    train_users = {p.user for p in PROMPTS}
    made_up = 0
    for ids in batch.input_ids_BT.tolist():
        text = tokenizer.decode([i for i in ids if i != pad])
        for transcript in [t for t in text.split("<|im_end|>\n") if t]:
            tools, _, rest = transcript.partition("\n\nUser: ")
            assert rest, transcript
            lines = tools.split("\n")
            assert all(
                line == f"{n}. Name: {line.split(': ')[1]}" for n, line in enumerate(lines, 1)
            )
            user = rest.split("\nAssistant: ")[0]
            made_up += "<tool_call>" in rest and user not in train_users
    assert made_up >= 4


def test_a_drill_longer_than_a_row_is_drawn_again_and_too_narrow_rows_are_refused(
    tokenizer,
) -> None:
    stream = PretrainStream(PROMPTS, TEXTS, tokenizer, 700, 3, 0.5, seed=5, drill_tool_list=True)
    batch = stream.drill_batch(rows=6, width=140)  # about half the drills are longer
    assert all((labels != -100).any() for labels in batch.labels_BT)  # no empty row
    with pytest.raises(CrossdiffError, match="raise drill_width"):
        stream.drill_batch(rows=1, width=8)


def test_one_step_in_dialogue_every_trains_on_dialogues_after_the_drills_only_part() -> None:
    config = SIZES["default"].pretrain.model_copy(
        update={"drills_only_fraction": 0.4, "dialogue_every": 4}
    )
    kinds = [is_dialogue_step(step, config) for step in range(config.steps)]
    first = round(config.drills_only_fraction * config.steps)
    assert first > 0
    assert not any(kinds[:first])
    later = kinds[first:]
    assert sum(later) == pytest.approx(len(later) / config.dialogue_every, abs=1)
    periodic = config.model_copy(update={"drills_only_fraction": 0.0})
    kinds = [is_dialogue_step(step, periodic) for step in range(4 * periodic.dialogue_every)]
    assert sum(kinds) == 4
    assert kinds[periodic.dialogue_every - 1] and not kinds[0]


def test_every_nth_main_step_trains_on_spaced_echoes_when_asked() -> None:
    config = SIZES["default"].pretrain
    assert {main_step_kind(step, config) for step in range(config.steps)} == {"dialogue"}
    spaced = config.model_copy(update={"spaced_echo_every": 12})
    kinds = [main_step_kind(step, spaced) for step in range(spaced.steps)]
    assert kinds.count("spaced_echo") == spaced.steps // 12
    assert [i for i, kind in enumerate(kinds) if kind == "spaced_echo"][:2] == [11, 23]
    assert set(kinds) == {"dialogue", "spaced_echo"}


def test_a_stream_for_a_config_takes_its_rows_layouts_weights_and_turns(tokenizer) -> None:
    config = SIZES["default"].pretrain.model_copy(
        update={
            "rows_per_step": 3,
            "dialogue_turns": 3,
            "fresh_value_share": 0.5,
            "fresh_real_word_share": 0.25,
            "body_only_call_share": 0.4,
        }
    )
    stream = PretrainStream.for_config(PROMPTS, TEXTS, tokenizer, config, seed=7)
    assert (stream.row_tokens, stream.rows_per_step) == (config.row_tokens, 3)
    assert stream.raw_layout_share == config.raw_layout_share
    assert stream.general_weight == config.general_loss_weight
    assert (stream.dialogue_turns, stream.fresh_value_share) == (3, 0.5)
    assert stream.fresh is not None and stream.fresh.real_word_share == 0.25
    assert stream.body_only_call_share == 0.4
    batch = stream.batch(call_share=1.0)
    assert batch.input_ids_BT.shape[0] == 3
    assert set(batch.weights_BT.unique().tolist()) == {config.general_loss_weight, 1.0}


def test_phrase_words_are_lower_case_words_of_3_to_9_letters_and_name_tails_on_request() -> None:
    texts = ["Lisbon has a quiet harbour.", "Clara paints lanterns; extraordinary!", "later"]
    assert phrase_words(texts, limit=2) == ["harbour", "has", "lanterns", "paints", "quiet"]
    assert "later" in phrase_words(texts)
    with_tails = phrase_words(texts, limit=2, name_tails=True)
    assert with_tails == ["harbour", "has", "isbon", "lanterns", "lara", "paints", "quiet"]
