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
