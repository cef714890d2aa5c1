"""How well a model knows the right call token by token: teacher-forced accuracy by kind of token.

Greedy generation scores a call as a whole, and one wrong token spoils it. Feeding the reference
call instead and asking, at every token, whether the model's most likely next token is the right
one shows *which* part it has not learned: the tool's name, the parameter names, the first token
of a value (finding it in the request), the value's later tokens (copying it on), where the value
ends, or the JSON around them. The answer's first token is `call_start` (would the model begin a
call at all?); each later token gets the kind of the first span of `ToolCall.text_with_spans` it
overlaps:

- `tool_name`, `parameter_name`;
- `value_first` (the first token of a value); its later tokens split by what the model must copy:
  `value_space` (a space inside the value: it goes on past a word), `value_after_space` (the first
  token of a later word, which a one-token induction head cannot tell from the space before it)
  and `value_rest` (the others: a word or a number copied on piece by piece);
- `value_end` (the token after a value's last one: the closing quote or separator, where a model
  that cuts values short goes wrong);
- `structure` (the other tags, braces, quotes, separators) and `end_of_turn` (the eos token after
  the call).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from crossdiff.errors import CrossdiffError
from crossdiff.evals.evaluate import render_prompts
from crossdiff.evals.generate import left_pad, pad_token_id
from crossdiff.world import ToolPrompt

TOKEN_KINDS = (
    "call_start",
    "tool_name",
    "parameter_name",
    "value_first",
    "value_rest",
    "value_space",
    "value_after_space",
    "value_end",
    "structure",
    "end_of_turn",
)


@dataclass(frozen=True)
class ReferenceTokenAccuracy:
    """Counts of reference-call tokens the model predicts (argmax) right, by kind."""

    correct: dict[str, int]
    total: dict[str, int]
    answers_right_once_called: int  # answers whose every token after the first is right
    n_answers: int

    def to_dict(self) -> dict[str, Any]:
        """Per kind {"correct", "total", "accuracy"} (accuracy None without tokens), and the
        share of answers whose every token after `call_start` is predicted right
        (`all_right_once_called_rate`: the calls greedy decoding would write once begun)."""
        kinds = {
            kind: {
                "correct": self.correct[kind],
                "total": self.total[kind],
                "accuracy": self.correct[kind] / self.total[kind] if self.total[kind] else None,
            }
            for kind in TOKEN_KINDS
        }
        rate = self.answers_right_once_called / self.n_answers if self.n_answers else None
        return {**kinds, "n_answers": self.n_answers, "all_right_once_called_rate": rate}


def reference_token_kinds(prompt: ToolPrompt, tokenizer: Any) -> tuple[list[int], list[str]]:
    """The token ids of `prompt`'s reference answer (the call, then eos) and each one's kind."""
    if prompt.expected is None:
        raise CrossdiffError(f"prompt {prompt.id!r} has no fitting tool, so no reference call")
    if not getattr(tokenizer, "is_fast", False):
        raise CrossdiffError("reference token kinds need a fast tokenizer (character offsets)")
    if tokenizer.eos_token_id is None:
        raise CrossdiffError("the tokenizer has no eos token to end the reference answer with")
    text, spans = prompt.expected.text_with_spans()
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    kinds: list[str] = []
    seen_values: set[int] = set()
    for start, end in encoded["offset_mapping"]:
        index = next(
            (i for i, span in enumerate(spans) if start < span.end and span.start < end), None
        )
        in_value = index is not None and spans[index].kind == "value"
        after_value = bool(kinds) and kinds[-1].startswith("value_") and kinds[-1] != "value_end"
        if in_value:
            kinds.append(_value_token_kind(text[start:end], index in seen_values, kinds))
            seen_values.add(index)
        elif after_value:
            kinds.append("value_end")
        else:
            kinds.append("structure" if index is None else spans[index].kind)
    kinds[0] = "call_start"
    return [*encoded["input_ids"], tokenizer.eos_token_id], [*kinds, "end_of_turn"]


def _value_token_kind(piece: str, later: bool, kinds_before: list[str]) -> str:
    """The kind of a token inside a value (see the module docstring)."""
    if not later:
        return "value_first"
    if piece.isspace():
        return "value_space"
    return "value_after_space" if kinds_before[-1] == "value_space" else "value_rest"


def reference_token_accuracy(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[ToolPrompt],
    chat_template: bool = True,
    batch_size: int = 16,
) -> ReferenceTokenAccuracy:
    """Teacher-forced argmax accuracy of `model` on the reference call of every prompt with a
    fitting tool (no-tool prompts are skipped), by kind of token (see the module docstring).

    The answer is tokenised on its own after the rendered prompt, as generation sees it.
    """
    with_tool = [prompt for prompt in prompts if prompt.expected is not None]
    if not with_tool:
        raise CrossdiffError("reference token accuracy needs prompts with a fitting tool")
    texts = render_prompts(with_tool, tokenizer, chat_template)
    correct = dict.fromkeys(TOKEN_KINDS, 0)
    total = dict.fromkeys(TOKEN_KINDS, 0)
    right_once_called = 0
    pad = pad_token_id(tokenizer)
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(with_tool), batch_size):
            batch = with_tool[start : start + batch_size]
            answers = [reference_token_kinds(prompt, tokenizer) for prompt in batch]
            rows = [
                tokenizer(text, add_special_tokens=False)["input_ids"] + ids
                for text, (ids, _) in zip(texts[start : start + batch_size], answers, strict=True)
            ]
            ids_BT, mask_BT = left_pad(rows, pad)
            keep = max(len(ids) for ids, _ in answers) + 1
            with torch.no_grad():
                logits_BKV = model(
                    input_ids=ids_BT,
                    attention_mask=mask_BT,
                    position_ids=(mask_BT.cumsum(-1) - 1).clamp(min=0),
                    logits_to_keep=keep,
                ).logits
            predicted_BK = logits_BKV.argmax(dim=-1)
            for row, (ids, kinds) in enumerate(answers):
                # the kept logits end at the last token; token j of an answer of length n is
                # predicted from the position just before it: kept index keep - n - 1 + j
                first = keep - len(ids) - 1
                guesses = predicted_BK[row, first : first + len(ids)].tolist()
                hits = [guess == want for guess, want in zip(guesses, ids, strict=True)]
                for kind, hit in zip(kinds, hits, strict=True):
                    correct[kind] += hit
                    total[kind] += 1
                right_once_called += all(hits[1:])
    finally:
        model.train(was_training)
    return ReferenceTokenAccuracy(correct, total, right_once_called, len(with_tool))
