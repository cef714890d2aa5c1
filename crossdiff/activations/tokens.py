"""Tokenise a batch of texts once for both models, pad it, and choose the positions to keep."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor
from transformers import PreTrainedTokenizerBase

from crossdiff.activations.sources import TextRecord

Positions = Literal["last", "all"]
PaddingSide = Literal["right", "left"]


@dataclass
class TokenBatch:
    """A padded batch: ids, attention mask, special-token mask and (left padding) position ids."""

    input_ids: Tensor  # (B, T) int64
    attention_mask: Tensor  # (B, T) int64, 1 = real token
    special_mask: Tensor  # (B, T) bool, True = a special token (BOS, chat markers, ...)
    position_ids: Tensor | None  # (B, T) when left-padded, else None (the model's default)

    @property
    def text_positions(self) -> Tensor:
        """Each token's position within its own text (0 at the first real token)."""
        return (self.attention_mask.cumsum(dim=1) - 1).clamp_min(0)


def _pad_id(tokenizer: PreTrainedTokenizerBase) -> int:
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if candidate is not None:
            return int(candidate)
    return 0


def tokenize_batch(
    tokenizer: PreTrainedTokenizerBase,
    records: Sequence[TextRecord],
    max_length: int,
    positions: Positions,
    padding_side: PaddingSide = "right",
) -> TokenBatch:
    """Tokenise `records` and pad them into one batch.

    Texts longer than `max_length` tokens are cut: for `last` the end is kept (the last prompt
    token is what is collected), for `all` the beginning.
    """
    ids: list[list[int]] = [[] for _ in records]
    for flag in (True, False):
        chosen = [i for i, record in enumerate(records) if record.add_special_tokens is flag]
        if chosen:
            encoded = tokenizer(
                [records[i].text for i in chosen], add_special_tokens=flag, truncation=False
            )["input_ids"]
            for i, row in zip(chosen, encoded, strict=True):
                ids[i] = list(row)
    ids = [row[-max_length:] if positions == "last" else row[:max_length] for row in ids]
    length = max(1, max(len(row) for row in ids))
    input_ids = torch.full((len(ids), length), _pad_id(tokenizer), dtype=torch.long)
    attention_mask = torch.zeros((len(ids), length), dtype=torch.long)
    for i, row in enumerate(ids):
        if not row:
            continue
        span = slice(0, len(row)) if padding_side == "right" else slice(length - len(row), length)
        input_ids[i, span] = torch.tensor(row, dtype=torch.long)
        attention_mask[i, span] = 1
    special_ids = torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=torch.long)
    special_mask = torch.isin(input_ids, special_ids) & attention_mask.bool()
    batch = TokenBatch(input_ids, attention_mask, special_mask, None)
    if padding_side == "left":
        batch.position_ids = batch.text_positions
    return batch


def select_positions(batch: TokenBatch, positions: Positions) -> tuple[Tensor, Tensor]:
    """(row, column) indices of the tokens to collect, grouped by text in token order.

    `last`: the last real (non-padding) token of each text, whatever the padding side.
    `all`: every real token except special tokens (BOS, chat-template markers).
    """
    real = batch.attention_mask.bool()
    if positions == "last":
        length = real.shape[1]
        columns = torch.arange(length).expand_as(real)
        last = torch.where(real, columns, -1).amax(dim=1)
        rows = torch.arange(real.shape[0])
        has_token = last >= 0
        return rows[has_token], last[has_token]
    keep = real & ~batch.special_mask
    rows, columns = keep.nonzero(as_tuple=True)
    return rows, columns
