"""Training metrics: dead-feature tracking, per-step numbers (MSE, FVU per model, L0 per
partition, dead fraction) and a JSONL log that also feeds wandb when it is installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from crossdiff.crosscoder.distributed import all_reduce_sum
from crossdiff.crosscoder.model import Crosscoder, TrainOutput


class DeadFeatureTracker:
    """Counts, per feature, the tokens seen since it last fired (over all processes)."""

    def __init__(self, dict_size: int, dead_after_tokens: int) -> None:
        self.tokens_since_fired = torch.zeros(dict_size, dtype=torch.int64)
        self.dead_after_tokens = dead_after_tokens

    def dead(self) -> Tensor:
        """Boolean (D,) mask of features that have not fired for `dead_after_tokens` tokens."""
        return self.tokens_since_fired >= self.dead_after_tokens

    def update(self, global_count_D: Tensor, global_tokens: int) -> None:
        """Record one step: features with a non-zero global firing count are alive again."""
        self.tokens_since_fired += global_tokens
        self.tokens_since_fired[global_count_D > 0] = 0


@torch.no_grad()
def step_metrics(model: Crosscoder, out: TrainOutput, global_count_D: Tensor) -> dict[str, float]:
    """MSE, FVU per model and L0 per partition of one step, summed over processes."""
    d_a = model.config.widths[0]
    error = (out.x_norm - out.x_hat).pow(2)
    sums = torch.stack(
        [
            error[:, :d_a].sum(),
            error[:, d_a:].sum(),
            out.x_norm[:, :d_a].pow(2).sum(),
            out.x_norm[:, d_a:].pow(2).sum(),
            torch.tensor(float(out.x_norm.shape[0])),
        ]
    ).double()
    channel_sums = out.x_norm.double().sum(dim=0)
    all_reduce_sum(sums)
    all_reduce_sum(channel_sums)
    n = float(sums[4])
    centred = [
        float(sums[2]) - float(channel_sums[:d_a].pow(2).sum()) / n,
        float(sums[3]) - float(channel_sums[d_a:].pow(2).sum()) / n,
    ]
    metrics = {
        "mse": float(sums[0] + sums[1]) / (n * model.config.d_total),
        "fvu_a": float(sums[0]) / max(centred[0], 1e-12),
        "fvu_b": float(sums[1]) / max(centred[1], 1e-12),
    }
    for name, features in model.partition_slices().items():
        if features.stop > features.start:
            metrics[f"l0_{name}"] = float(global_count_D[features].sum()) / n
    metrics["l0"] = float(global_count_D.sum()) / n
    return metrics


class MetricsLog:
    """Appends one JSON object per logged step to a file (and to wandb when configured)."""

    def __init__(self, path: Path, wandb_project: str | None, run_config: dict[str, Any]) -> None:
        self.path = path
        self.wandb_run: Any = None
        if wandb_project:
            try:
                import wandb  # type: ignore[import-not-found]
            except ImportError:
                wandb = None
            if wandb is not None:
                self.wandb_run = wandb.init(project=wandb_project, config=run_config)

    def truncate_after(self, step: int) -> None:
        """Drop lines logged after `step` (a resumed run re-logs them)."""
        if not self.path.exists():
            return
        kept = [
            line
            for line in self.path.read_text().splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= step
        ]
        self.path.write_text("".join(line + "\n" for line in kept))

    def write(self, record: dict[str, Any]) -> None:
        """Append one record."""
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        if self.wandb_run is not None:
            self.wandb_run.log(record, step=int(record["step"]))

    def close(self) -> None:
        """Finish the wandb run if there is one."""
        if self.wandb_run is not None:
            self.wandb_run.finish()
