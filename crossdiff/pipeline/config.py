"""The configuration of `crossdiff run`: one TOML file, validated before any work starts.

Tables: `[models]` (the organism to build, or two model names), `[collect]`, `[crosscoder]` and
`[train]` (the main DFC; passed to the crosscoder stage's own `CrosscoderConfig`/`TrainConfig`,
whose field checks apply), `[plain]` (the plain crosscoder compared with the DFC), `[analysis]`,
`[experiments]` and `[sweep]`. Every refusal is one CrossdiffError naming the file, the field,
what was expected and how to fix it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crossdiff.errors import CrossdiffError
from crossdiff.evals.compare import METRICS

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
DEFAULT_CONFIG = CONFIG_DIR / "organism.toml"
STUDY_ALPHAS = (1.0, 6.0, 16.0, 32.0, 64.0)
EXPERIMENT_NAMES = (
    "splice",
    "spillover",
    "steering",
    "ablation",
    "control",
    "penalised",
    "layers",
    "sweep",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelsConfig(_Section):
    """Which pair to study: the built-in organism (built if missing) or two named models."""

    organism: Literal["micro", "default", "none"] = Field(
        "default", description='build and study the organism of this size ("none": model_a/b)'
    )
    organism_seed: int = Field(0, ge=0, description="seed of the organism build")
    model_a: str | None = Field(None, description="model A (tuned): local dir or hub id")
    model_b: str | None = Field(None, description="model B (base): local dir or hub id")
    dtype: Literal["fp32", "bf16", "fp16"] = Field("fp32", description="model dtype")
    device: str = Field("cpu", description="device of both models (cpu, cuda, cuda:1)")

    @model_validator(mode="after")
    def _one_source(self) -> ModelsConfig:
        named = self.model_a is not None or self.model_b is not None
        if self.organism != "none" and named:
            raise ValueError('set organism = "none" to use model_a/model_b instead of the organism')
        if self.organism == "none" and not (self.model_a and self.model_b):
            raise ValueError('with organism = "none", set both model_a and model_b')
        return self


class CollectSettings(_Section):
    """What to collect: the hook point, positions, prompt layout and how many texts."""

    hook_point: str = Field(description="e.g. resid_post.13 (the study)")
    positions: Literal["last", "all"] = Field("last", description="last prompt token, or all")
    chat_template: bool = Field(True, description="false reproduces the study's raw prompts")
    tool_prompts: int = Field(2000, ge=1, description="tool prompts from the train split")
    general_texts: int = Field(2000, ge=1, description="general texts from the train split")
    batch_size: int = Field(32, ge=1, description="texts per forward pass")
    max_length: int = Field(1024, ge=8, description="tokens kept per text")


class PlainSettings(_Section):
    """The plain crosscoder (no partition) the DFC is compared with."""

    enabled: bool = Field(True, description="train a plain crosscoder too")
    l1_coeff: float = Field(0.0, ge=0, description="L1 coefficient of the plain crosscoder")


class ExperimentSettings(_Section):
    """How the experiments are run: prompt sets, grids, generation."""

    run: tuple[str, ...] = Field(EXPERIMENT_NAMES, description=f"subset of {EXPERIMENT_NAMES}")
    dev_prompts: int = Field(40, ge=2, description="prompts of the dev split used for choosing")
    test_suite: Literal["test40", "test"] = Field("test40", description="held-out report suite")
    test_prompts: int | None = Field(None, ge=2, description="cap on test prompts (None: all)")
    alphas: tuple[float, ...] = Field(STUDY_ALPHAS, description="steering factors α")
    subset_sizes: tuple[int, ...] = Field((1, 2, 4, 8), description="numbers of steered features")
    ablate_top: tuple[int, ...] = Field((1, 3), description="ablate the top-n A-exclusive features")
    control_seeds: tuple[int, ...] = Field((0, 1, 2), description="random-direction control seeds")
    policy: Literal["last_prompt_token", "prompt", "all"] = Field(
        "last_prompt_token", description="where edits apply (the study: last prompt token)"
    )
    max_new_tokens: int = Field(64, ge=1, description="tokens generated per prompt")
    batch_size: int = Field(32, ge=1, description="prompts per generation batch")
    penalised_lambda_excl: float = Field(1e-3, gt=0, description="λ_excl of the penalised DFC")
    layers: tuple[str, ...] = Field((), description="hook points of the layer sweep")
    bootstrap_resamples: int = Field(2000, ge=100, description="paired bootstrap resamples")
    metric: str = Field(
        "full", description=f"the per-prompt score every experiment compares: one of {METRICS}"
    )

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; choose one of {', '.join(METRICS)}")
        return value

    @field_validator("run")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in value if name not in EXPERIMENT_NAMES]
        if unknown:
            raise ValueError(f"unknown experiment(s) {unknown}; choose from {EXPERIMENT_NAMES}")
        return value

    @field_validator("alphas", "subset_sizes")
    @classmethod
    def _non_empty_positive(cls, value: tuple[Any, ...]) -> tuple[Any, ...]:
        if not value or any(v < 0 for v in value):
            raise ValueError("give a non-empty list of non-negative values")
        return value


class SweepSettings(_Section):
    """The crosscoder sweep: a grid preset trained from the run's activation store."""

    preset: Literal["small", "study"] = Field("small", description="small (organism) or study (48)")
    steps: int | None = Field(None, ge=1, description="training steps per member (None: [train])")


class RunConfig(_Section):
    """Everything `crossdiff run` does, from the pair of models to the report."""

    seed: int = Field(0, ge=0, description="seed of every random choice after the organism")
    models: ModelsConfig = ModelsConfig()
    collect: CollectSettings
    crosscoder: dict[str, Any] = Field(description="CrosscoderConfig fields except widths")
    train: dict[str, Any] = Field(default_factory=dict, description="TrainConfig fields")
    plain: PlainSettings = PlainSettings()
    analysis: dict[str, Any] = Field(default_factory=dict, description="AnalysisConfig fields")
    experiments: ExperimentSettings = ExperimentSettings()
    sweep: SweepSettings = SweepSettings()

    @field_validator("crosscoder")
    @classmethod
    def _crosscoder_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "widths" in value:
            raise ValueError("do not set widths: they are read from the activation store")
        if value.get("partition") is None:
            raise ValueError("the main crosscoder is a DFC: set partition = [p_A, p_B]")
        from crossdiff.crosscoder.config import CrosscoderConfig

        CrosscoderConfig.model_validate({**value, "widths": (1, 1)})
        return value

    @field_validator("train")
    @classmethod
    def _train_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        from crossdiff.crosscoder.config import TrainConfig

        TrainConfig.model_validate(value)
        return value


def _describe_error(error: dict[str, Any]) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error.get("type") == "extra_forbidden":
        message = "unknown field; remove it or check its spelling"
    return f"{field}: {message}"


def parse_run_config(values: dict[str, Any], source: str) -> RunConfig:
    """Validate a dict as a RunConfig; one CrossdiffError lists every bad field of `source`."""
    try:
        return RunConfig.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(_describe_error(e) for e in exc.errors())
        raise CrossdiffError(
            f"{source}: invalid run config: {problems} (fix these fields; configs/organism.toml "
            "is a complete example)"
        ) from exc


def load_run_config(path: str | Path | None = None) -> RunConfig:
    """Read and validate a run config TOML file (default: configs/organism.toml)."""
    source = Path(path) if path is not None else DEFAULT_CONFIG
    if not source.is_file():
        raise CrossdiffError(f"config file not found: {source} (check --config)")
    try:
        values = tomllib.loads(source.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise CrossdiffError(f"{source}: not valid TOML: {exc} (fix the syntax there)") from exc
    return parse_run_config(values, str(source))
