"""`crossdiff run` end to end on the micro organism, tiny sizes: every stage, caching, report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crossdiff.cli import app
from crossdiff.pipeline.config import load_run_config
from crossdiff.pipeline.study import run_study

TINY = """
seed = 0
[models]
organism = "none"
model_a = "{organism}/rl"
model_b = "{organism}/base"
[collect]
hook_point = "resid_post.1"
tool_prompts = 40
general_texts = 40
batch_size = 60
max_length = 1024
[crosscoder]
dict_size = 48
dead_after_tokens = 16
sparsity = "topk"
k = 4
partition = [0.1, 0.1]
lambda_shared = 1e-3
normalisation = "per_channel"
[train]
steps = 20
batch_size = 32
lr = 1e-3
[analysis]
examples_per_scope = 2
[experiments]
dev_prompts = 2
test_prompts = 3
alphas = [{alphas}]
subset_sizes = [1]
ablate_top = [1]
control_seeds = [0]
max_new_tokens = 4
batch_size = 8
layers = ["resid_post.0", "resid_post.1"]
bootstrap_resamples = 200
[sweep]
preset = "small"
steps = 5
"""


def _config(tmp_path: Path, organism: Path, alphas: str = "1, 16") -> Path:
    path = tmp_path / f"run-{alphas.replace(', ', '-')}.toml"
    path.write_text(TINY.format(organism=organism, alphas=alphas))
    return path


@pytest.mark.slow
def test_run_is_cached_and_fills_every_report_section(micro_organism: Path, tmp_path: Path) -> None:
    config = _config(tmp_path, micro_organism)
    run_dir = tmp_path / "run"
    first = run_study(config, run_dir, show_progress=False)
    assert all(o.status == "ran" for o in first)
    names = [o.name for o in first]
    for stage in ("collect", "train-dfc", "analyze-dfc", "collect-resid_post.0", "sweep", "report"):
        assert stage in names
    assert {n for n in names if n.startswith("exp-")} == {
        f"exp-{e}" for e in load_run_config(config).experiments.run
    }
    report = json.loads((run_dir / "report" / "stage.json").read_text())
    assert report["summary"]["filled"] == dict.fromkeys(report["summary"]["filled"], True)
    assert (run_dir / "report" / "report.html").stat().st_size > 10_000

    again = run_study(config, run_dir, show_progress=False)
    assert {o.status for o in again} == {"skipped"}

    # a new α grid re-runs experiments, never the data stages they read
    stages = [o.name for o in first]
    changed = run_study(
        _config(tmp_path, micro_organism, "1, 6"),
        run_dir,
        until="exp-splice",
        show_progress=False,
    )
    assert [o.status for o in changed] == ["skipped"] * (len(changed) - 1) + ["ran"]
    assert changed[-1].name == "exp-splice"
    assert {o.name for o in changed} < set(stages)  # only exp-splice's inputs, not every stage


def test_cli_reports_a_bad_config_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[collect]\nhook_point = "resid_post.1"\n[crosscoder]\npartition = [0.1]\n')
    result = CliRunner().invoke(app, ["run", "--config", str(bad), "--out", str(tmp_path / "r")])
    assert result.exit_code != 0
    assert isinstance(result.exception, Exception)
    assert "bad.toml" in str(result.exception) and "crosscoder" in str(result.exception)
    assert not (tmp_path / "r").exists()
