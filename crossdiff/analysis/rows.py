"""Row metadata of an activation store as columns: which text, position and token each row is.

`RowTable` is built once from the store's row columns (`RowTable.from_store`), so the analysis
can select rows and look up token contexts with array operations instead of Python loops over
rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from crossdiff.activations.store import ActivationStore
from crossdiff.analysis.config import source_matches
from crossdiff.errors import CrossdiffError
from crossdiff.seeding import derive_seed

ROW_KEYS = ("source", "text_id", "text_index", "position", "token_id")


@dataclass(frozen=True)
class RowTable:
    """Per-row columns (length n) plus the distinct source labels."""

    text_index: np.ndarray  # int64, index into the store's texts table
    position: np.ndarray  # int64, token position within the text
    token_id: np.ndarray  # int64
    source_index: np.ndarray  # int64, index into `sources`
    sources: tuple[str, ...]
    text_ids: tuple[str, ...]  # per row

    def __len__(self) -> int:
        return int(self.text_index.shape[0])

    @staticmethod
    def from_rows(rows: Sequence[dict[str, Any]], where: str = "store rows") -> RowTable:
        """Build the table from dicts with source, text_id, text_index, position, token_id."""
        if rows:
            missing = [key for key in ROW_KEYS if key not in rows[0]]
            if missing:
                raise CrossdiffError(
                    f"{where}: rows lack fields {missing}; expected {list(ROW_KEYS)} "
                    "(collect the store again with the current crossdiff)"
                )
        labels = [str(row["source"]) for row in rows]
        sources = tuple(dict.fromkeys(labels))
        lookup = {label: i for i, label in enumerate(sources)}
        return RowTable(
            text_index=np.array([row["text_index"] for row in rows], dtype=np.int64),
            position=np.array([row["position"] for row in rows], dtype=np.int64),
            token_id=np.array([row["token_id"] for row in rows], dtype=np.int64),
            source_index=np.array([lookup[label] for label in labels], dtype=np.int64),
            sources=sources,
            text_ids=tuple(str(row["text_id"]) for row in rows),
        )

    @staticmethod
    def from_store(store: ActivationStore) -> RowTable:
        """Build the table from an activation store's row columns and texts table."""
        columns = store.row_columns()
        text_index = columns["text_index"].numpy().astype(np.int64)
        texts = store.texts()
        # sources in the order their first row appears, as `from_rows` orders them
        first_rows = np.unique(text_index, return_index=True)[1]
        texts_in_order = text_index[np.sort(first_rows)].tolist()
        sources = tuple(dict.fromkeys(str(texts[i]["source"]) for i in texts_in_order))
        lookup = {label: i for i, label in enumerate(sources)}
        source_of_text = np.array(
            [lookup.get(str(text["source"]), -1) for text in texts], dtype=np.int64
        )
        text_id_of_text = [str(text["text_id"]) for text in texts]
        return RowTable(
            text_index=text_index,
            position=columns["position"].numpy().astype(np.int64),
            token_id=columns["token_id"].numpy().astype(np.int64),
            source_index=source_of_text[text_index],
            sources=sources,
            text_ids=tuple(text_id_of_text[i] for i in text_index.tolist()),
        )

    def source_mask(self, selectors: tuple[str, ...]) -> np.ndarray:
        """Boolean (n,) mask of rows whose source matches any selector."""
        chosen = [i for i, label in enumerate(self.sources) if source_matches(label, selectors)]
        return np.isin(self.source_index, chosen)

    def last_rows(self) -> np.ndarray:
        """Indices of each text's last row (largest position), sorted by text index."""
        order = np.lexsort((self.position, self.text_index))
        texts = self.text_index[order]
        is_last = np.append(texts[1:] != texts[:-1], True) if texts.size else texts.astype(bool)
        return order[is_last]

    def token_order(self) -> tuple[np.ndarray, np.ndarray]:
        """(order, starts): rows sorted by (text, position), and each sorted row's text start.

        `starts[k]` is the position in `order` of the first row of the text of `order[k]`.
        """
        order = np.lexsort((self.position, self.text_index))
        texts = self.text_index[order]
        new_text = np.ones(texts.size, dtype=bool)
        new_text[1:] = texts[1:] != texts[:-1]
        starts = np.maximum.accumulate(np.where(new_text, np.arange(texts.size), 0))
        return order, starts


def sample_rows(rows: np.ndarray, limit: int | None, seed: int, label: str) -> np.ndarray:
    """At most `limit` of `rows`, a seeded sample kept in store order (all when limit is None)."""
    if limit is None or rows.size <= limit:
        return rows
    generator = np.random.default_rng(derive_seed(seed, "analysis-sample", label))
    return np.sort(generator.choice(rows, size=limit, replace=False))
