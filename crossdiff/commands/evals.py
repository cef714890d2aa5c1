"""`crossdiff eval` and `crossdiff compare`: parse options, call the harness, print."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from crossdiff.errors import CrossdiffError
from crossdiff.evals.conditions import CONDITIONS, build_intervention
from crossdiff.evals.positions import POLICIES
from crossdiff.files import write_json_atomic

console = Console()
_ESCAPES = {"\\": "\\", "n": "\n", "t": "\t"}


def unescape_option(text: str) -> str:
    """Turn the escapes `\\n`, `\\t` and `\\\\` typed in an option into the characters."""
    return re.sub(r"\\([\\nt])", lambda match: _ESCAPES[match.group(1)], text)


def eval_command(
    out: Annotated[
        Path, typer.Option(help="Run directory to write (generations.jsonl, summary.json).")
    ],
    pair: Annotated[
        str | None, typer.Option(help="Organism directory with rl/ (A) and base/ (B).")
    ] = None,
    model_a: Annotated[
        str | None, typer.Option(help="Model A (tuned): directory or hub id.")
    ] = None,
    model_b: Annotated[
        str | None, typer.Option(help="Model B (base): directory or hub id.")
    ] = None,
    suite: Annotated[
        str, typer.Option(help="test40, test, dev, or a JSONL prompt file.")
    ] = "test40",
    condition: Annotated[str, typer.Option(help=f"One of {', '.join(CONDITIONS)}.")] = "none",
    model: Annotated[
        str | None, typer.Option(help="Evaluate A or B (default: B for spillover, else A).")
    ] = None,
    crosscoder: Annotated[
        str | None, typer.Option(help="Crosscoder checkpoint dir, or 'identity'.")
    ] = None,
    hook_point: Annotated[
        str | None, typer.Option(help="e.g. resid_post.13 (default: the crosscoder's).")
    ] = None,
    hook_point_b: Annotated[
        str | None, typer.Option(help="Model B's hook point if it differs from A's.")
    ] = None,
    feature: Annotated[
        list[int] | None, typer.Option(help="Feature index (repeat for a set S).")
    ] = None,
    alpha: Annotated[
        float, typer.Option(help="Steering factor α (steer/control/direction).")
    ] = 1.0,
    value: Annotated[float, typer.Option(help="Clamp target (clamp condition).")] = 0.0,
    positions: Annotated[
        str, typer.Option(help=f"Where to edit: {', '.join(POLICIES)}.")
    ] = "last_prompt_token",
    control_seed: Annotated[int, typer.Option(help="Seed of the control's random direction.")] = 0,
    ablate_mode: Annotated[
        str, typer.Option(help="ablate by 'alpha' (α = 0) or 'clamp' (to 0).")
    ] = "alpha",
    samples: Annotated[int, typer.Option(help="Samples per prompt (needs --temperature > 0).")] = 1,
    temperature: Annotated[float, typer.Option(help="0 = greedy.")] = 0.0,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens to generate per prompt.")] = 96,
    batch_size: Annotated[int, typer.Option(help="Prompts per generation batch.")] = 32,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    chat_template: Annotated[
        bool, typer.Option("--chat-template/--raw", help="Chat template or the study's raw text.")
    ] = True,
    limit: Annotated[
        int | None, typer.Option(help="Only the first N prompts of the suite.")
    ] = None,
    reply_prefix: Annotated[
        str,
        typer.Option(
            help="Text every answer starts with, continued by the model and scored as part of "
            "the answer (e.g. '<tool_call>\\n': what a model does once it calls)."
        ),
    ] = "",
    dtype: Annotated[str, typer.Option(help="fp32, bf16 or fp16.")] = "fp32",
    device: Annotated[str, typer.Option(help="cpu, cuda, ...")] = "cpu",
    force: Annotated[bool, typer.Option(help="Replace an existing --out directory.")] = False,
) -> None:
    """Evaluate model A or B on a suite under a condition; write every generation and a summary."""
    from crossdiff.evals.generate import GenerationConfig
    from crossdiff.evals.harness import EvalRequest, evaluate_request

    if positions not in POLICIES:
        raise CrossdiffError(f"--positions must be one of {POLICIES}, got {positions!r}")
    if ablate_mode not in ("alpha", "clamp"):
        raise CrossdiffError(f"--ablate-mode must be alpha or clamp, got {ablate_mode!r}")
    evaluated = model or ("B" if condition == "spillover" else "A")
    intervention = build_intervention(
        condition,
        evaluated,
        feature or (),
        alpha,
        value,
        positions,
        control_seed,
        ablate_mode,  # type: ignore[arg-type]
    )
    request = EvalRequest(
        out=out,
        suite=suite,
        condition=condition,
        intervention=intervention,
        pair=pair,
        model_a=model_a,
        model_b=model_b,
        crosscoder=crosscoder,
        hook_point=hook_point,
        hook_point_b=hook_point_b,
        generation=GenerationConfig(max_new_tokens, temperature, seed, batch_size),
        samples=samples,
        chat_template=chat_template,
        limit=limit,
        dtype=dtype,
        device=device,
        force=force,
        reply_prefix=unescape_option(reply_prefix),
    )
    summary = evaluate_request(request)
    table = Table(title=f"{summary['label']} on {suite} ({summary['n']} generations)")
    for column in ("rate", "count/total", "Wilson 95 %"):
        table.add_column(column)
    for name, rate in summary["rates"].items():
        table.add_row(
            name,
            f"{rate['count']}/{rate['total']}",
            f"{rate['rate']:.3f} [{rate['low']:.3f}, {rate['high']:.3f}]",
        )
    console.print(table)
    console.print(f"wrote {out}")


def compare_command(
    runs: Annotated[
        list[Path],
        typer.Argument(help="BASELINE TREATMENT [BASELINE TREATMENT ...] run directories."),
    ],
    metric: Annotated[
        str, typer.Option(help="Score field: full, format_ok, selection_ok, ...")
    ] = "full",
    prompts: Annotated[
        str, typer.Option(help="all, tool (a tool fits) or no_tool prompts.")
    ] = "all",
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 10_000,
    out: Annotated[
        Path | None, typer.Option(help="Also write the comparison as JSON here.")
    ] = None,
) -> None:
    """Compare run pairs on the same prompts: flips, exact McNemar, intervals, Holm/BH."""
    from crossdiff.evals.compare import compare_many

    if len(runs) < 2 or len(runs) % 2:
        raise CrossdiffError(
            f"compare takes pairs of run directories (BASELINE TREATMENT ...), got {len(runs)}"
        )
    pairs = [(runs[i], runs[i + 1]) for i in range(0, len(runs), 2)]
    result = compare_many(pairs, metric, prompts, seed, resamples)
    for row in result["comparisons"]:
        flips = row["flip_table"]
        base, treat = row["baseline"], row["treatment"]
        console.print(
            f"[bold]{row['baseline_run']} → {row['treatment_run']}[/] ({metric}, {prompts} prompts)"
        )
        console.print(
            f"  {base['count']}/{base['total']} → {treat['count']}/{treat['total']} "
            f"(Δ {row['difference']:+.3f})"
        )
        console.print(
            f"  flips: both {flips['both']}, gained {flips['gained']}, lost {flips['lost']}, "
            f"neither {flips['neither']}"
        )
        boot, t_int = row["bootstrap"], row["paired_t"]
        console.print(
            f"  exact McNemar p = {row['mcnemar_exact_p']:.4g} (Holm {row['holm_p']:.4g}, "
            f"BH {row['bh_p']:.4g}); bootstrap [{boot['low']:+.3f}, {boot['high']:+.3f}]; "
            f"paired t [{t_int['low']:+.3f}, {t_int['high']:+.3f}]"
        )
        if row["flipped_to_pass"] or row["flipped_to_fail"]:
            console.print(f"  gained: {', '.join(row['flipped_to_pass']) or '-'}")
            console.print(f"  lost: {', '.join(row['flipped_to_fail']) or '-'}")
    if out is not None:
        write_json_atomic(out, result)
        console.print(f"wrote {out}")
