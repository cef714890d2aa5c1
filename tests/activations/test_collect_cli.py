"""`crossdiff collect` end to end on tiny saved models, with the world's prompts and prose."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from crossdiff.activations.cli import parse_sources
from crossdiff.activations.store import ActivationStore
from crossdiff.cli import app, main
from crossdiff.errors import CrossdiffError
from crossdiff.world import load_split, save_prompts_jsonl


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, ["collect", *args, "--no-progress"])


def test_collect_world_inputs_end_to_end(
    tiny_pair_dirs: tuple[Path, Path], text_file: Path, tmp_path: Path
) -> None:
    prompts_file = tmp_path / "prompts.jsonl"
    save_prompts_jsonl(load_split("dev")[:2], prompts_file)
    out = tmp_path / "store"
    result = _run(
        "--model-a", str(tiny_pair_dirs[0]), "--model-b", str(tiny_pair_dirs[1]),
        "--hook-point", "resid_post.1", "--out", str(out),
        "--tool-prompts", "test40:3", "--general", "2", "--jsonl", str(prompts_file),
        "--text-file", str(text_file), "--shard-size", "4", "--dtype", "bf16",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "14 rows from 14 texts" in result.output
    store = ActivationStore(out)
    texts = store.texts()
    sources = [t["source"] for t in texts]
    assert (
        sources
        == ["tool_prompts:test40"] * 3
        + ["general:train"] * 2
        + ["jsonl:prompts.jsonl"] * 2
        + ["text_file:texts.txt"] * 7
    )
    assert [t["text_id"] for t in texts[:3]] == [p.id for p in load_split("test40")[:3]]
    assert texts[0]["text"].startswith("<|im_start|>system\n")
    assert texts[0]["text"].endswith("<|im_start|>assistant\n")
    assert store.manifest["dtype"] == "bf16" and store.manifest["chat_template"] is True
    assert [r["text_index"] for r in store.rows()] == list(range(14))

    info = CliRunner().invoke(app, ["store", "info", str(out)])
    assert info.exit_code == 0 and json.loads(info.output)["num_rows"] == 14
    verify = CliRunner().invoke(app, ["store", "verify", str(out)])
    assert verify.exit_code == 0 and "all checksums match" in verify.output


def test_collect_raw_prompts_and_all_positions(
    tiny_pair_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "raw"
    result = _run(
        "--model-a", str(tiny_pair_dirs[0]), "--model-b", str(tiny_pair_dirs[1]),
        "--hook-point", "resid_pre.2", "--out", str(out), "--tool-prompts", "test40:2",
        "--raw", "--positions", "all", "--max-length", "64",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    store = ActivationStore(out)
    text = store.texts()[0]["text"]
    assert text.endswith("\nAssistant:") and "<|im_start|>" not in text
    rows = store.rows()
    assert len(rows) == 2 * 63  # 64 tokens kept per text, the BOS among them is skipped
    assert store.manifest["models"]["a"]["hook_point"]["kind"] == "input"


def test_source_option_parsing() -> None:
    specs = parse_sources(
        ["dev", "train:50"], ["30", "heldout:5"], [], [], ["org/x:test:body:9"], 4
    )
    assert [(s.kind, s.split, s.count, s.seed) for s in specs[:4]] == [
        ("tool_prompts", "dev", None, 4), ("tool_prompts", "train", 50, 4),
        ("general", "train", 30, 4), ("general", "heldout", 5, 4),
    ]  # fmt: skip
    assert (specs[4].name, specs[4].split, specs[4].column, specs[4].count) == (
        "org/x", "test", "body", 9
    )  # fmt: skip
    with pytest.raises(CrossdiffError, match="expected SPLIT"):
        parse_sources(["train:many"], [], [], [], [], 0)


def test_hf_dataset_without_the_datasets_package(
    tiny_pair_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    try:
        import datasets  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("datasets is installed here")
    result = _run(
        "--model-a", str(tiny_pair_dirs[0]), "--model-b", str(tiny_pair_dirs[1]),
        "--hook-point", "resid_post.0", "--out", str(tmp_path / "s"), "--hf-dataset", "org/x",
    )  # fmt: skip
    assert isinstance(result.exception, CrossdiffError)
    assert "optional 'datasets' package" in str(result.exception)


def test_bad_input_is_one_line_and_exit_code_2(
    tmp_path: Path,
    text_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["crossdiff", "collect", "--model-a", str(tmp_path / "nope"),
            "--model-b", str(tmp_path / "nope"), "--hook-point", "resid_post.0",
            "--out", str(tmp_path / "s"), "--text-file", str(text_file)]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    error_lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(error_lines) == 1 and error_lines[0].startswith("error:")
    assert "model A directory not found" in error_lines[0]
