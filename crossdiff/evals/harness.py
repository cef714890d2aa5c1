"""`crossdiff eval`: evaluate model A or B on a suite under one condition, and keep everything.

Order of work: the suite is read and validated, the dictionary is loaded and checked against the
models and the hook point, the intervention is installed (which checks widths and feature
indices), and only then does generation start. Generation and scoring are the organism's
`evaluate` (one generation loop, one scorer); the intervention is the hook mechanism of
`crossdiff.evals.hooks`; the files are `crossdiff.evals.runs`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from crossdiff import __version__
from crossdiff.errors import CrossdiffError
from crossdiff.evals.dictionaries import Dictionary, IdentityDictionary
from crossdiff.evals.evaluate import evaluate
from crossdiff.evals.generate import GenerationConfig
from crossdiff.evals.hooks import hidden_width, intervene
from crossdiff.evals.interventions import Intervention
from crossdiff.evals.prompt_cache import PromptActivationCache
from crossdiff.evals.runs import GenerationRecord, rate_summary, write_run
from crossdiff.evals.suites import load_suite
from crossdiff.files import prepare_output_dir, sha256_file
from crossdiff.seeding import derive_seed
from crossdiff.world import ToolPrompt

if TYPE_CHECKING:
    from crossdiff.models.pair import ModelPair


@dataclass(frozen=True)
class LoadedDictionary:
    """A dictionary with where it came from and the hook point it was trained at (if known)."""

    dictionary: Dictionary | None
    description: dict[str, Any]
    hook_point: str | None
    hook_point_b: str | None = None


def load_dictionary(spec: str | None, widths: tuple[int, int] | None = None) -> LoadedDictionary:
    """Load `spec`: a crosscoder checkpoint directory, 'identity', or None (no dictionary).

    'identity' needs the models' widths. The crosscoder's hook point is read from its metadata
    (`hook_point`, or `store.hook_point`) so a mismatch can be refused before generation.
    """
    if spec is None:
        return LoadedDictionary(None, {"kind": "none"}, None)
    if spec == "identity":
        if widths is None:
            raise CrossdiffError("internal: the identity dictionary needs the models' widths")
        return LoadedDictionary(
            IdentityDictionary(*widths), {"kind": "identity", "widths": list(widths)}, None
        )
    from crossdiff.crosscoder.checkpoint import WEIGHTS_FILE, load_crosscoder, load_metadata

    path = Path(spec)
    if not path.is_dir():
        raise CrossdiffError(
            f"--crosscoder {spec}: not a directory; give a crosscoder checkpoint directory "
            "(config.json + weights.safetensors) or 'identity'"
        )
    model = load_crosscoder(path)
    model.requires_grad_(False)
    metadata = load_metadata(path)
    store = metadata.get("store") if isinstance(metadata.get("store"), dict) else {}
    hook_point = metadata.get("hook_point") or store.get("hook_point")
    hook_point_b = metadata.get("hook_point_b") or store.get("hook_point_b")
    description = {
        "kind": "crosscoder",
        "path": str(path),
        "weights_sha256": sha256_file(path / WEIGHTS_FILE),
        "config": model.config.model_dump(mode="json"),
    }
    return LoadedDictionary(
        model,
        description,
        str(hook_point) if hook_point else None,
        str(hook_point_b) if hook_point_b else None,
    )


def choose_hook_points(
    requested: str | None, requested_b: str | None, loaded: LoadedDictionary
) -> tuple[str, str | None]:
    """The hook points to edit (A's, and B's if it differs), checked against the dictionary's."""
    chosen = []
    for flag, asked, recorded in (
        ("--hook-point", requested, loaded.hook_point),
        ("--hook-point-b", requested_b, loaded.hook_point_b),
    ):
        if asked and recorded and asked != recorded:
            raise CrossdiffError(
                f"{flag} {asked} does not match the crosscoder's hook point {recorded} (from its "
                f"metadata): drop {flag} or use a crosscoder trained at that hook point"
            )
        chosen.append(asked or recorded)
    if not chosen[0]:
        raise CrossdiffError(
            "no hook point: pass --hook-point (e.g. resid_post.13); this dictionary does not "
            "record one"
        )
    return chosen[0], chosen[1]


@dataclass(frozen=True)
class EvalSpec:
    """Everything that defines an evaluation run besides the models and the dictionary."""

    suite: str
    condition: str
    intervention: Intervention
    hook_point: str | None
    generation: GenerationConfig = dataclasses.field(default_factory=GenerationConfig)
    samples: int = 1
    chat_template: bool = True
    hook_point_b: str | None = None
    reply_prefix: str = ""

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise CrossdiffError(f"--samples must be >= 1, got {self.samples}")
        if self.samples > 1 and self.generation.temperature == 0:
            raise CrossdiffError(
                "--samples > 1 with greedy decoding repeats one text: set --temperature > 0"
            )


def sample_config(generation: GenerationConfig, sample: int) -> GenerationConfig:
    """The generation config of sample k: sample 0 keeps the seed, others derive one."""
    if sample == 0:
        return generation
    return dataclasses.replace(generation, seed=derive_seed(generation.seed, "sample", sample))


def skip_tokens(tokenizer: Any) -> frozenset[int]:
    """Token ids never edited under the prompt/all policies: the BOS token, if the model has one."""
    bos = getattr(tokenizer, "bos_token_id", None)
    return frozenset() if bos is None else frozenset({int(bos)})


def run_eval(
    pair: ModelPair,
    prompts: Sequence[ToolPrompt],
    spec: EvalSpec,
    loaded: LoadedDictionary,
    out_dir: str | Path | None = None,
    force: bool = False,
    show_progress: bool = True,
    prompt_cache: PromptActivationCache | None = None,
) -> tuple[list[GenerationRecord], dict[str, Any]]:
    """Generate and score every prompt × sample under the intervention; write the run if asked.

    Returns the records and the summary (the contents of generations.jsonl and summary.json).
    Pass the same `prompt_cache` to runs of several conditions on the same prompts to run the
    other model over each prompt batch once (see `crossdiff.evals.prompt_cache`).
    """
    if not prompts:
        raise CrossdiffError(f"suite {spec.suite!r} has no prompts")
    models = (pair.model_a, pair.model_b)
    records: list[GenerationRecord] = []
    started = time.perf_counter()
    skip = skip_tokens(pair.tokenizer)
    with (
        intervene(
            models,
            spec.hook_point,
            spec.intervention,
            loaded.dictionary,
            skip,
            spec.hook_point_b,
            prompt_cache,
        ) as run,
        Progress(
            TextColumn(f"eval {spec.condition}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            disable=not show_progress,
        ) as progress,
    ):
        task = progress.add_task("generate", total=len(prompts) * spec.samples)
        for sample in range(spec.samples):
            evaluation = evaluate(
                run.model,
                pair.tokenizer,
                prompts,
                sample_config(spec.generation, sample),
                chat_template=spec.chat_template,
                reply_prefix=spec.reply_prefix,
                progress=lambda done: progress.advance(task, done),
                condition=spec.condition,
                sample=sample,
            )
            records.extend(evaluation.records)
    elapsed = time.perf_counter() - started
    summary = {
        "crossdiff_version": __version__,
        "suite": spec.suite,
        "num_prompts": len(prompts),
        "samples_per_prompt": spec.samples,
        "condition": spec.condition,
        "evaluated_model": "AB"[spec.intervention.model],
        "intervention": spec.intervention.to_dict(),
        "label": spec.intervention.label(),
        "hook_point": spec.hook_point,
        "hook_point_b": spec.hook_point_b or spec.hook_point,
        "dictionary": loaded.description,
        "models": {"A": pair.name_a, "B": pair.name_b},
        "widths": [hidden_width(pair.model_a), hidden_width(pair.model_b)],
        "generation": dataclasses.asdict(spec.generation),
        "chat_template": spec.chat_template,
        "reply_prefix": spec.reply_prefix,
        "forward_calls": dict(run.calls),
        "elapsed_seconds": elapsed,
        **rate_summary([r.score for r in records]),
    }
    if out_dir is not None:
        write_run(out_dir, records, summary, force=force)
    return records, summary


def resolve_model_dirs(
    pair: str | None, model_a: str | None, model_b: str | None
) -> tuple[str, str]:
    """Model A and B sources: an organism directory (rl/ = A, base/ = B) or two explicit names."""
    if pair is not None:
        if model_a or model_b:
            raise CrossdiffError("give either --pair or --model-a/--model-b, not both")
        root = Path(pair)
        a_dir, b_dir = root / "rl", root / "base"
        if not (a_dir.is_dir() and b_dir.is_dir()):
            raise CrossdiffError(
                f"--pair {pair}: expected an organism directory with rl/ (model A) and base/ "
                "(model B) inside (from `crossdiff organism build`); or use --model-a/--model-b"
            )
        return str(a_dir), str(b_dir)
    if not (model_a and model_b):
        raise CrossdiffError("name the models: --pair ORGANISM_DIR, or --model-a A --model-b B")
    return model_a, model_b


@dataclass(frozen=True)
class EvalRequest:
    """A `crossdiff eval` invocation: where the models, suite and dictionary come from."""

    out: Path | None
    suite: str
    condition: str
    intervention: Intervention
    pair: str | None = None
    model_a: str | None = None
    model_b: str | None = None
    crosscoder: str | None = None
    hook_point: str | None = None
    hook_point_b: str | None = None
    generation: GenerationConfig = dataclasses.field(default_factory=GenerationConfig)
    samples: int = 1
    chat_template: bool = True
    limit: int | None = None
    dtype: str = "fp32"
    device: str = "cpu"
    force: bool = False
    show_progress: bool = True
    reply_prefix: str = ""


def evaluate_request(request: EvalRequest) -> dict[str, Any]:
    """Validate everything cheap first (output dir, suite, options), then load and evaluate.

    Returns the summary written to `request.out`.
    """
    from crossdiff.models.pair import load_model_pair

    if request.out is not None:
        prepare_output_dir(request.out, request.force)
    prompts = load_suite(request.suite, limit=request.limit)
    source_a, source_b = resolve_model_dirs(request.pair, request.model_a, request.model_b)
    intervention = request.intervention
    if intervention.needs_dictionary and request.crosscoder is None:
        raise CrossdiffError(
            f"the {request.condition} condition needs --crosscoder (a checkpoint dir or 'identity')"
        )
    spec = EvalSpec(
        request.suite,
        request.condition,
        intervention,
        request.hook_point,
        request.generation,
        request.samples,
        request.chat_template,
        request.hook_point_b,
        request.reply_prefix,
    )
    pair = load_model_pair(source_a, source_b, dtype=request.dtype, device=request.device)
    widths = (hidden_width(pair.model_a), hidden_width(pair.model_b))
    loaded = load_dictionary(request.crosscoder if intervention.needs_dictionary else None, widths)
    if isinstance(loaded.dictionary, torch.nn.Module):
        loaded.dictionary.to(request.device)
    if intervention.needs_dictionary:
        point, point_b = choose_hook_points(request.hook_point, request.hook_point_b, loaded)
        spec = dataclasses.replace(spec, hook_point=point, hook_point_b=point_b)
    _, summary = run_eval(
        pair, prompts, spec, loaded, request.out, request.force, request.show_progress
    )
    return summary
