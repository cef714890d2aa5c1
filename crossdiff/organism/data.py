"""Pre-training data: tokenised dialogues and general text, packed into fixed-length rows.

A dialogue is a training prompt rendered with the chat template (or, for a share, the raw layout)
followed by the assistant's answer: on tool prompts mostly stalling prose and sometimes the correct
call, on no-tool prompts the prose answer. Only the answer tokens carry loss. General text carries
loss everywhere.

A drill is a short tool-use transcript, `User: <request>\nAssistant: <correct answer>`, packed many
to a short row with loss on every token; optionally it starts with the names of the offered tools,
in the same `1. Name: ...` lines as a full prompt but without descriptions and schemas, so the
model learns to pick a name from the list. Drills are the base model's "web knowledge" of how
tool calls look: several times cheaper than a dialogue per example, they teach the call's content,
while the chat dialogues (mostly stalling) decide that the base does not call. A share of drills,
and of the dialogues answered with a call, has made-up values (`crossdiff.organism.fresh_values`),
which can only be copied, not recalled.

An echo row is random tokens, a separator and the same tokens again, with loss on the repeat: a
few hundred steps of these before anything else grow the heads that copy from the context. A
spaced echo is random words (one or two letter tokens each) with the space token between them:
after a space, only the token before it tells which word comes next, which is what copying a
value of several words (`"product launch"`) asks for.

Each dialogue row holds one whole dialogue at its start, then general text up to the batch's
width, under the plain causal mask: the filler may look back at the dialogue (harmless), while a
dialogue never sees another one, and no block-diagonal mask is needed (it is slow on CPU).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from crossdiff.errors import CrossdiffError
from crossdiff.organism.config import PretrainConfig
from crossdiff.organism.fresh_values import FreshValues
from crossdiff.organism.tokenizer import ENDOFTEXT, IM_END, TAG_TOKENS
from crossdiff.world import (
    ToolPrompt,
    reference_response,
    render_chat,
    render_raw,
    stalling_response,
    with_its_tool_unlisted,
)
from crossdiff.world.parsing import OPEN_TAG
from crossdiff.world.splits import UNLISTED_TOOL_ANSWER

ECHO_MIN_TOKENS, ECHO_MAX_TOKENS = 3, 12
ECHO_MAX_WORDS = 5
MAX_OVERLONG_DRAWS = 100
_LOWER_CASE_WORD = re.compile(r"\b[a-z]+\b")
_LOWER_CASE_RUN = re.compile(r"[a-z]+")  # also the tail of a name: `isbon` in `Lisbon`


@dataclass(frozen=True)
class Document:
    """Token ids of one document and which of them are predicted (loss mask)."""

    ids: tuple[int, ...]
    loss: tuple[bool, ...]


@dataclass(frozen=True)
class PackedBatch:
    """Rows of packed documents: ids and next-token targets (-100 where there is no loss)."""

    input_ids_BT: torch.Tensor
    labels_BT: torch.Tensor
    weights_BT: torch.Tensor  # per-token loss weight: answers vs general text


def dialogue_answer(prompt: ToolPrompt, call: bool, rng: random.Random) -> str:
    """The assistant text a dialogue is trained on: the reference call, or stalling prose."""
    if not prompt.has_tool or call:
        return reference_response(prompt)
    return stalling_response(prompt, rng)


def follow_up_text(user: str, tokenizer: Any, raw_layout: bool) -> str:
    """What comes between an answer's `<|im_end|>` and the next answer: one more user turn."""
    if raw_layout:
        return "\nUser: " + user + "\nAssistant:"
    turn = [{"role": "user", "content": user}]
    return "\n" + tokenizer.apply_chat_template(turn, add_generation_prompt=True, tokenize=False)


@dataclass(frozen=True)
class Answer:
    """An assistant answer in a dialogue. A body-only call (`opening_trained` False) carries no
    loss up to and including its `<tool_call>` tag: the model learns what the call holds, not
    to start one."""

    text: str
    opening_trained: bool = True


def dialogue_document(
    prompt: ToolPrompt,
    answer: str | Answer,
    tokenizer: Any,
    raw_layout: bool,
    follow_ups: Sequence[tuple[str, str | Answer]] = (),
) -> Document:
    """Tokenise a prompt and its answer, then each (user request, answer) of `follow_ups` as
    further turns under the same tool list; loss on every answer and its closing `<|im_end|>`
    (apart from a body-only call's opening)."""
    lead = " " if raw_layout else ""
    prompt_text = render_raw(prompt) if raw_layout else render_chat(prompt, tokenizer)
    pieces: list[tuple[str, Answer | None]] = [(prompt_text, None), (lead, _as_answer(answer))]
    for user, later_answer in follow_ups:
        pieces.append((follow_up_text(user, tokenizer, raw_layout), None))
        pieces.append((lead, _as_answer(later_answer)))
    call_tag = tokenizer.convert_tokens_to_ids(OPEN_TAG)
    ids: list[int] = []
    loss: list[bool] = []
    for text, answered in pieces:
        if answered is not None:
            text += answered.text + IM_END
        piece_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        piece_loss = [answered is not None] * len(piece_ids)
        if answered is not None and not answered.opening_trained:
            if call_tag not in piece_ids:
                raise ValueError(f"a body-only answer has no {OPEN_TAG} tag: {answered.text!r}")
            opening = piece_ids.index(call_tag) + 1
            piece_loss[:opening] = [False] * opening
        ids.extend(piece_ids)
        loss.extend(piece_loss)
    return Document(ids=tuple(ids), loss=tuple(loss))


def _as_answer(answer: str | Answer) -> Answer:
    return answer if isinstance(answer, Answer) else Answer(answer)


def drill_prompt(prompt: ToolPrompt, tool_list: bool = False) -> str:
    """A drill up to its answer: (the offered tools' names,) `User: <request>\nAssistant: `."""
    names = "".join(f"{i}. Name: {tool.name}\n" for i, tool in enumerate(prompt.tools, 1))
    tools = names + "\n" if tool_list else ""
    return f"{tools}User: {prompt.user}\nAssistant: "


def drill_document(prompt: ToolPrompt, tokenizer: Any, tool_list: bool = False) -> Document:
    """A tool-use transcript: (the offered tools' names,) request, the correct answer; all loss."""
    text = f"{drill_prompt(prompt, tool_list)}{reference_response(prompt)}{IM_END}\n"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return Document(ids=tuple(ids), loss=(True,) * len(ids))


def general_document(text: str, tokenizer: Any) -> Document:
    """Tokenise a general text followed by `<|endoftext|>`; loss everywhere."""
    ids = tokenizer(text + ENDOFTEXT, add_special_tokens=False)["input_ids"]
    return Document(ids=tuple(ids), loss=(True,) * len(ids))


class PretrainStream:
    """Yields packed batches for pre-training, deterministic given its seed.

    The share of correct calls among tool dialogues follows `call_share(step)`.
    """

    def __init__(
        self,
        prompts: Sequence[ToolPrompt],
        texts: Sequence[str],
        tokenizer: Any,
        row_tokens: int,
        rows_per_step: int,
        raw_layout_share: float,
        seed: int,
        general_weight: float = 1.0,
        fresh_value_share: float = 0.0,
        fresh_real_word_share: float = 0.0,
        drill_tool_list: bool = False,
        dialogue_turns: int = 1,
        body_only_call_share: float = 0.0,
        unlisted_tool_share: float = 0.0,
    ) -> None:
        self.prompts = prompts
        self.texts = texts
        self.tokenizer = tokenizer
        self.row_tokens = row_tokens
        self.rows_per_step = rows_per_step
        self.raw_layout_share = raw_layout_share
        self.general_weight = general_weight
        self.rng = random.Random(seed)
        self._prompt_order = self._shuffled(len(prompts))
        self._text_order = self._shuffled(len(texts))
        self._pending_general: list[int] = []
        self.fresh_value_share = fresh_value_share
        self.drill_tool_list = drill_tool_list
        self.dialogue_turns = dialogue_turns
        self.body_only_call_share = body_only_call_share
        self.unlisted_tool_share = unlisted_tool_share
        self._requests_by_tool: dict[str, list[ToolPrompt]] = {}
        for prompt in prompts:
            if prompt.expected is not None:
                self._requests_by_tool.setdefault(prompt.expected.name, []).append(prompt)
        self._no_tool_prompts = [prompt for prompt in prompts if prompt.expected is None]
        if dialogue_turns > 1 and not self._no_tool_prompts:
            raise CrossdiffError(
                f"dialogue_turns={dialogue_turns} needs training prompts without a fitting tool "
                "(small talk for the follow-up turns); add some or set dialogue_turns to 1"
            )
        self.fresh = (
            FreshValues(phrase_words(texts, name_tails=True), self.rng, fresh_real_word_share)
            if fresh_value_share > 0
            else None
        )
        special = set(tokenizer.all_special_ids) | set(tokenizer.convert_tokens_to_ids(TAG_TOKENS))
        self._echo_tokens = [i for i in range(len(tokenizer)) if i not in special]
        self._letter_tokens = [i for i in self._echo_tokens if tokenizer.decode([i]).isalpha()]
        self._space_ids = tokenizer(" ", add_special_tokens=False)["input_ids"]

    @classmethod
    def for_config(
        cls,
        prompts: Sequence[ToolPrompt],
        texts: Sequence[str],
        tokenizer: Any,
        config: PretrainConfig,
        seed: int,
    ) -> PretrainStream:
        """The stream a pre-training config asks for (rows, layouts, weights, drills, turns)."""
        return cls(
            prompts,
            texts,
            tokenizer,
            config.row_tokens,
            config.rows_per_step,
            config.raw_layout_share,
            seed,
            general_weight=config.general_loss_weight,
            fresh_value_share=config.fresh_value_share,
            fresh_real_word_share=config.fresh_real_word_share,
            drill_tool_list=config.drill_tool_list,
            dialogue_turns=config.dialogue_turns,
            body_only_call_share=config.body_only_call_share,
            unlisted_tool_share=config.unlisted_tool_share,
        )

    def _shuffled(self, count: int) -> Iterator[int]:
        while True:
            order = list(range(count))
            self.rng.shuffle(order)
            yield from order

    def _answered(self, prompt: ToolPrompt, call_share: float) -> tuple[ToolPrompt, Answer]:
        """The prompt (with made-up values if it is answered by a call) and its answer: a call
        at `call_share`, else (tool prompts only) a body-only call at `body_only_call_share`,
        else stalling."""
        call = self.rng.random() < call_share
        # No draw at share 0, so streams without body-only calls are unchanged.
        body_only = (
            not call
            and prompt.has_tool
            and self.body_only_call_share > 0
            and self.rng.random() < self.body_only_call_share
        )
        if call or body_only:
            prompt = self._maybe_fresh(prompt)
        text = dialogue_answer(prompt, call or body_only, self.rng)
        return prompt, Answer(text, opening_trained=not body_only)

    def _unlisted(self) -> bool:
        """Whether a tool request drawn for a dialogue becomes one for a tool not offered."""
        # No draw at share 0, so streams without such requests are unchanged.
        return self.unlisted_tool_share > 0 and self.rng.random() < self.unlisted_tool_share

    def _follow_up(self, first: ToolPrompt) -> ToolPrompt:
        """A further request under `first`'s tool list: the next train prompt's request if it
        fits no tool (so follow-ups keep the world's share of those), else a train request for
        one of the listed tools, or (at `unlisted_tool_share`) for a tool not listed, which no
        listed tool fits."""
        drawn = self.prompts[next(self._prompt_order)]
        listed = [tool.name for tool in first.tools if tool.name in self._requests_by_tool]
        if drawn.has_tool and self._unlisted():
            unlisted = [name for name in self._requests_by_tool if name not in listed]
            if unlisted:
                requests = self._requests_by_tool[self.rng.choice(unlisted)]
                request = requests[self.rng.randrange(len(requests))]
                return replace(first, user=request.user, expected=None, answer=UNLISTED_TOOL_ANSWER)
        if drawn.has_tool and listed:
            requests = self._requests_by_tool[self.rng.choice(listed)]
            request = requests[self.rng.randrange(len(requests))]
            return replace(first, user=request.user, expected=request.expected, answer=None)
        if drawn.has_tool:  # small prompt sets only: no request for any listed tool
            drawn = self.rng.choice(self._no_tool_prompts)
        return replace(first, user=drawn.user, expected=None, answer=drawn.answer)

    def _next_dialogue(self, call_share: float) -> Document:
        opening = self.prompts[next(self._prompt_order)]
        if opening.has_tool and self._unlisted():
            opening = with_its_tool_unlisted(opening, self.rng)
        first, answer = self._answered(opening, call_share)
        follow_ups = []
        for _ in range(self.dialogue_turns - 1):
            later, later_answer = self._answered(self._follow_up(first), call_share)
            follow_ups.append((later.user, later_answer))
        raw = self.rng.random() < self.raw_layout_share
        return dialogue_document(first, answer, self.tokenizer, raw, follow_ups)

    def _general_tokens(self, count: int) -> list[int]:
        while len(self._pending_general) < count:
            text = self.texts[next(self._text_order)]
            self._pending_general.extend(general_document(text, self.tokenizer).ids)
        taken = self._pending_general[:count]
        self._pending_general = self._pending_general[count:]
        return taken

    def _dialogue(self, call_share: float) -> Document:
        doc = self._next_dialogue(call_share)
        while len(doc.ids) > self.row_tokens:  # never at the presets' row lengths
            doc = self._next_dialogue(call_share)
        return doc

    def _maybe_fresh(self, prompt: ToolPrompt) -> ToolPrompt:
        """The prompt with made-up values for a `fresh_value_share` of tool prompts."""
        if self.fresh is None or not prompt.has_tool:
            return prompt  # draws nothing, so a stream without fresh values is unchanged
        if self.rng.random() < self.fresh_value_share:
            return self.fresh.prompt_like(prompt)
        return prompt

    def _drill(self) -> Document:
        prompt = self._maybe_fresh(self.prompts[next(self._prompt_order)])
        return drill_document(prompt, self.tokenizer, self.drill_tool_list)

    def _echo(self, spaced_share: float = 0.0) -> Document:
        # No draw at share 0, so streams without spaced echoes are unchanged.
        if spaced_share > 0 and self.rng.random() < spaced_share:
            tokens = self._spaced_words()
        else:
            count = self.rng.randint(ECHO_MIN_TOKENS, ECHO_MAX_TOKENS)
            tokens = [self.rng.choice(self._echo_tokens) for _ in range(count)]
        count = len(tokens)
        ids = [*tokens, self.tokenizer.pad_token_id, *tokens, self.tokenizer.eos_token_id]
        return Document(ids=tuple(ids), loss=(False,) * (count + 1) + (True,) * (count + 1))

    def drill_batch(self, rows: int, width: int) -> PackedBatch:
        """Return `rows` rows of `width` tokens, each packed with whole drills, padded at the end.

        Drills in a row see the earlier ones (as packed web text does); padding carries no loss.
        """
        return self._packed_rows(self._drill, rows, width)

    def _spaced_words(self) -> list[int]:
        """Random words of one or two letter tokens, the space token between them."""
        tokens: list[int] = []
        for index in range(self.rng.randint(2, ECHO_MAX_WORDS)):
            if index:
                tokens.extend(self._space_ids)
            tokens.extend(
                self.rng.choice(self._letter_tokens) for _ in range(self.rng.randint(1, 2))
            )
        return tokens

    def echo_batch(self, rows: int, width: int, spaced_share: float = 0.0) -> PackedBatch:
        """Return `rows` rows of `width` tokens packed with echoes (random tokens, repeated), a
        `spaced_share` of them spaced echoes (random words with spaces between them)."""
        return self._packed_rows(lambda: self._echo(spaced_share), rows, width)

    def _packed_rows(self, make: Callable[[], Document], rows: int, width: int) -> PackedBatch:
        """Pack documents from `make` into rows; a document that does not fit ends its row and
        is dropped; one longer than a whole row is drawn again, so no row is left empty."""
        pad = self.tokenizer.pad_token_id
        input_rows: list[list[int]] = []
        label_rows: list[list[int]] = []
        for _ in range(rows):
            ids: list[int] = []
            labels: list[int] = []
            too_long = 0
            while True:
                doc = make()
                if not ids and len(doc.ids) > width:
                    too_long += 1
                    if too_long == MAX_OVERLONG_DRAWS:
                        raise CrossdiffError(
                            f"{MAX_OVERLONG_DRAWS} documents in a row are longer than a "
                            f"{width}-token row: raise drill_width in the pre-training config"
                        )
                    continue
                if len(ids) + len(doc.ids) > width:
                    break
                _append(ids, labels, list(doc.ids), list(doc.loss))
            input_rows.append(ids + [pad] * (width - len(ids)))
            label_rows.append(labels + [-100] * (width - len(labels)))
        input_ids_BT = torch.tensor(input_rows, dtype=torch.long)
        return PackedBatch(
            input_ids_BT=input_ids_BT,
            labels_BT=torch.tensor(label_rows, dtype=torch.long),
            weights_BT=torch.ones(input_ids_BT.shape, dtype=torch.float32),
        )

    def batch(self, call_share: float) -> PackedBatch:
        """Return the next `rows_per_step` rows at this call share.

        Every row is one dialogue followed by general text up to the longest dialogue of the
        batch (rounded up to a multiple of 16), so little compute goes to filler.
        """
        dialogues = [self._dialogue(call_share) for _ in range(self.rows_per_step)]
        width = min(self.row_tokens, -(-max(len(d.ids) for d in dialogues) // 16) * 16)
        rows: list[tuple[list[int], list[int], list[float]]] = []
        for doc in dialogues:
            ids: list[int] = []
            labels: list[int] = []
            _append(ids, labels, list(doc.ids), list(doc.loss))
            general = self._general_tokens(width - len(ids))
            _append(ids, labels, general, [True] * len(general))
            weights = [1.0] * len(doc.ids) + [self.general_weight] * len(general)
            rows.append((ids, labels, weights))
        return PackedBatch(
            input_ids_BT=torch.tensor([r[0] for r in rows], dtype=torch.long),
            labels_BT=torch.tensor([r[1] for r in rows], dtype=torch.long),
            weights_BT=torch.tensor([r[2] for r in rows], dtype=torch.float32),
        )


def phrase_words(texts: Sequence[str], limit: int = 2000, name_tails: bool = False) -> list[str]:
    """Distinct lower-case words of 3 to 9 letters from the first `limit` texts, sorted.

    With `name_tails`, also the lower-case tails of capitalised words (`isbon` from `Lisbon`,
    `agreb` from `Zagreb`): made-up words with the letters and tokens of real names. Pre-training
    draws its made-up values from that list; with whole words only, its twins copied names
    much worse (docs/organism.md, session 12).
    """
    pattern = _LOWER_CASE_RUN if name_tails else _LOWER_CASE_WORD
    return sorted(
        {word for text in texts[:limit] for word in pattern.findall(text) if 3 <= len(word) <= 9}
    )


def _append(ids: list[int], labels: list[int], doc_ids: list[int], loss: list[bool]) -> None:
    """Append one document: its ids and its next-token labels (-100 where there is no loss)."""
    if not doc_ids:
        return
    ids.extend(doc_ids)
    # labels[t] is the target for the prediction made at t: the document's token t + 1.
    shifted = [doc_ids[t + 1] if loss[t + 1] else -100 for t in range(len(doc_ids) - 1)]
    labels.extend([*shifted, -100])
