"""The run config: both presets load with the study's fields; bad files get actionable errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossdiff.errors import CrossdiffError
from crossdiff.pipeline.config import CONFIG_DIR, STUDY_ALPHAS, load_run_config

ORGANISM = CONFIG_DIR / "organism.toml"
PAPER = CONFIG_DIR / "paper-qwen2.5-3b.toml"


def test_default_is_the_organism_preset() -> None:
    config = load_run_config()
    assert config == load_run_config(ORGANISM)
    assert config.models.organism in ("micro", "default")
    assert config.models.device == "cpu"
    assert config.crosscoder["partition"] == [0.1, 0.1]
    assert config.experiments.alphas == STUDY_ALPHAS


def test_paper_preset_is_the_study_setup() -> None:
    config = load_run_config(PAPER)
    assert config.models.organism == "none"
    assert config.models.model_a == "chengq9/ToolRL-Qwen2.5-3B"
    assert config.models.model_b == "Qwen/Qwen2.5-3B"
    assert config.models.device.startswith("cuda")
    assert config.collect.hook_point == "resid_post.13"
    assert config.collect.positions == "last"
    assert config.collect.chat_template is False
    cc = config.crosscoder
    assert (cc["dict_size"], cc["k"], cc["sparsity"], cc["partition"]) == (
        8192,
        45,
        "topk",
        [0.1, 0.1],
    )
    assert (config.train["steps"], config.train["batch_size"], config.train["lr"]) == (
        9000,
        1024,
        1e-4,
    )
    assert config.experiments.test_suite == "test40"
    assert config.experiments.alphas == (1, 6, 16, 32, 64)
    assert len(config.experiments.layers) == 9
    assert config.sweep.preset == "study"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


BASE = '[collect]\nhook_point = "resid_post.1"\n[crosscoder]\npartition = [0.1, 0.1]\n'


def test_minimal_file_fills_defaults(tmp_path: Path) -> None:
    config = load_run_config(_write(tmp_path, BASE))
    assert config.models.organism == "default"
    assert config.experiments.test_suite == "test40"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[experiments]\nalphas = []\n", "experiments.alphas"),
        ("[experiments]\nrun = ['nope']\n", "unknown experiment"),
        ("[collect]\nhook_point = 'x'\nbatch = 3\n", "collect.batch: unknown field"),
        ("[models]\nmodel_a = 'a'\n", "organism"),
        ("[train]\nlr = -1\n", "lr must be > 0"),
        ("[experiments]\nmetric = 'accuracy'\n", "unknown metric 'accuracy'"),
    ],
)
def test_bad_fields_are_named(tmp_path: Path, extra: str, message: str) -> None:
    text = BASE + extra if not extra.startswith("[collect]") else extra + BASE.split("\n", 2)[2]
    with pytest.raises(CrossdiffError, match=message) as info:
        load_run_config(_write(tmp_path, text))
    assert "run.toml" in str(info.value)


def test_crosscoder_fields_are_checked_by_the_crosscoder_config(tmp_path: Path) -> None:
    text = BASE.replace("partition = [0.1, 0.1]", "partition = [0.6, 0.6]")
    with pytest.raises(CrossdiffError, match="crosscoder"):
        load_run_config(_write(tmp_path, text))
    with pytest.raises(CrossdiffError, match="widths"):
        load_run_config(_write(tmp_path, BASE + "widths = [3, 3]\n"))


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(CrossdiffError, match="not found"):
        load_run_config(tmp_path / "missing.toml")
    with pytest.raises(CrossdiffError, match="not valid TOML"):
        load_run_config(_write(tmp_path, "[collect\n"))
