"""Evaluate a `crossdiff sweep` directory: splice each member into model A on the test prompts.

The models and the hook point come from the activation store's manifest (the sweep was trained
on it); prompts, generation and statistics from the run config. The result is written to
`<sweep>/sweep.json` as a `CorrelationResult`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from crossdiff.errors import CrossdiffError
from crossdiff.experiments.serialize import save_result
from crossdiff.experiments.sweep_grid import evaluate_members
from crossdiff.experiments.sweeps import CorrelationResult
from crossdiff.files import read_json
from crossdiff.pipeline.config import ModelsConfig, RunConfig
from crossdiff.pipeline.experiment_stages import StudyState

RESULT_FILE = "sweep.json"


def evaluate_sweep_dir(
    config: RunConfig, store: str | Path, out: str | Path, names: Sequence[str]
) -> CorrelationResult:
    """Splice every named member of the sweep at `out` and correlate gain with FVU."""
    manifest = read_json(Path(store) / "manifest.json", "store manifest")
    try:
        model_a = str(manifest["models"]["a"]["name"])
        model_b = str(manifest["models"]["b"]["name"])
        hook_point = str(manifest["hook_point"])
    except (KeyError, TypeError) as exc:
        raise CrossdiffError(
            f"{store}/manifest.json does not name its models and hook point ({exc}): "
            "pass --no-evaluate, or collect the store with `crossdiff collect`"
        ) from exc
    models = ModelsConfig(
        organism="none",
        model_a=model_a,
        model_b=model_b,
        dtype=config.models.dtype,
        device=config.models.device,
    )
    collect = config.collect.model_copy(
        update={"hook_point": hook_point, "chat_template": bool(manifest.get("chat_template"))}
    )
    state = StudyState(config.model_copy(update={"models": models, "collect": collect}), Path(out))
    setup = state.setup(hook_point, {})
    result = evaluate_members(setup, [Path(out) / name for name in names])
    save_result(result, Path(out) / RESULT_FILE)
    return result
