"""Session-wide fixtures shared by every stage's tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def micro_organism(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A micro organism (base/, rl/, rl-stepN/, organism.json) built once per test session."""
    from crossdiff.organism.build import build_organism

    out = tmp_path_factory.mktemp("organism") / "micro"
    build_organism(out, size="micro", seed=0, show_progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_pair_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Model A (Qwen2, width 32) and model B (Qwen2, width 48) sharing one tokenizer."""
    from crossdiff.models.tiny import tiny_causal_lm, tiny_tokenizer

    root = tmp_path_factory.mktemp("tiny_pair")
    tok = tiny_tokenizer()
    for name, width, seed in (("model_a", 32, 1), ("model_b", 48, 2)):
        model = tiny_causal_lm("qwen2", vocab_size=len(tok), width=width, layers=3, seed=seed)
        model.save_pretrained(root / name)
        tok.save_pretrained(root / name)
    return root / "model_a", root / "model_b"


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models are latency-bound: extra threads only add contention on a shared machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
