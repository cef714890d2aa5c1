"""Run the study stage by stage in a run directory, skipping stages whose inputs did not change."""

from crossdiff.pipeline.runner import (
    Stage,
    StageContext,
    StageOutcome,
    StageRunner,
    read_manifest,
    run_stages,
)

__all__ = ["Stage", "StageContext", "StageOutcome", "StageRunner", "read_manifest", "run_stages"]
