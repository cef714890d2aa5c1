"""Adam, its learning-rate schedule, k annealing, and keeping the partition's forbidden weights
exactly zero in the weights, their gradients and Adam's moments.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from crossdiff.crosscoder.config import TrainConfig
from crossdiff.crosscoder.model import Crosscoder


def lr_factor(step: int, config: TrainConfig) -> float:
    """Multiplier of the peak lr at `step`: linear warm-up, constant, linear decay to 0."""
    if config.warmup_steps and step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    decay_steps = int(config.decay_fraction * config.steps)
    decay_start = config.steps - decay_steps
    if decay_steps and step >= decay_start:
        return max(0.0, (config.steps - step) / decay_steps)
    return 1.0


def k_at_step(step: int, k: int, config: TrainConfig) -> int:
    """k annealed linearly from `config.k_start` to `k` over `config.k_anneal_steps`."""
    if config.k_start is None or config.k_anneal_steps == 0 or step >= config.k_anneal_steps:
        return k
    fraction = step / config.k_anneal_steps
    return max(1, round(config.k_start + (k - config.k_start) * fraction))


def build_optimizer(
    model: Crosscoder, config: TrainConfig
) -> tuple[torch.optim.Adam, torch.optim.lr_scheduler.LambdaLR]:
    """Adam over all parameters (the fused kernel: one pass over each weight) and its
    LambdaLR schedule."""
    optimizer = torch.optim.Adam(
        list(model.parameters()), lr=config.lr, betas=config.adam_betas, fused=True
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, config))
    return optimizer, scheduler


def _partitioned(model: Crosscoder) -> list[torch.nn.Parameter]:
    return [model.W_enc_Dd, model.W_dec_Dd] if model.partition.enabled else []


def mask_partition_gradients(model: Crosscoder) -> None:
    """Zero the gradients of forbidden weights (before clipping and the optimiser step)."""
    for weight in _partitioned(model):
        if weight.grad is not None:
            model.partition.zero_forbidden(weight.grad)


def enforce_partition(model: Crosscoder, optimizer: torch.optim.Optimizer) -> None:
    """Re-zero forbidden weights and Adam's moments after a step.

    With zero gradients Adam never moves them, but re-zeroing makes the guarantee independent
    of optimiser details (weight decay, eps, a resumed state).
    """
    for weight in _partitioned(model):
        model.partition.zero_forbidden(weight.data)
        for value in optimizer.state.get(weight, {}).values():
            if isinstance(value, Tensor) and value.shape == weight.shape:
                model.partition.zero_forbidden(value)


def optimizer_state_to_tensors(
    optimizer: torch.optim.Optimizer,
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Split an optimiser state dict into named tensors and a JSON-able remainder."""
    state = optimizer.state_dict()
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in state["state"].items():
        for name, value in entry.items():
            if isinstance(value, Tensor):
                tensors[f"optim.{index}.{name}"] = value.detach().clone().contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def optimizer_state_from_tensors(
    optimizer: torch.optim.Optimizer, tensors: dict[str, Tensor], info: dict[str, Any]
) -> None:
    """Inverse of `optimizer_state_to_tensors`: load the state into `optimizer`."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if not key.startswith("optim."):
            continue
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    for index, entry in info.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(entry)
    groups = [dict(group, betas=tuple(group["betas"])) for group in info["param_groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})
