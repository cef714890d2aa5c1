"""Resumable training checkpoints: weights, Adam, schedule, RNG, dead-feature counters and the
position in the data, written atomically so a run killed at any moment resumes exactly.

Layout: <out>/checkpoints/step_NNNNNNNN/ holds a normal crosscoder checkpoint (config.json,
weights.safetensors) plus training_state.safetensors and training_state.json;
<out>/checkpoints/latest.json names the newest complete one.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from crossdiff.crosscoder.checkpoint import WEIGHTS_FILE, write_crosscoder_files
from crossdiff.crosscoder.metrics import DeadFeatureTracker
from crossdiff.crosscoder.model import Crosscoder
from crossdiff.crosscoder.optim import optimizer_state_from_tensors, optimizer_state_to_tensors
from crossdiff.errors import CrossdiffError
from crossdiff.files import atomic_output_dir, read_json, write_json_atomic

STATE_TENSORS = "training_state.safetensors"
STATE_JSON = "training_state.json"
KEEP_CHECKPOINTS = 2


@dataclass
class Position:
    """Optimiser steps done and where the next batch comes from."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0


def checkpoint_root(out: Path) -> Path:
    """The directory holding a run's resumable checkpoints."""
    return out / "checkpoints"


def save_training_state(
    out: Path,
    model: Crosscoder,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    tracker: DeadFeatureTracker,
    position: Position,
    run_config: dict[str, Any],
) -> Path:
    """Write one resumable checkpoint and point latest.json at it; prune older ones."""
    root = checkpoint_root(out)
    name = f"step_{position.step:08d}"
    with atomic_output_dir(root / name, force=True) as staging:
        write_crosscoder_files(model, staging, {"step": position.step})
        tensors, optimizer_info = optimizer_state_to_tensors(optimizer)
        tensors["rng.torch"] = torch.get_rng_state()
        tensors["tracker.tokens_since_fired"] = tracker.tokens_since_fired.clone()
        save_file(tensors, str(staging / STATE_TENSORS))
        write_json_atomic(
            staging / STATE_JSON,
            {
                "position": vars(position),
                "optimizer": optimizer_info,
                "scheduler": scheduler.state_dict(),
                "run_config": run_config,
            },
        )
    write_json_atomic(root / "latest.json", {"checkpoint": name, "step": position.step})
    finished = sorted(p for p in root.glob("step_*") if p.is_dir())
    for old in finished[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old, ignore_errors=True)
    return root / name


def latest_checkpoint(out: Path) -> Path | None:
    """The newest complete checkpoint of a run, or None."""
    pointer = checkpoint_root(out) / "latest.json"
    if not pointer.is_file():
        return None
    path = checkpoint_root(out) / read_json(pointer, "checkpoint pointer")["checkpoint"]
    if not (path / STATE_JSON).is_file():
        raise CrossdiffError(f"{pointer} names {path}, which is incomplete: delete {out} and rerun")
    return path


def load_training_state(
    path: Path,
    model: Crosscoder,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    tracker: DeadFeatureTracker,
    run_config: dict[str, Any],
) -> Position:
    """Restore everything `save_training_state` wrote; refuse a different run config."""
    info = read_json(path / STATE_JSON, "training state")
    if info["run_config"] != run_config:
        raise CrossdiffError(
            f"{path}: the checkpoint was written by a run with a different config; use the same "
            "config to resume, or pass --force to start over"
        )
    model.load_state_dict(load_file(str(path / WEIGHTS_FILE)), strict=True)
    tensors = load_file(str(path / STATE_TENSORS))
    optimizer_state_from_tensors(optimizer, tensors, info["optimizer"])
    scheduler.load_state_dict(info["scheduler"])
    torch.set_rng_state(tensors["rng.torch"])
    tracker.tokens_since_fired.copy_(tensors["tracker.tokens_since_fired"])
    return Position(**info["position"])
