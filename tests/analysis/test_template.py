"""The template-detector flag on constructed cases."""

from __future__ import annotations

import numpy as np
import torch

from crossdiff.analysis import RowTable, template_flags, top_activations

from .rowdata import IDS, table

TEMPLATE = ["you", "have", "tools", ":"]


def texts_with_template(count: int) -> list[list[str]]:
    """Texts whose template sits at varying offsets, followed by varied words."""
    fillers = [["the"], ["the", "cat"], [], ["sat", "on", "the"], ["mat"]]
    return [fillers[i % 5] + TEMPLATE + ["cat", "sat"][: 1 + i % 2] for i in range(count)]


def firing_on(rows: RowTable, predicate) -> torch.Tensor:
    codes = torch.zeros(len(rows), 1)
    for r in range(len(rows)):
        if predicate(r):
            codes[r, 0] = 1.0 + 0.01 * r
    return codes


def test_a_feature_on_the_template_trigram_is_flagged() -> None:
    rows = table(texts_with_template(8))
    colon = IDS[":"]
    codes = firing_on(rows, lambda r: rows.token_id[r] == colon)
    flags = template_flags(top_activations(codes, 20), rows, ngram=3)
    assert flags.flag[0] is True
    assert flags.share[0] == 1.0 and flags.distinct_texts[0] == 8
    assert flags.ngram[0].tolist() == [IDS["have"], IDS["tools"], IDS[":"]]


def test_a_feature_on_varied_contexts_is_not_flagged() -> None:
    rows = table(texts_with_template(8))
    the = IDS["the"]
    cat = IDS["cat"]
    codes = firing_on(rows, lambda r: rows.token_id[r] in (the, cat))
    flags = template_flags(top_activations(codes, 20), rows, ngram=3)
    assert flags.flag[0] is False
    assert flags.share[0] < 0.8


def test_share_threshold_and_minimum_counts() -> None:
    rows = table(texts_with_template(8))
    colon, cat = IDS[":"], IDS["cat"]
    # 8 template hits and 8 "cat" hits in different contexts: the modal share is at most 8/16.
    mixed = firing_on(rows, lambda r: rows.token_id[r] in (colon, cat))
    assert template_flags(top_activations(mixed, 20), rows).flag[0] is False
    assert template_flags(top_activations(mixed, 20), rows, share=0.4).flag[0] is True
    # Too few firing examples for a verdict.
    few = firing_on(rows, lambda r: rows.token_id[r] == colon and rows.text_index[r] < 3)
    assert template_flags(top_activations(few, 20), rows).flag[0] is False
    assert template_flags(top_activations(few, 20), rows, min_examples=3).flag[0] is True


def test_one_text_repeating_a_fragment_is_not_a_template() -> None:
    rows = table([TEMPLATE * 6, ["the", "cat"]])
    codes = firing_on(rows, lambda r: rows.token_id[r] == IDS[":"])
    flags = template_flags(top_activations(codes, 20), rows)
    assert flags.share[0] == 1.0 and flags.distinct_texts[0] == 1
    assert flags.flag[0] is False


def test_last_position_stores_give_no_verdict() -> None:
    rows = RowTable.from_rows(
        [
            {
                "source": "tool_prompts:dev",
                "text_id": f"t{i}",
                "text_index": i,
                "position": 30,
                "token_id": IDS[":"],
            }
            for i in range(10)
        ]
    )
    codes = torch.ones(10, 2)
    codes[:, 1] = 0.0
    flags = template_flags(top_activations(codes, 20), rows)
    assert flags.flag[0] is None  # no stored context before the firing token
    assert flags.flag[1] is False  # never fired
    assert np.isnan(flags.share[1])
