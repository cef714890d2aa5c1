"""Constructed row tables for the analysis tests: texts as lists of word tokens."""

from __future__ import annotations

from crossdiff.analysis import RowTable

VOCAB = ["<pad>", "you", "have", "tools", ":", "the", "cat", "sat", "on", "mat", "call", "it"]
IDS = {word: i for i, word in enumerate(VOCAB)}


def decode(ids) -> str:
    """Word tokens joined by spaces (a stand-in for tokenizer.decode)."""
    return " ".join(VOCAB[int(i)] for i in ids)


def table(texts: list[list[str]], sources: list[str] | None = None) -> RowTable:
    """One row per word of every text, in text order (an `all`-positions store)."""
    rows = []
    for index, words in enumerate(texts):
        source = sources[index] if sources else "tool_prompts:dev"
        for position, word in enumerate(words):
            rows.append(
                {
                    "source": source,
                    "text_id": f"t{index}",
                    "text_index": index,
                    "position": position,
                    "token_id": IDS[word],
                }
            )
    return RowTable.from_rows(rows)
