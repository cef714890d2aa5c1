"""Max-activating examples: a feature's top rows rendered as text with the firing token marked.

Works from the top rows (see `topk.py`), the store's row metadata and texts, and a `decode`
function (token ids -> text, e.g. `tokenizer.decode`); it never runs a model. The context shown is
the stored tokens of the same text around the firing one, so it is exact for stores collected at
`all` positions. A text with a single stored row (`last` positions) is shown from the texts table:
its tail, with the final token marked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from crossdiff.analysis.context import TokenContext
from crossdiff.analysis.rows import RowTable
from crossdiff.analysis.topk import TopActivations

MARK_OPEN, MARK_CLOSE = "⟦", "⟧"
TAIL_CHARS = 160
Decode = Callable[[Sequence[int]], str]


@dataclass(frozen=True)
class ActivatingExample:
    """One max-activating example of a feature."""

    row: int
    source: str
    text_id: str
    text_index: int
    position: int
    token_id: int
    activation: float
    rendered: str  # context with the firing token marked ⟦like this⟧

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return asdict(self)


def ids_decoder(ids: Sequence[int]) -> str:
    """A decode function for when no tokenizer is available: '<id>' per token."""
    return "".join(f"<{int(i)}>" for i in ids)


def render_row(
    row: int,
    rows: RowTable,
    context: TokenContext,
    decode: Decode,
    texts: Mapping[int, str],
    before: int,
    after: int,
) -> str:
    """The text around one row with its token marked, from the stored tokens of its text."""
    left = context.row_at_offset(np.full(before, row), np.arange(-before, 0))
    right = context.row_at_offset(np.full(after, row), np.arange(1, after + 1))
    left_ids = rows.token_id[left[left >= 0]].tolist()
    right_ids = rows.token_id[right[right >= 0]].tolist()
    token = decode([int(rows.token_id[row])])
    if not left_ids and not right_ids:
        return _render_from_text(texts.get(int(rows.text_index[row])), token)
    return decode(left_ids) + MARK_OPEN + token + MARK_CLOSE + decode(right_ids)


def _render_from_text(text: str | None, token: str) -> str:
    if text is not None and token and text.endswith(token):
        head = text[: len(text) - len(token)]
        return head[-TAIL_CHARS:] + MARK_OPEN + token + MARK_CLOSE
    tail = (text or "")[-TAIL_CHARS:]
    return tail + MARK_OPEN + token + MARK_CLOSE


def max_activating_examples(
    top: TopActivations,
    features: Iterable[int],
    rows: RowTable,
    texts: Mapping[int, str],
    decode: Decode = ids_decoder,
    before: int = 24,
    after: int = 4,
    context: TokenContext | None = None,
) -> dict[int, list[ActivatingExample]]:
    """The rendered top examples of each feature in `features` (best first)."""
    context = context or TokenContext(rows)
    out: dict[int, list[ActivatingExample]] = {}
    for feature in features:
        examples = []
        for row, value in top.examples(int(feature)):
            examples.append(
                ActivatingExample(
                    row=int(row),
                    source=rows.sources[int(rows.source_index[row])],
                    text_id=rows.text_ids[row],
                    text_index=int(rows.text_index[row]),
                    position=int(rows.position[row]),
                    token_id=int(rows.token_id[row]),
                    activation=float(value),
                    rendered=render_row(row, rows, context, decode, texts, before, after),
                )
            )
        out[int(feature)] = examples
    return out
