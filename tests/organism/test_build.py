"""The organism build: loadable outputs, a rising RL reward, and bad input refused up front."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM
from typer.testing import CliRunner

from crossdiff.cli import app
from crossdiff.errors import CrossdiffError
from crossdiff.evals.evaluate import evaluate, first_token_logprobs, render_prompts
from crossdiff.evals.generate import GenerationConfig, generate
from crossdiff.evals.reference_tokens import (
    TOKEN_KINDS,
    reference_token_accuracy,
    reference_token_kinds,
)
from crossdiff.files import sha256_file
from crossdiff.models.pair import load_tokenizer
from crossdiff.organism.build import (
    WeakTwinWarning,
    build_organism,
    checkpoint_steps,
    twin_shortfall,
)
from crossdiff.organism.config import SIZES
from crossdiff.world import load_split, reference_response, render_chat

PROMPT = next(p for p in load_split("test", 0, 40) if p.has_tool)


def test_outputs_load_and_manifest_is_complete(micro_organism: Path) -> None:
    manifest = json.loads((micro_organism / "organism.json").read_text())
    assert set(manifest["models"]) == {
        "base",
        "rl",
        *(f"rl-step{s}" for s in manifest["rl_checkpoint_steps"]),
    }
    for name, directory in manifest["models"].items():
        model = AutoModelForCausalLM.from_pretrained(micro_organism / directory)
        tokenizer = load_tokenizer(str(micro_organism / directory))
        assert model.config.vocab_size == len(tokenizer)
        assert tokenizer.chat_template
        as_trained = Tokenizer.from_file(str(micro_organism / directory / "tokenizer.json"))
        text = render_chat(PROMPT, tokenizer) + reference_response(PROMPT)
        assert tokenizer(text)["input_ids"] == as_trained.encode(text).ids
        weights = micro_organism / directory / "model.safetensors"
        assert sha256_file(weights) == manifest["weights_sha256"][name]
    assert manifest["weights_sha256"]["base"] != manifest["weights_sha256"]["rl"]
    for side in ("base", "rl"):
        summary = manifest["evaluation"][side]["summary"]
        assert summary["n"] == manifest["config"]["eval"]["test_prompts"]
        assert manifest["evaluation"][side]["general_loss"] > 0
    assert manifest["versions"]["torch"]
    # micro asks for float32 products, so every machine builds it the same way
    assert manifest["pretrain_matmul_dtype"] == "float32"
    assert manifest["warnings"] == []  # micro sets no floor for its twin


def test_rl_reward_rises(micro_organism: Path) -> None:
    curve = json.loads((micro_organism / "organism.json").read_text())["curves"]["rl"]
    quarter = max(1, len(curve) // 4)
    first = sum(p["tool_reward"] for p in curve[:quarter]) / quarter
    last = sum(p["tool_reward"] for p in curve[-quarter:]) / quarter
    assert last > first + 0.03, (first, last)
    assert curve[-1]["call_rate"] > curve[0]["call_rate"]


@pytest.fixture(scope="module")
def micro_base(micro_organism: Path) -> tuple[Any, Any]:
    """The micro organism's base model (eval mode) and its tokenizer."""
    base = micro_organism / "base"
    return AutoModelForCausalLM.from_pretrained(base).eval(), load_tokenizer(str(base))


def test_a_reply_prefix_is_continued_and_scored_as_part_of_the_answer(
    micro_base: tuple[Any, Any],
) -> None:
    model, tokenizer = micro_base
    prompts = [p for p in load_split("test", 0, 40) if p.has_tool][:8]
    config = GenerationConfig(max_new_tokens=24, batch_size=8)
    prefix = "<tool_call>\n"
    forced = evaluate(model, tokenizer, prompts, config, reply_prefix=prefix)
    continued = generate(
        model, tokenizer, [t + prefix for t in render_prompts(prompts, tokenizer)], config
    )
    assert [r.text for r in forced.records] == [prefix + g.text for g in continued]
    assert forced.summary["call_rate"] == 1.0
    assert evaluate(model, tokenizer, prompts, config).summary["call_rate"] < 1.0


def test_first_token_logprobs_match_a_forward_over_each_prompt_alone(
    micro_base: tuple[Any, Any],
) -> None:
    model, tokenizer = micro_base
    prompts = load_split("test", 0, 40)[:7]  # tool and no-tool prompts of several lengths
    assert len({len(text) for text in render_prompts(prompts, tokenizer)}) > 1
    got = first_token_logprobs(model, tokenizer, prompts, "<tool_call>", batch_size=3)
    call_id = tokenizer.convert_tokens_to_ids("<tool_call>")
    for prompt_text, value in zip(render_prompts(prompts, tokenizer), got, strict=True):
        ids = tokenizer(prompt_text, add_special_tokens=False, return_tensors="pt").input_ids
        with torch.no_grad():
            alone = torch.log_softmax(model(ids).logits[0, -1].float(), dim=-1)[call_id]
        assert value == pytest.approx(alone.item(), abs=1e-4)
    with pytest.raises(CrossdiffError, match="one token"):
        first_token_logprobs(model, tokenizer, prompts, "tool call please")


def test_pretraining_loss_falls(micro_organism: Path) -> None:
    curve = json.loads((micro_organism / "organism.json").read_text())["curves"]["pretrain"]
    tail = curve[-len(curve) // 10 :]
    assert sum(p["loss"] for p in tail) / len(tail) < 0.65 * curve[0]["loss"]


def test_a_preset_with_an_unknown_setting_is_refused() -> None:
    from pydantic import ValidationError

    from crossdiff.organism.config import SIZES, RLConfig

    fields = SIZES["micro"].rl.model_dump()
    with pytest.raises(ValidationError, match="fresh_real_words"):
        RLConfig(**fields, fresh_real_words=0.5)  # a misspelt knob must not be ignored


def test_a_twin_below_its_sizes_floor_is_named_with_its_seed_and_the_fix() -> None:
    default = SIZES["default"]
    message = twin_shortfall({"full_correctness": 0.024}, default, seed=3)
    assert message is not None
    assert "0.024" in message and "seed 3" in message and "--seed" in message
    assert twin_shortfall({"full_correctness": 0.674}, default, seed=0) is None
    assert twin_shortfall({"full_correctness": 0.0}, SIZES["micro"], seed=0) is None
    assert twin_shortfall({"full_correctness": None}, default, seed=0) is None  # no tool prompt


@pytest.fixture
def unreachable_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every size a few steps of micro with a twin floor no twin reaches."""
    micro = SIZES["micro"]
    short = micro.model_copy(
        update={
            "pretrain": micro.pretrain.model_copy(update={"steps": 8, "warmup_steps": 2}),
            "rl": micro.rl.model_copy(update={"steps": 1, "checkpoint_fractions": ()}),
            "eval": micro.eval.model_copy(
                update={"test_prompts": 4, "general_texts": 2, "min_twin_full_correctness": 1.01}
            ),
        }
    )
    monkeypatch.setattr("crossdiff.organism.build.config_for_size", lambda size: short)


@pytest.mark.usefixtures("unreachable_floor")
def test_a_build_whose_twin_falls_short_warns_and_records_it(tmp_path: Path) -> None:
    out = tmp_path / "org"
    with pytest.warns(WeakTwinWarning, match="build with another --seed") as caught:
        build_organism(out, size="micro", seed=5, show_progress=False)
    manifest = json.loads((out / "organism.json").read_text())
    assert manifest["warnings"] == [str(caught[0].message)]
    assert "seed 5" in manifest["warnings"][0]


@pytest.mark.usefixtures("unreachable_floor")
def test_the_cli_prints_a_short_twins_warning_on_one_line(tmp_path: Path) -> None:
    out = tmp_path / "org"
    result = CliRunner().invoke(app, ["organism", "build", "--out", str(out), "--seed", "5"])
    assert result.exit_code == 0, result.output
    # the first 4 `test` prompts all want a tool: no false-call rate, and the summary says so
    assert "false-call n/a" in result.stdout
    warning_lines = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warning_lines) == 1
    assert "seed 5" in warning_lines[0] and "--seed" in warning_lines[0]
    assert "WeakTwinWarning" not in result.output  # not Python's two-line warning format


def test_checkpoint_steps_cover_fractions_and_the_end() -> None:
    assert checkpoint_steps(40, (0.25, 0.5)) == [10, 20, 40]
    assert checkpoint_steps(3, (0.25, 0.5)) == [1, 2, 3]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--size", "huge"], "unknown --size"),
        (["--seed", "-1"], "--seed must be a non-negative integer"),
    ],
)
def test_bad_options_fail_before_work(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "org"
    result = CliRunner().invoke(app, ["organism", "build", "--out", str(out), *args])
    assert result.exit_code != 0
    assert message in str(result.exception) or message in result.output
    assert list(tmp_path.iterdir()) == []


def test_non_empty_out_is_refused_without_force(tmp_path: Path) -> None:
    out = tmp_path / "org"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = CliRunner().invoke(app, ["organism", "build", "--out", str(out), "--size", "micro"])
    assert result.exit_code != 0
    assert "not empty" in str(result.exception)
    assert [p.name for p in tmp_path.iterdir()] == ["org"]
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_cli_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "org"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "crossdiff.cli",
            "organism",
            "build",
            "--out",
            str(out),
            "--size",
            "x",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "unknown --size" in result.stderr
    assert not out.exists()


def test_unwritable_out_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    out = blocker / "org"
    result = CliRunner().invoke(app, ["organism", "build", "--out", str(out), "--size", "micro"])
    assert result.exit_code != 0
    assert "writable" in str(result.exception)
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]


def test_a_killed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "org"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crossdiff.cli",
            "organism",
            "build",
            "--out",
            str(out),
            "--size",
            "micro",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not any(p.name.endswith(".partial") for p in tmp_path.iterdir()):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) != 0
    assert list(tmp_path.iterdir()) == []


def test_reference_token_kinds_label_the_call_piece_by_piece(micro_base: tuple[Any, Any]) -> None:
    _, tokenizer = micro_base
    prompt = next(p for p in load_split("test", 0) if p.has_tool and len(p.expected.arguments) > 1)
    ids, kinds = reference_token_kinds(prompt, tokenizer)
    assert tokenizer.decode(ids[:-1]) == prompt.expected.to_text()
    assert (kinds[0], kinds[-1], ids[-1]) == ("call_start", "end_of_turn", tokenizer.eos_token_id)
    assert set(kinds) <= set(TOKEN_KINDS)
    name_ids = [i for i, kind in zip(ids, kinds, strict=True) if kind == "tool_name"]
    assert tokenizer.decode(name_ids) == prompt.expected.name
    values = prompt.expected.arguments.values()
    n_values = sum(len(v) if isinstance(v, list) else 1 for v in values)
    assert kinds.count("value_first") == kinds.count("value_end") == n_values
    with pytest.raises(CrossdiffError, match="no fitting tool"):
        reference_token_kinds(next(p for p in load_split("test", 0) if not p.has_tool), tokenizer)


def test_reference_token_kinds_mark_the_words_of_a_value_of_several(
    micro_base: tuple[Any, Any],
) -> None:
    _, tokenizer = micro_base
    prompt = next(
        p
        for p in load_split("test", 0)
        if p.has_tool
        and any(isinstance(v, str) and " " in v for v in p.expected.arguments.values())
    )
    ids, kinds = reference_token_kinds(prompt, tokenizer)
    values = [v for v in prompt.expected.arguments.values() if not isinstance(v, list)]
    spaces = sum(v.count(" ") for v in values if isinstance(v, str))
    assert kinds.count("value_space") == kinds.count("value_after_space") == spaces > 0
    for position, kind in enumerate(kinds):
        if kind == "value_space":
            assert tokenizer.decode([ids[position]]).isspace()
            assert kinds[position + 1] == "value_after_space"
            assert kinds[position - 1] in {"value_first", "value_rest", "value_after_space"}
    # every value ends once, on the token that closes it
    ends = [
        tokenizer.decode([i]) for i, kind in zip(ids, kinds, strict=True) if kind == "value_end"
    ]
    assert len(ends) == len(values) == len(prompt.expected.arguments)
    assert all(end[0] in '",]}' for end in ends)


def test_reference_token_accuracy_matches_a_forward_over_each_prompt_alone(
    micro_base: tuple[Any, Any],
) -> None:
    model, tokenizer = micro_base
    test40 = load_split("test", 0, 40)  # tool and no-tool prompts of several lengths
    prompts = [p for p in test40 if p.has_tool][:7] + [p for p in test40 if not p.has_tool][:2]
    got = reference_token_accuracy(model, tokenizer, prompts, batch_size=4)
    correct = dict.fromkeys(TOKEN_KINDS, 0)
    right_once_called = 0
    with_tool = [p for p in prompts if p.has_tool]
    for prompt, text in zip(with_tool, render_prompts(with_tool, tokenizer), strict=True):
        ids, kinds = reference_token_kinds(prompt, tokenizer)
        prompt_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(torch.tensor([prompt_ids + ids])).logits[0]
        guesses = logits[len(prompt_ids) - 1 : -1].argmax(-1).tolist()
        hits = [g == i for g, i in zip(guesses, ids, strict=True)]
        for kind, hit in zip(kinds, hits, strict=True):
            correct[kind] += hit
        right_once_called += all(hits[1:])
    assert got.n_answers == len(with_tool) < len(prompts)
    assert got.correct == correct
    assert got.answers_right_once_called == right_once_called
    assert sum(got.total.values()) > sum(got.correct.values()) > 0
    summary = got.to_dict()
    assert 0 <= summary["value_rest"]["accuracy"] <= 1
    with pytest.raises(CrossdiffError, match="fitting tool"):
        reference_token_accuracy(model, tokenizer, [p for p in prompts if not p.has_tool])
