"""`crossdiff eval` and `compare` end to end on tiny models; bad input refused before generating."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import transformers
from typer.testing import CliRunner

from crossdiff.cli import app
from crossdiff.commands.evals import unescape_option
from crossdiff.crosscoder import Crosscoder, CrosscoderConfig
from crossdiff.crosscoder.checkpoint import save_crosscoder
from crossdiff.errors import CrossdiffError
from crossdiff.evals import harness
from crossdiff.evals.compare import compare_runs
from crossdiff.evals.conditions import build_intervention
from crossdiff.evals.generate import GenerationConfig
from crossdiff.evals.harness import EvalRequest, evaluate_request
from crossdiff.evals.runs import load_run
from crossdiff.models.tiny import tiny_causal_lm, tiny_tokenizer
from crossdiff.world import load_split, save_prompts_jsonl

transformers.logging.set_verbosity_error()
WIDTH_A, WIDTH_B = 32, 48
HOOK = "resid_post.1"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def pair_dir(tmp_path_factory) -> Path:
    """An organism-shaped directory: rl/ (model A) and base/ (model B), tiny random models."""
    root = tmp_path_factory.mktemp("pair")
    tokenizer = tiny_tokenizer()
    for name, width, seed in (("rl", WIDTH_A, 0), ("base", WIDTH_B, 1)):
        tiny_causal_lm("qwen2", width=width, seed=seed).save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
    return root


def _request(pair_dir: Path, out: Path | None, condition: str = "none", **options) -> EvalRequest:
    features = options.pop("features", ())
    intervention = build_intervention(
        condition, options.pop("model", "A"), features, options.pop("alpha", 1.0)
    )
    return EvalRequest(
        out=out,
        suite=options.pop("suite", "test40"),
        condition=condition,
        intervention=intervention,
        pair=str(pair_dir),
        generation=options.pop("generation", GenerationConfig(max_new_tokens=4)),
        limit=options.pop("limit", 3),
        show_progress=False,
        **options,
    )


def test_eval_writes_every_generation_and_wilson_rates(pair_dir, tmp_path) -> None:
    summary = evaluate_request(_request(pair_dir, tmp_path / "run"))
    run = load_run(tmp_path / "run")
    assert [r["prompt_id"] for r in run.records] == [p.id for p in load_split("test40")[:3]]
    record = run.records[0]
    assert {"prompt_id", "sample", "condition", "text", "stopped", "score"} <= set(record)
    assert {"full", "format_ok", "reason", "study_overall"} <= set(record["score"])
    full = summary["rates"]["full_correctness"]
    assert {"count", "total", "low", "high"} <= set(full) and full["low"] <= full["rate"]
    assert run.summary == json.loads(json.dumps(summary))


def test_identity_splice_through_the_harness_flips_nothing(pair_dir, tmp_path) -> None:
    evaluate_request(_request(pair_dir, tmp_path / "none"))
    evaluate_request(
        _request(pair_dir, tmp_path / "splice", "splice", crosscoder="identity", hook_point=HOOK)
    )
    comparison = compare_runs(tmp_path / "none", tmp_path / "splice", num_resamples=100)
    assert comparison.comparison.table.gained == comparison.comparison.table.lost == 0
    assert comparison.comparison.mcnemar_p == 1.0
    texts = [r["text"] for r in load_run(tmp_path / "splice").records]
    assert texts == [r["text"] for r in load_run(tmp_path / "none").records]


def test_sampling_k_samples_per_prompt(pair_dir, tmp_path) -> None:
    config = GenerationConfig(max_new_tokens=4, temperature=1.0, seed=3)
    summary = evaluate_request(
        _request(pair_dir, tmp_path / "k", generation=config, samples=2, limit=2)
    )
    records = load_run(tmp_path / "k").records
    assert [(r["prompt_id"], r["sample"]) for r in records][:2] == [
        (records[0]["prompt_id"], 0),
        (records[1]["prompt_id"], 0),
    ]
    assert sorted(r["sample"] for r in records) == [0, 0, 1, 1]
    assert summary["n"] == 4


@pytest.fixture()
def no_generation(monkeypatch):
    """Fail the test if generation starts."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("generation started despite bad input")

    monkeypatch.setattr(harness, "evaluate", refuse)


def _crosscoder_dir(tmp_path: Path, widths, metadata=None) -> Path:
    config = CrosscoderConfig(
        widths=widths, dict_size=16, sparsity="topk", k=4, normalisation="none"
    )
    save_crosscoder(Crosscoder(config), tmp_path / "cc", metadata=metadata)
    return tmp_path / "cc"


def _bad_cases(tmp_path: Path, pair_dir: Path) -> dict[str, tuple[EvalRequest, str]]:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    good = load_split("test40")[:2]
    malformed = tmp_path / "malformed.jsonl"
    save_prompts_jsonl(good, malformed)
    malformed.write_text(malformed.read_text() + '{"id": "x", "user": \n')
    unreadable = tmp_path / "unreadable.jsonl"
    row = good[0].to_dict()
    row["tools"][0]["parameters"] = {"type": "object", "properties": {"x": {"type": "matrix"}}}
    unreadable.write_text(json.dumps(row) + "\n")
    swapped = _crosscoder_dir(tmp_path / "swapped", (WIDTH_B, WIDTH_A))
    elsewhere = _crosscoder_dir(
        tmp_path / "hook", (WIDTH_A, WIDTH_B), {"hook_point": "resid_post.0"}
    )
    right = _crosscoder_dir(tmp_path / "right", (WIDTH_A, WIDTH_B), {"hook_point": HOOK})
    out = tmp_path / "out"
    return {
        "empty suite": (_request(pair_dir, out, suite=str(empty)), "no prompts"),
        "malformed suite": (_request(pair_dir, out, suite=str(malformed)), "malformed.jsonl:3"),
        "unreadable tools": (_request(pair_dir, out, suite=str(unreadable)), "unreadable.jsonl:1"),
        "missing suite": (_request(pair_dir, out, suite="tset40"), "neither a built-in"),
        "widths": (
            _request(pair_dir, out, "splice", crosscoder=str(swapped), hook_point=HOOK),
            "widths",
        ),
        "hook point": (
            _request(pair_dir, out, "splice", crosscoder=str(elsewhere), hook_point=HOOK),
            "does not match",
        ),
        "feature": (
            _request(pair_dir, out, "steer", crosscoder=str(right), features=(16,), alpha=2.0),
            "out of range",
        ),
        "greedy samples": (_request(pair_dir, out, samples=3), "greedy"),
        "no crosscoder": (_request(pair_dir, out, "splice", hook_point=HOOK), "needs --crosscoder"),
    }


def test_bad_input_is_refused_before_generation(pair_dir, tmp_path, no_generation) -> None:
    for name, (request, message) in _bad_cases(tmp_path, pair_dir).items():
        with pytest.raises(CrossdiffError, match=message):
            evaluate_request(request)
        assert not (tmp_path / "out").exists(), name
    with pytest.raises(CrossdiffError, match="needs --feature"):
        build_intervention("steer", "A", ())
    with pytest.raises(CrossdiffError, match="--model B"):
        build_intervention("spillover", "A")


def test_escapes_typed_in_an_option_become_characters() -> None:
    assert unescape_option("<tool_call>\\n") == "<tool_call>\n"
    assert unescape_option("a\\tb\\\\n é") == "a\tb\\n é"


def test_cli_eval_compare_and_one_line_errors(pair_dir, tmp_path) -> None:
    runner = CliRunner()
    common = ["--pair", str(pair_dir), "--limit", "2", "--max-new-tokens", "3"]
    for name, extra in (
        ("none", []),
        (
            "steer",
            [
                "--condition",
                "direction",
                "--crosscoder",
                "identity",
                "--hook-point",
                HOOK,
                "--feature",
                "0",
                "--alpha",
                "3",
            ],
        ),
    ):
        result = runner.invoke(app, ["eval", "--out", str(tmp_path / name), *common, *extra])
        assert result.exit_code == 0, result.output
    result = runner.invoke(
        app,
        ["eval", "--out", str(tmp_path / "made"), *common, "--reply-prefix", "<tool_call>\\n"],
    )
    assert result.exit_code == 0, result.output
    made = load_run(tmp_path / "made")
    assert made.summary["reply_prefix"] == "<tool_call>\n"
    assert all(r["text"].startswith("<tool_call>\n") for r in made.records)
    assert all(r["score"]["reason"] != "no_tag" for r in made.records)
    result = runner.invoke(
        app,
        [
            "compare",
            str(tmp_path / "none"),
            str(tmp_path / "steer"),
            "--out",
            str(tmp_path / "c.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "c.json").read_text())["num_comparisons"] == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "crossdiff.cli",
            "eval",
            "--out",
            str(tmp_path / "x"),
            *common,
            "--suite",
            str(bad),
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert process.returncode == 2
    assert "bad.jsonl:1" in process.stderr and len(process.stderr.strip().splitlines()) <= 2


def test_on_the_micro_organism_identity_splice_and_spillover_change_nothing(
    micro_organism, tmp_path
) -> None:
    runs = {}
    for name, condition, model in (
        ("a", "none", "A"),
        ("splice", "splice", "A"),
        ("b", "none", "B"),
        ("spillover", "spillover", "B"),
    ):
        request = _request(micro_organism, tmp_path / name, condition, model=model, limit=4)
        if condition != "none":
            request = dataclasses.replace(request, crosscoder="identity", hook_point="resid_post.0")
        evaluate_request(request)
        runs[name] = [r["text"] for r in load_run(tmp_path / name).records]
    assert runs["splice"] == runs["a"]
    assert runs["spillover"] == runs["b"]
