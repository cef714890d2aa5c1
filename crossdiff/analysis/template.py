"""Template detectors: features whose strongest activations all sit on one fixed token n-gram.

Definition. Take a feature's top-N activating rows (N = `AnalysisConfig.top_examples`, only rows
where it fired). For each, its n-gram is the token ids at positions p − n + 1 .. p of the same text
(the firing token and the n − 1 tokens before it; a position that is not in the store counts as
a MISSING token). The modal n-gram is the most frequent one (ties: the one whose first occurrence
ranks highest). The feature is a template detector when
  - at least `template_min_examples` top rows fired,
  - the modal n-gram covers ≥ `template_share` of them, and
  - those covered rows come from ≥ `template_min_texts` distinct texts (a fragment repeated
    inside one text is not a template),
  - the modal n-gram contains at least one stored token before the firing token (with `last`
    positions there is no context, and nothing can be said: the flag is None).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossdiff.analysis.context import MISSING, TokenContext
from crossdiff.analysis.rows import RowTable
from crossdiff.analysis.topk import TopActivations


@dataclass(frozen=True)
class TemplateFlags:
    """Per-feature template-detector results; arrays of length D."""

    share: np.ndarray  # share of fired top rows on the modal n-gram (NaN: none fired)
    ngram: np.ndarray  # (D, n) token ids of the modal n-gram (MISSING-filled if none)
    distinct_texts: np.ndarray  # texts among the rows on the modal n-gram
    fired_examples: np.ndarray  # fired rows among the top N
    flag: np.ndarray  # object array of True / False / None (undecidable: no context)


def template_flags(
    top: TopActivations,
    rows: RowTable,
    ngram: int = 3,
    share: float = 0.8,
    min_examples: int = 5,
    min_texts: int = 3,
    context: TokenContext | None = None,
) -> TemplateFlags:
    """Template-detector flags of every feature from its top rows (see the module docstring)."""
    context = context or TokenContext(rows)
    top_rows = top.rows  # (D, N)
    fired = top_rows >= 0
    grams = context.ngram_ids(top_rows, ngram)  # (D, N, n)
    # Same n-gram <=> all n ids equal; compare every pair of slots of a feature (N is small).
    same = (grams[:, :, None, :] == grams[:, None, :, :]).all(axis=-1)
    same &= fired[:, :, None] & fired[:, None, :]
    counts = same.sum(axis=2)  # (D, N): how many fired slots share slot j's n-gram
    modal_slot = counts.argmax(axis=1)  # first slot with the largest count
    modal_count = counts[np.arange(counts.shape[0]), modal_slot]
    fired_count = fired.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share_modal = np.where(fired_count > 0, modal_count / np.maximum(fired_count, 1), np.nan)
    modal_gram = grams[np.arange(grams.shape[0]), modal_slot]  # (D, n)
    on_modal = same[np.arange(same.shape[0]), modal_slot]  # (D, N)
    texts = np.where(on_modal, rows.text_index[np.maximum(top_rows, 0)], -1)
    distinct = _distinct_non_negative(texts)
    has_context = (modal_gram[:, :-1] != MISSING).any(axis=1) if ngram > 1 else fired_count > 0
    decided = (fired_count >= min_examples) & (share_modal >= share) & (distinct >= min_texts)
    flag = np.where(has_context, decided, None).astype(object)
    flag[fired_count == 0] = False
    return TemplateFlags(
        share=share_modal,
        ngram=np.where(fired_count[:, None] > 0, modal_gram, MISSING),
        distinct_texts=distinct,
        fired_examples=fired_count,
        flag=flag,
    )


def _distinct_non_negative(values: np.ndarray) -> np.ndarray:
    """Per row of a 2-D int array, the number of distinct values ≥ 0."""
    ordered = np.sort(values, axis=1)
    new = np.ones_like(ordered, dtype=bool)
    new[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    return (new & (ordered >= 0)).sum(axis=1)
