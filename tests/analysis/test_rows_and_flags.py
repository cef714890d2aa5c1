"""Row selection for the ranking, the seeded sample, and the 'only looks exclusive' flag."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from safetensors.torch import load_file, save_file

from crossdiff.activations.store import TEXTS_FILE, ActivationStore
from crossdiff.activations.synthetic import write_synthetic_store
from crossdiff.analysis import AnalysisConfig, DecoderGeometry, LatentScaling
from crossdiff.analysis.pipeline import looks_exclusive_only
from crossdiff.analysis.rows import RowTable, sample_rows
from crossdiff.errors import CrossdiffError

from .rowdata import table


def test_last_rows_and_source_selection() -> None:
    rows = table(
        [["the", "cat"], ["call", "it", "the"], ["mat"]],
        sources=["tool_prompts:dev", "general:train", "tool_prompts_extra:x"],
    )
    np.testing.assert_array_equal(rows.last_rows(), [1, 4, 5])
    assert rows.source_mask(("tool_prompts",)).tolist() == [True, True, False, False, False, False]
    assert rows.source_mask(("general:train",)).sum() == 3


def test_table_from_store_columns_equals_table_from_row_dicts(tmp_path) -> None:
    write_synthetic_store(tmp_path / "s", 47, widths=(3, 5), shard_size=10, rows_per_text=4)
    labels = ["general:train", "tool_prompts:dev", "general:train", "other"]
    texts = [json.loads(line) for line in (tmp_path / "s" / TEXTS_FILE).read_text().splitlines()]
    lines = [
        json.dumps({**text, "source": labels[i % 4], "text_id": f"t{i}"})
        for i, text in enumerate(texts)
    ]
    (tmp_path / "s" / TEXTS_FILE).write_text("\n".join(lines) + "\n")
    store = ActivationStore(tmp_path / "s")
    from_columns = RowTable.from_store(store)
    from_dicts = RowTable.from_rows(store.rows())
    assert (
        from_columns.sources
        == from_dicts.sources
        == (
            "general:train",
            "tool_prompts:dev",
            "other",
        )
    )
    assert from_columns.text_ids == from_dicts.text_ids
    for name in ("text_index", "position", "token_id", "source_index"):
        np.testing.assert_array_equal(getattr(from_columns, name), getattr(from_dicts, name))
    assert len(from_columns) == 47


def test_a_store_without_row_fields_is_refused_with_the_fix(tmp_path) -> None:
    write_synthetic_store(tmp_path / "s", 20, widths=(3, 5), shard_size=10, rows_per_text=4)
    manifest_path = tmp_path / "s" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    first = manifest["shards"][0]
    shard = load_file(tmp_path / "s" / first["file"])
    del shard["token_id"]  # as a store written before rows carried their token ids
    save_file(shard, tmp_path / "s" / first["file"])
    first["bytes"] = (tmp_path / "s" / first["file"]).stat().st_size
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(CrossdiffError, match=r"lacks the row fields \['token_id'\].*collect"):
        RowTable.from_store(ActivationStore(tmp_path / "s"))


def test_sample_is_seeded_sorted_and_bounded() -> None:
    rows = np.arange(100, 200)
    first = sample_rows(rows, 10, seed=3, label="tool")
    assert first.size == 10 and (np.diff(first) > 0).all()
    np.testing.assert_array_equal(first, sample_rows(rows, 10, seed=3, label="tool"))
    assert not np.array_equal(first, sample_rows(rows, 10, seed=4, label="tool"))
    np.testing.assert_array_equal(sample_rows(rows, None, 0, "tool"), rows)


def test_looks_exclusive_only_flag() -> None:
    partition = np.array(["a_exclusive", "a_exclusive", "a_exclusive", "shared", "shared"])
    norm_class = np.array(["a_only", "a_only", "a_only", "shared", "b_only"], dtype=object)
    geometry = DecoderGeometry(
        norm_a=np.ones(5),
        norm_b=np.zeros(5),
        relative_norm=np.ones(5),
        cosine=np.full(5, np.nan),
        partition=partition.astype(object),
        norm_class=norm_class,
    )
    nan = np.nan
    scaling = LatentScaling(
        owner=np.array(["A"] * 5, dtype=object),
        beta_error=np.zeros((2, 5)),
        beta_reconstruction=np.zeros((2, 5)),
        nu_error=np.array([0.05, 0.9, nan, 0.9, 0.6]),
        nu_reconstruction=np.array([0.1, 0.0, nan, 0.9, nan]),
    )
    flags = looks_exclusive_only(geometry, scaling, ratio=0.5).tolist()
    # truly exclusive; base carries the direction; undefined; shared (not exclusive); B-only by norm
    assert flags == [False, True, None, False, True]


def test_config_refuses_bad_values() -> None:
    with pytest.raises(ValueError, match="min_tool_rate"):
        AnalysisConfig(min_tool_rate=1.5)
    with pytest.raises(ValueError, match="max_texts_per_group"):
        AnalysisConfig(max_texts_per_group=1)


def test_cli_prints_one_line_and_exits_2(tmp_path, monkeypatch, capsys) -> None:
    from crossdiff.cli import main

    argv = ["crossdiff", "analyze", "--crosscoder", str(tmp_path / "cc"), "--store", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith("error:") and "not found" in message
