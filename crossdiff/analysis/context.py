"""Token context of a store row: the ids around it in its own text, looked up without loops.

The store keeps one row per collected token. Rows of the same text are found by sorting the rows
by (text, position) once; a token at position p − k of the same text is present only if it was
collected (special tokens and, with `last` positions, every earlier token are not).
"""

from __future__ import annotations

import numpy as np

from crossdiff.analysis.rows import RowTable

MISSING = -1


class TokenContext:
    """Looks up the token ids at given offsets from given rows."""

    def __init__(self, rows: RowTable) -> None:
        self.rows = rows
        self.order, _ = rows.token_order()
        width = int(rows.position.max()) + 2 if len(rows) else 1
        # One sortable key per (text, position); positions are offset by 1 so p − k ≥ −1 stays ≥ 0.
        self.width = width
        self.keys = rows.text_index[self.order] * width + rows.position[self.order] + 1

    def row_at_offset(self, row_indices: np.ndarray, offset: int | np.ndarray) -> np.ndarray:
        """The row holding position p + offset of each given row's text (MISSING if not stored).

        `offset` is one integer or an array broadcast against `row_indices`.
        """
        rows = np.asarray(row_indices, dtype=np.int64)
        valid = rows >= 0
        safe = np.where(valid, rows, 0)
        target_position = self.rows.position[safe] + offset
        inside = valid & (target_position >= -1) & (target_position + 1 < self.width)
        target = self.rows.text_index[safe] * self.width + target_position + 1
        slot = np.searchsorted(self.keys, target)
        slot = np.clip(slot, 0, max(self.keys.size - 1, 0))
        found = inside & (self.keys.size > 0) & (self.keys[slot] == target)
        return np.where(found, self.order[slot], MISSING)

    def ngram_ids(self, row_indices: np.ndarray, length: int) -> np.ndarray:
        """Token ids at positions p − length + 1 .. p of each row's text; shape (..., length).

        Positions that were not stored (or lie before the text) are MISSING; rows that are
        MISSING give all-MISSING n-grams.
        """
        rows = np.asarray(row_indices, dtype=np.int64)
        out = np.full((*rows.shape, length), MISSING, dtype=np.int64)
        for k in range(length):  # a loop over the n-gram length only
            found = self.row_at_offset(rows, -(length - 1 - k))
            out[..., k] = np.where(found >= 0, self.rows.token_id[np.maximum(found, 0)], MISSING)
        return out
