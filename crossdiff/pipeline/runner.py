"""The stage runner: each stage reads earlier stages' directories and writes its own, atomically.

A run directory holds one sub-directory per stage. A stage's directory is built in a temporary
sibling and renamed into place only when the stage function returned; its `stage.json` manifest
(config, seed, versions, content hashes of inputs and outputs) is written last, inside it. On the
next run a stage is skipped when its fingerprint (stage version, crossdiff version, config, seed,
the content hashes of its inputs) is unchanged and its outputs still hash to what the manifest says.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from crossdiff import __version__
from crossdiff.errors import CrossdiffError
from crossdiff.files import atomic_output_dir, read_json, sha256_json, write_json_atomic
from crossdiff.pipeline.hashing import (
    MANIFEST_NAME,
    HashCache,
    file_hashes,
    input_fingerprint,
)


@dataclass(frozen=True)
class StageContext:
    """What a stage function gets: where to write, where earlier stages are, config and seed."""

    name: str
    run_dir: Path
    out_dir: Path
    config: Mapping[str, Any]
    seed: int
    show_progress: bool = True

    def input_dir(self, stage: str) -> Path:
        """The finished directory of an earlier stage."""
        return self.run_dir / stage


StageFunction = Callable[[StageContext], Mapping[str, Any] | None]


@dataclass(frozen=True)
class Stage:
    """One step of a run.

    `run` writes its files into `ctx.out_dir` and may return a small JSON-able summary that is kept
    in the manifest. `depends_on` names earlier stages whose outputs it reads; `external_inputs`
    maps a label to a file, directory or identifier (e.g. a hub model id) it reads from outside the
    run directory. Bump `version` when the stage's code changes what it writes.
    """

    name: str
    run: StageFunction
    config: Mapping[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    external_inputs: Mapping[str, str] = field(default_factory=dict)
    seed: int = 0
    version: str = "1"


@dataclass(frozen=True)
class StageOutcome:
    """What happened to a stage in one run."""

    name: str
    status: Literal["ran", "skipped"]
    seconds: float
    reason: str


def _versions() -> dict[str, str]:
    import torch
    import transformers

    return {
        "crossdiff": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }


def read_manifest(stage_dir: Path) -> dict[str, Any] | None:
    """The stage's manifest, or None when the directory is missing or not finished."""
    path = stage_dir / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        manifest = read_json(path, "stage manifest")
    except CrossdiffError:
        return None
    return manifest if isinstance(manifest, dict) else None


def _check_stages(stages: Sequence[Stage]) -> None:
    seen: set[str] = set()
    for stage in stages:
        if not stage.name or stage.name.startswith(".") or "/" in stage.name:
            raise CrossdiffError(f"stage name {stage.name!r}: use a plain directory name")
        if stage.name in seen:
            raise CrossdiffError(f"stage {stage.name!r} is defined twice: give stages unique names")
        missing = [dep for dep in stage.depends_on if dep not in seen]
        if missing:
            raise CrossdiffError(
                f"stage {stage.name!r} depends on {missing}, which do not run before it: "
                "order the stages so that inputs come first"
            )
        seen.add(stage.name)


def _remove_stale_partials(run_dir: Path) -> None:
    """Delete staging directories left by a run that was killed (they never look finished)."""
    for leftover in run_dir.glob(".*.partial"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in run_dir.glob(".*.old"):
        shutil.rmtree(leftover, ignore_errors=True)


class StageRunner:
    """Runs stages in order inside one run directory, skipping those whose inputs did not change."""

    def __init__(self, run_dir: str | Path, show_progress: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.show_progress = show_progress
        self.cache = HashCache(self.run_dir / ".hash-cache.json")

    def fingerprint(self, stage: Stage) -> tuple[str, dict[str, str]]:
        """The stage's fingerprint and the content hash of each of its inputs."""
        inputs: dict[str, str] = {}
        for dep in stage.depends_on:
            manifest = read_manifest(self.run_dir / dep)
            if manifest is None:
                raise CrossdiffError(
                    f"stage {stage.name!r} needs {self.run_dir / dep}, which is not finished: "
                    f"run the {dep!r} stage first"
                )
            inputs[f"stage:{dep}"] = str(manifest["outputs_sha256"])
        for label, source in sorted(stage.external_inputs.items()):
            inputs[f"external:{label}"] = input_fingerprint(source, self.cache)
        fingerprint = sha256_json(
            {
                "stage": stage.name,
                "version": stage.version,
                "crossdiff": __version__,
                "config": dict(stage.config),
                "seed": stage.seed,
                "inputs": inputs,
            }
        )
        return fingerprint, inputs

    def up_to_date(self, stage: Stage, fingerprint: str) -> str | None:
        """Why the stage must run, or None when its finished outputs match `fingerprint`."""
        stage_dir = self.run_dir / stage.name
        manifest = read_manifest(stage_dir)
        if manifest is None:
            return "not run yet"
        if manifest.get("fingerprint") != fingerprint:
            return "config or inputs changed"
        outputs = file_hashes(stage_dir, self.cache, skip=frozenset({MANIFEST_NAME}))
        if outputs != manifest.get("outputs"):
            return "outputs were modified"
        return None

    def run_stage(self, stage: Stage, force: bool = False) -> StageOutcome:
        """Run one stage unless it is up to date (or `force`); write it atomically."""
        started = time.perf_counter()
        fingerprint, inputs = self.fingerprint(stage)
        reason = "forced" if force else self.up_to_date(stage, fingerprint)
        if reason is None:
            return StageOutcome(stage.name, "skipped", time.perf_counter() - started, "unchanged")
        target = self.run_dir / stage.name
        with atomic_output_dir(target, force=True) as staging:
            context = StageContext(
                stage.name, self.run_dir, staging, stage.config, stage.seed, self.show_progress
            )
            summary = stage.run(context)
            outputs = file_hashes(staging, self.cache, skip=frozenset({MANIFEST_NAME}))
            write_json_atomic(
                staging / MANIFEST_NAME,
                {
                    "stage": stage.name,
                    "version": stage.version,
                    "versions": _versions(),
                    "config": dict(stage.config),
                    "seed": stage.seed,
                    "inputs": inputs,
                    "fingerprint": fingerprint,
                    "outputs": outputs,
                    "outputs_sha256": sha256_json(outputs),
                    "summary": dict(summary or {}),
                    "elapsed_seconds": time.perf_counter() - started,
                    "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
                },
            )
        self.cache.save()
        return StageOutcome(stage.name, "ran", time.perf_counter() - started, reason)

    def run(self, stages: Sequence[Stage], force: Iterable[str] = ()) -> list[StageOutcome]:
        """Run `stages` in order with one progress display; `force` names stages to re-run."""
        _check_stages(stages)
        forced = set(force)
        unknown = forced - {s.name for s in stages}
        if unknown:
            raise CrossdiffError(
                f"--force-stage {sorted(unknown)}: no such stage; stages are "
                f"{[s.name for s in stages]}"
            )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        _remove_stale_partials(self.run_dir)
        outcomes: list[StageOutcome] = []
        console = Console(stderr=True)
        with Progress(
            TextColumn("[bold]stage[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not self.show_progress,
        ) as progress:
            task = progress.add_task("", total=len(stages))
            for stage in stages:
                progress.update(task, description=stage.name)
                outcome = self.run_stage(stage, force=stage.name in forced)
                outcomes.append(outcome)
                if self.show_progress:
                    progress.console.print(
                        f"  {stage.name}: {outcome.status} ({outcome.reason}, "
                        f"{outcome.seconds:.1f} s)",
                        highlight=False,
                    )
                progress.advance(task)
        return outcomes


def run_stages(
    stages: Sequence[Stage],
    run_dir: str | Path,
    force: Iterable[str] = (),
    show_progress: bool = True,
) -> list[StageOutcome]:
    """Run `stages` in `run_dir` (see `StageRunner`) and return what happened to each."""
    return StageRunner(run_dir, show_progress).run(stages, force)
