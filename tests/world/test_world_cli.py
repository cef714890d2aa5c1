"""`crossdiff world export/show`: writes a loadable prompt file, refuses to overwrite silently."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from crossdiff.cli import app
from crossdiff.errors import CrossdiffError
from crossdiff.world import load_prompts_jsonl, load_split


def test_export_writes_a_loadable_file_and_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "t40.jsonl"
    runner = CliRunner()
    result = runner.invoke(app, ["world", "export", "test40", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert load_prompts_jsonl(out) == load_split("test40")
    again = runner.invoke(app, ["world", "export", "test40", "--out", str(out)])
    assert isinstance(again.exception, CrossdiffError) and "--force" in str(again.exception)
    forced = runner.invoke(app, ["world", "export", "train", "--size", "5", "--out", str(out),
                                 "--force"])  # fmt: skip
    assert forced.exit_code == 0 and len(load_prompts_jsonl(out)) == 5


def test_show_prints_prompt_and_reference() -> None:
    result = CliRunner().invoke(app, ["world", "show", "dev", "--index", "2"])
    prompt = load_split("dev")[2]
    assert result.exit_code == 0 and prompt.user in result.output and "Assistant:" in result.output
    bad = CliRunner().invoke(app, ["world", "show", "dev", "--index", "999"])
    assert isinstance(bad.exception, CrossdiffError)
