"""Which token positions an intervention edits at each forward step of generation.

Policies: `last_prompt_token` (the study: the last prompt token, during prefill only),
`prompt` (every real prompt token, prefill only) and `all` (every prompt token and every
generated token). Prompts are left-padded, so the last prompt token is the last column of the
prefill for every row.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from crossdiff.errors import CrossdiffError

Policy = Literal["last_prompt_token", "prompt", "all"]
POLICIES: tuple[str, ...] = ("last_prompt_token", "prompt", "all")
Phase = Literal["prefill", "decode"]


def edit_mask(
    policy: Policy,
    phase: Phase,
    input_ids_BT: Tensor,
    attention_mask_BL: Tensor | None,
    skip_token_ids: frozenset[int] = frozenset(),
) -> Tensor | None:
    """A (batch, t) bool mask of the current step's columns to edit, or None when none are.

    `attention_mask_BL` covers the cache plus the current step (its last t columns are the
    current tokens); None means no padding. Tokens in `skip_token_ids` (e.g. BOS) are never
    edited under the `prompt` and `all` policies.
    """
    if phase == "decode" and policy != "all":
        return None
    batch, steps = input_ids_BT.shape
    if attention_mask_BL is None:
        current = torch.ones(batch, steps, dtype=torch.bool, device=input_ids_BT.device)
    else:
        current = attention_mask_BL[:, -steps:].bool()
    if policy == "last_prompt_token":
        if not bool(current[:, -1].all()):
            raise CrossdiffError(
                "the last_prompt_token policy needs left-padded prompts (a pad token was found "
                "in the last column): set tokenizer.padding_side = 'left'"
            )
        mask = torch.zeros_like(current)
        mask[:, -1] = True
        return mask
    if skip_token_ids:
        skip = torch.tensor(sorted(skip_token_ids), device=input_ids_BT.device)
        current = current & ~torch.isin(input_ids_BT, skip)
    return current
