"""Top activations per feature and rendered max-activating examples."""

from __future__ import annotations

import numpy as np
import torch

from crossdiff.analysis import RowTable, max_activating_examples, top_activations
from crossdiff.analysis.topk import TopActivationTracker

from .rowdata import decode, table


def test_streamed_top_rows_equal_a_full_sort() -> None:
    gen = torch.Generator().manual_seed(0)
    codes = torch.relu(torch.randn(103, 9, generator=gen))
    tracker = TopActivationTracker(9, 5)
    for start in range(0, 103, 10):
        tracker.add(codes[start : start + 10], start)
    top = tracker.result()
    for feature in range(9):
        column = codes[:, feature].numpy()
        expected = [r for r in np.argsort(-column, kind="stable")[:5] if column[r] > 0]
        got = [row for row, _ in top.examples(feature)]
        assert sorted(got) == sorted(expected)
        np.testing.assert_allclose([v for _, v in top.examples(feature)], -np.sort(-column)[:5])


def test_features_that_rarely_fire_keep_only_firing_rows() -> None:
    codes = torch.zeros(6, 2)
    codes[4, 1] = 3.0
    top = top_activations(codes, 3)
    assert top.examples(0) == []
    assert top.examples(1) == [(4, 3.0)]
    assert (top.rows[1] == [4, -1, -1]).all()


def test_examples_pick_the_right_rows_and_mark_the_token() -> None:
    rows = table([["the", "cat", "sat", "on", "the", "mat"], ["call", "the", "cat"]])
    codes = torch.zeros(len(rows), 1)
    codes[2, 0] = 5.0  # "sat" in text 0
    codes[8, 0] = 2.0  # "cat" in text 1
    top = top_activations(codes, 4)
    examples = max_activating_examples(top, [0], rows, {}, decode, before=2, after=1)[0]
    got = [(e.text_id, e.position, e.activation) for e in examples]
    assert got == [("t0", 2, 5.0), ("t1", 2, 2.0)]
    assert examples[0].rendered == "the cat⟦sat⟧on"
    assert examples[1].rendered == "call the⟦cat⟧"
    assert examples[0].source == "tool_prompts:dev" and examples[0].token_id == rows.token_id[2]


def test_last_position_rows_are_rendered_from_the_text() -> None:
    rows = RowTable.from_rows(
        [
            {
                "source": "general:train",
                "text_id": "g0",
                "text_index": 0,
                "position": 6,
                "token_id": 9,
            },
        ]
    )
    top = top_activations(torch.tensor([[1.5]]), 2)
    texts = {0: "the cat sat on the mat"}
    example = max_activating_examples(top, [0], rows, texts, decode)[0][0]
    assert example.rendered == "the cat sat on the ⟦mat⟧"
