"""Train a crosscoder: Adam with warm-up and decay, clipping, k annealing, AuxK on dead features,
JSONL metrics, resumable atomic checkpoints and data-parallel training under torchrun.

Output directory: run_config.json, metrics.jsonl, checkpoints/ (resumable), crosscoder/ (final).
"""

from __future__ import annotations

import shutil
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from torch import Tensor

from crossdiff.crosscoder.checkpoint import save_crosscoder
from crossdiff.crosscoder.config import TOP_K_RULES, RunConfig
from crossdiff.crosscoder.data import PairBatchSource, source_hook_points, source_stats
from crossdiff.crosscoder.distributed import all_reduce_sum, average_gradients, rank_and_world
from crossdiff.crosscoder.losses import training_loss
from crossdiff.crosscoder.metrics import DeadFeatureTracker, MetricsLog, step_metrics
from crossdiff.crosscoder.model import Crosscoder
from crossdiff.crosscoder.optim import (
    build_optimizer,
    enforce_partition,
    k_at_step,
    mask_partition_gradients,
)
from crossdiff.crosscoder.train_state import (
    Position,
    latest_checkpoint,
    load_training_state,
    save_training_state,
)
from crossdiff.errors import CrossdiffError
from crossdiff.files import write_json_atomic
from crossdiff.normstats import NormStats

FINAL_DIR = "crosscoder"


def check_run_against_source(run: RunConfig, source: PairBatchSource, world_size: int) -> None:
    """Refuse a config that cannot train on `source` before any work is done."""
    widths = tuple(source.widths)
    if widths != tuple(run.crosscoder.widths):
        raise CrossdiffError(
            f"crosscoder.widths = {tuple(run.crosscoder.widths)} but the activations have widths "
            f"{widths}: set widths = {list(widths)}"
        )
    if run.train.batch_size % world_size:
        raise CrossdiffError(
            f"train.batch_size = {run.train.batch_size} is not divisible by the {world_size} "
            "processes: choose a multiple of the process count"
        )
    samples = run.train.steps * run.train.batch_size
    if run.crosscoder.auxk_coeff > 0 and run.crosscoder.dead_after_tokens >= samples:
        warnings.warn(
            f"crosscoder.dead_after_tokens = {run.crosscoder.dead_after_tokens} is not below the "
            f"{samples} samples of the whole run (train.steps x batch_size): no feature can count "
            f"as dead, so the AuxK loss never runs; lower dead_after_tokens (e.g. to "
            f"{max(1, samples // 10)}) or set auxk_coeff = 0",
            stacklevel=2,
        )
    num_rows = getattr(source, "num_rows", None)
    if num_rows is not None and num_rows < run.train.batch_size:
        raise CrossdiffError(
            f"train.batch_size = {run.train.batch_size} exceeds the {num_rows} activation rows: "
            "lower batch_size or collect more activations"
        )


def _batch_stream(
    source: PairBatchSource, batch_size: int, seed: int, start: Position, rank: int, world: int
) -> Iterator[tuple[int, int, Tensor, Tensor]]:
    """(epoch, batches consumed in that epoch, x_A, x_B), resuming at `start`."""
    epoch, skip = start.epoch, start.batch_in_epoch
    while True:
        produced = 0
        for index, (x_a, x_b) in enumerate(source.batches(batch_size, seed, epoch, rank, world)):
            produced += 1
            if index < skip:
                continue
            yield epoch, index + 1, x_a, x_b
        if produced == 0:
            raise CrossdiffError("the activation source yielded no batch: too few rows")
        epoch, skip = epoch + 1, 0


def _prepare_out(out: Path, force: bool) -> None:
    if (out / FINAL_DIR).exists() and not force:
        raise CrossdiffError(
            f"{out / FINAL_DIR} already exists (a finished run): pass --force to retrain, or "
            "choose another --out"
        )
    if force and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def train_crosscoder(
    run: RunConfig,
    source: PairBatchSource,
    out: str | Path,
    *,
    stats: tuple[NormStats, NormStats] | None = None,
    force: bool = False,
    show_progress: bool = True,
    stop_after_steps: int | None = None,
    hook_points: dict[str, str] | None = None,
) -> Crosscoder:
    """Train (or resume training) a crosscoder on `source`, writing into `out`.

    `stats` defaults to the source's statistics. `stop_after_steps` ends this invocation early
    without the final save, as a kill would (for tests and time-sliced jobs). `hook_points`
    ({"hook_point": ..., "hook_point_b": ...}) defaults to what the source records; the final
    checkpoint's metadata stores them, so interventions can check the hook point they edit.
    """
    out = Path(out)
    rank, world = rank_and_world()
    check_run_against_source(run, source, world)
    if run.crosscoder.normalisation != "none" and stats is None:
        stats = source_stats(source)
    if rank == 0:
        _prepare_out(out, force)
    if world > 1:
        dist.barrier()
    run_dict = run.model_dump(mode="json")
    model = Crosscoder(run.crosscoder, stats)
    model.train()
    optimizer, scheduler = build_optimizer(model, run.train)
    tracker = DeadFeatureTracker(run.crosscoder.dict_size, run.crosscoder.dead_after_tokens)
    position = Position()
    resume_from = latest_checkpoint(out)
    if resume_from is not None:
        position = load_training_state(resume_from, model, optimizer, scheduler, tracker, run_dict)
    wandb_project = run.train.wandb_project if rank == 0 else None
    log = MetricsLog(out / "metrics.jsonl", wandb_project, run_dict)
    if rank == 0:
        write_json_atomic(out / "run_config.json", run_dict)
        log.truncate_after(position.step)
    if hook_points is None:
        hook_points = source_hook_points(source)
    try:
        _loop(
            run,
            source,
            out,
            model,
            optimizer,
            scheduler,
            tracker,
            position,
            log,
            show_progress and rank == 0,
            stop_after_steps,
            hook_points,
        )
    finally:
        log.close()
    return model


def _loop(
    run: RunConfig,
    source: PairBatchSource,
    out: Path,
    model: Crosscoder,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LambdaLR,
    tracker: DeadFeatureTracker,
    position: Position,
    log: MetricsLog,
    show_progress: bool,
    stop_after_steps: int | None,
    hook_points: dict[str, str],
) -> None:
    config, train = run.crosscoder, run.train
    rank, world = rank_and_world()
    run_dict = run.model_dump(mode="json")
    parameters = list(model.parameters())
    stream = _batch_stream(source, train.batch_size // world, train.seed, position, rank, world)
    started, steps_this_call = time.perf_counter(), 0
    with Progress(
        TextColumn("training crosscoder"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[info]}"),
        TimeRemainingColumn(),
        disable=not show_progress,
    ) as progress:
        task = progress.add_task("train", total=train.steps, completed=position.step, info="")
        while position.step < train.steps:
            if stop_after_steps is not None and steps_this_call >= stop_after_steps:
                return
            epoch, consumed, x_a, x_b = next(stream)
            k = None
            if config.sparsity in TOP_K_RULES:
                k = k_at_step(position.step, config.k, train)
            out_step = model.training_forward(model.normalise(x_a, x_b), k, tracker.dead())
            loss, parts = training_loss(model, out_step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            average_gradients(parameters)
            mask_partition_gradients(model)
            if train.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(parameters, train.grad_clip)
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            scheduler.step()
            enforce_partition(model, optimizer)
            global_count = all_reduce_sum(out_step.count_D.clone())
            tracker.update(global_count, train.batch_size)
            position = Position(position.step + 1, epoch, consumed)
            steps_this_call += 1
            if position.step % train.log_every == 0 or position.step == train.steps:
                record = _record(model, out_step, global_count, parts, tracker, lr, k, position)
                record["tokens_per_s"] = (
                    steps_this_call * train.batch_size / (time.perf_counter() - started)
                )
                if rank == 0:
                    log.write(record)
                progress.update(task, info=f"mse {record['mse']:.4f} L0 {record['l0']:.1f}")
            progress.update(task, completed=position.step)
            if train.checkpoint_every and position.step % train.checkpoint_every == 0:
                if position.step < train.steps and rank == 0:
                    save_training_state(
                        out, model, optimizer, scheduler, tracker, position, run_dict
                    )
                if world > 1:
                    dist.barrier()
    if rank == 0:
        metadata = {"steps": train.steps, "run": run_dict, **hook_points}
        save_crosscoder(model.eval(), out / FINAL_DIR, metadata)
    if world > 1:
        dist.barrier()


def _record(
    model: Crosscoder,
    out_step: Any,
    global_count: Tensor,
    parts: dict[str, float],
    tracker: DeadFeatureTracker,
    lr: float,
    k: int | None,
    position: Position,
) -> dict[str, Any]:
    record: dict[str, Any] = {"step": position.step, "epoch": position.epoch, "lr": lr, "k": k}
    record["loss"] = sum(parts.values())
    record.update({f"loss_{name}": value for name, value in parts.items()})
    record.update(step_metrics(model, out_step, global_count))
    record["dead_fraction"] = float(tracker.dead().float().mean())
    if model.config.sparsity == "batchtopk":
        record["threshold"] = float(model.threshold)
    return record
