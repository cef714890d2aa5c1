"""Typed configuration of a crosscoder and of its training, validated before any work starts.

Field descriptions are written once here and reused as CLI help. Every refusal is a
CrossdiffError that names the field, the value, and what to do instead.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crossdiff.errors import CrossdiffError

SparsityRule = Literal["relu", "topk", "batchtopk", "jumprelu"]
Normalisation = Literal["none", "scalar", "per_channel"]
TOP_K_RULES: tuple[str, ...] = ("topk", "batchtopk")


class CrosscoderConfig(BaseModel):
    """The architecture of one crosscoder: widths, dictionary, sparsity rule, partition, losses."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    widths: tuple[int, int] = Field(
        description="Activation widths (d_A, d_B) of model A (tuned) and model B (base)."
    )
    dict_size: int = Field(8192, description="Number of dictionary features D.")
    sparsity: SparsityRule = Field(
        "batchtopk", description="Sparsity rule: relu (+ L1), topk, batchtopk or jumprelu."
    )
    k: int = Field(32, description="Active features per sample for topk / batchtopk.")
    l1_coeff: float = Field(
        0.0,
        description="Coefficient of the decoder-norm-weighted L1 penalty (Anthropic 2024); "
        "needed for relu, optional otherwise.",
    )
    partition: tuple[float, float] | None = Field(
        None,
        description="DFC partition fractions (p_A, p_B): A-exclusive and B-exclusive shares of "
        "the dictionary; None for a plain crosscoder.",
    )
    lambda_shared: float = Field(
        0.0, description="DFC loss: coefficient of mean|f| over shared features (study: 1e-3)."
    )
    lambda_excl: float = Field(
        0.0,
        description="DFC loss: coefficient of mean|f| over each model's features incl. its "
        "exclusive partition (study: 0 free, 1e-3 penalised).",
    )
    dfc_norm_weighted: bool = Field(
        False,
        description="DFC loss: weight each |f_i| by its summed decoder norm (as the "
        "decoder-norm-weighted L1 does). The study's unweighted penalties can be evaded by "
        "shrinking codes and growing decoder vectors; weighted, they cannot.",
    )
    auxk_coeff: float = Field(1 / 32, description="Coefficient of the AuxK dead-feature loss.")
    k_aux: int = Field(256, description="Dead features used by the AuxK loss per sample.")
    dead_after_tokens: int = Field(
        200_000,
        description="A feature that has not fired for this many tokens counts as dead (AuxK "
        "trains only dead features: keep it below train.steps x batch_size; training warns).",
    )
    jumprelu_bandwidth: float = Field(
        0.05, description="JumpReLU: kernel bandwidth of the threshold's straight-through grad."
    )
    jumprelu_init_threshold: float = Field(0.01, description="JumpReLU: initial threshold.")
    l0_coeff: float = Field(0.0, description="JumpReLU: coefficient of the L0 penalty.")
    threshold_momentum: float = Field(
        0.99, description="BatchTopK: momentum of the running inference threshold estimate."
    )
    candidates_per_row: int = Field(
        0,
        description="BatchTopK: per-row candidates of the fallback exact batch top-k, used when "
        "the one-pass threshold estimate was too high (0 = 2k). Rows whose candidates all "
        "qualify are re-examined in full, so the result is exact.",
    )
    normalisation: Normalisation = Field(
        "scalar",
        description="Activation normalisation: none, scalar (mean + one scale per model) or "
        "per_channel (z-score per channel and model).",
    )
    dec_init_norm: float = Field(0.1, description="Initial per-model norm of decoder vectors.")
    init_seed: int = Field(0, description="Seed of the weight initialisation.")

    @model_validator(mode="after")
    def _check_consistency(self) -> CrosscoderConfig:
        for index, width in enumerate(self.widths):
            if width < 1:
                raise ValueError(f"widths[{index}] must be a positive integer, got {width}")
        if self.dict_size < 2:
            raise ValueError(f"dict_size must be at least 2, got {self.dict_size}")
        if self.sparsity in TOP_K_RULES and not 1 <= self.k < self.dict_size:
            raise ValueError(
                f"k must satisfy 1 <= k < dict_size ({self.dict_size}), got {self.k}: "
                "lower k or raise dict_size"
            )
        if self.partition is not None:
            p_a, p_b = self.partition
            if p_a < 0 or p_b < 0 or p_a + p_b >= 1:
                raise ValueError(
                    f"partition fractions must be >= 0 with p_A + p_B < 1, got {self.partition}: "
                    "leave room for the shared partition"
                )
            n_a, n_b = self.partition_sizes
            if self.dict_size - n_a - n_b < 1:
                raise ValueError("partition leaves no shared features: lower p_A or p_B")
        for name in ("l1_coeff", "lambda_shared", "lambda_excl", "auxk_coeff", "l0_coeff"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.k_aux < 1:
            raise ValueError(f"k_aux must be >= 1, got {self.k_aux}")
        if not 0 <= self.threshold_momentum < 1:
            raise ValueError(f"threshold_momentum must be in [0, 1), got {self.threshold_momentum}")
        if self.candidates_per_row < 0:
            raise ValueError(f"candidates_per_row must be >= 0, got {self.candidates_per_row}")
        if self.dec_init_norm <= 0:
            raise ValueError(f"dec_init_norm must be > 0, got {self.dec_init_norm}")
        if self.init_seed < 0:
            raise ValueError(f"init_seed must be >= 0, got {self.init_seed}")
        return self

    @property
    def d_total(self) -> int:
        """Summed width d_A + d_B of the concatenated activation vector."""
        return self.widths[0] + self.widths[1]

    @property
    def partition_sizes(self) -> tuple[int, int]:
        """(n_A, n_B) = (floor(p_A·D), floor(p_B·D)); (0, 0) without a partition."""
        if self.partition is None:
            return (0, 0)
        # The tiny epsilon keeps n/D * D from flooring to n - 1 through rounding.
        return (
            math.floor(self.partition[0] * self.dict_size + 1e-9),
            math.floor(self.partition[1] * self.dict_size + 1e-9),
        )


class TrainConfig(BaseModel):
    """How to train: optimiser, schedule, batch, checkpoints, logging."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: int = Field(1000, description="Number of optimiser steps.")
    batch_size: int = Field(1024, description="Global batch size (summed over processes).")
    lr: float = Field(1e-4, description="Peak learning rate of Adam.")
    adam_betas: tuple[float, float] = Field((0.9, 0.999), description="Adam betas.")
    warmup_steps: int = Field(0, description="Linear learning-rate warm-up steps.")
    decay_fraction: float = Field(
        0.2, description="Fraction of steps at the end over which the lr decays linearly to 0."
    )
    grad_clip: float = Field(1.0, description="Max global gradient norm (0 disables clipping).")
    k_start: int | None = Field(
        None, description="Optional k at step 0, annealed linearly to k (top-k rules)."
    )
    k_anneal_steps: int = Field(0, description="Steps over which k anneals from k_start to k.")
    seed: int = Field(0, description="Seed of the data order.")
    checkpoint_every: int = Field(0, description="Write a resumable checkpoint every N steps.")
    log_every: int = Field(10, description="Write a metrics line every N steps.")
    wandb_project: str | None = Field(
        None, description="Log metrics to this wandb project when wandb is installed."
    )

    @model_validator(mode="after")
    def _check_values(self) -> TrainConfig:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}: use a positive learning rate")
        if any(not 0 <= beta < 1 for beta in self.adam_betas):
            raise ValueError(f"adam_betas must lie in [0, 1), got {self.adam_betas}")
        if self.warmup_steps < 0 or self.k_anneal_steps < 0:
            raise ValueError("warmup_steps and k_anneal_steps must be >= 0")
        if not 0 <= self.decay_fraction <= 1:
            raise ValueError(f"decay_fraction must be in [0, 1], got {self.decay_fraction}")
        if self.grad_clip < 0:
            raise ValueError(f"grad_clip must be >= 0, got {self.grad_clip}")
        if self.k_start is not None and self.k_start < 1:
            raise ValueError(f"k_start must be >= 1, got {self.k_start}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if self.checkpoint_every < 0 or self.log_every < 1:
            raise ValueError("checkpoint_every must be >= 0 and log_every >= 1")
        return self


class RunConfig(BaseModel):
    """A whole training run: the crosscoder and how to train it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    crosscoder: CrosscoderConfig
    train: TrainConfig = TrainConfig()

    @model_validator(mode="after")
    def _check_joint(self) -> RunConfig:
        crosscoder = self.crosscoder
        if crosscoder.sparsity == "relu" and crosscoder.l1_coeff == 0:
            raise ValueError(
                "crosscoder.sparsity = 'relu' trains without any sparsity pressure when "
                "l1_coeff = 0: set crosscoder.l1_coeff > 0 (e.g. 1e-2)"
            )
        if crosscoder.sparsity == "jumprelu" and crosscoder.l0_coeff == crosscoder.l1_coeff == 0:
            raise ValueError(
                "crosscoder.sparsity = 'jumprelu' needs l0_coeff > 0 or l1_coeff > 0 to be sparse"
            )
        k_start = self.train.k_start
        if k_start is not None and k_start >= self.crosscoder.dict_size:
            raise ValueError(
                f"train.k_start must be < dict_size ({self.crosscoder.dict_size}), got {k_start}"
            )
        return self


Model = TypeVar("Model", bound=BaseModel)


def build_config(kind: type[Model], values: dict[str, Any], source: str = "config") -> Model:
    """Validate `values` as `kind`, turning pydantic's errors into one CrossdiffError."""
    try:
        return kind.model_validate(values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{field}: {message}" if field else message)
        raise CrossdiffError(f"{source}: invalid {kind.__name__}: " + "; ".join(problems)) from exc


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file into a dict, with a CrossdiffError naming the file on failure."""
    source = Path(path)
    if not source.is_file():
        raise CrossdiffError(f"config file not found: {source} (check --config)")
    try:
        return tomllib.loads(source.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise CrossdiffError(f"{source}: not valid TOML: {exc}") from exc


def field_help(kind: type[BaseModel], name: str) -> str:
    """The description of one config field, reused as CLI help."""
    return kind.model_fields[name].description or name
