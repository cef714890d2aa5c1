"""Run files and run comparison: Wilson summaries, pairing by prompt, flips, Holm/BH."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from scipy import stats as scipy_stats

from crossdiff.errors import CrossdiffError
from crossdiff.evals.compare import compare_many, compare_runs
from crossdiff.evals.runs import GenerationRecord, load_run, rate_summary, write_run
from crossdiff.evals.statistics import wilson_interval
from crossdiff.world import load_split, reference_response, score_response


@functools.cache
def _tool_prompts() -> list:
    return [p for p in load_split("dev") if p.has_tool]


def _records(outcomes: list[bool], condition: str, samples: int = 1) -> list[GenerationRecord]:
    prompts = _tool_prompts()[: len(outcomes)]
    records = []
    for sample in range(samples):
        for prompt, good in zip(prompts, outcomes, strict=True):
            text = reference_response(prompt) if good else "Let me check that for you."
            score = score_response(text, prompt).to_dict()
            records.append(GenerationRecord(prompt.id, sample, condition, text, True, score))
    return records


def _write(tmp_path: Path, name: str, outcomes: list[bool], samples: int = 1) -> Path:
    records = _records(outcomes, name, samples)
    summary = {"condition": name, **rate_summary([r.score for r in records])}
    return write_run(tmp_path / name, records, summary)


def test_rate_summary_gives_wilson_intervals_per_rate() -> None:
    records = _records([True] * 7 + [False] * 13, "none")
    summary = rate_summary([r.score for r in records])
    assert summary["rates"]["full_correctness"] == wilson_interval(7, 20).to_dict()
    assert summary["rates"]["false_call_rate"]["total"] == 0
    assert summary["failure_reasons"] == {"no_tag": 13}


def test_run_round_trips_through_disk(tmp_path: Path) -> None:
    path = _write(tmp_path, "base", [True, False, True])
    run = load_run(path)
    assert [r["prompt_id"] for r in run.records] == [r.prompt_id for r in _records([1, 0, 1], "x")]
    assert run.summary["rates"]["full_correctness"]["count"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base"]


def test_compare_counts_flips_and_matches_the_binomial_test(tmp_path: Path) -> None:
    base = [False] * 26 + [True] * 9 + [True, False, False, False, False]
    treat = [True] * 26 + [True] * 9 + [False, False, False, False, False]
    result = compare_runs(_write(tmp_path, "base", base), _write(tmp_path, "steer", treat), seed=3)
    table = result.comparison.table
    assert (table.both, table.gained, table.lost, table.neither) == (9, 26, 1, 4)
    assert result.comparison.mcnemar_p == pytest.approx(scipy_stats.binomtest(1, 27).pvalue)
    assert len(result.gained) == 26 and len(result.lost) == 1
    assert result.comparison.paired_t.estimate == pytest.approx(25 / 40)
    assert result.comparison.bootstrap.low < 25 / 40 < result.comparison.bootstrap.high


def test_compare_many_adjusts_over_all_cells(tmp_path: Path) -> None:
    base = _write(tmp_path, "base", [False] * 20)
    strong = _write(tmp_path, "strong", [True] * 15 + [False] * 5)
    weak = _write(tmp_path, "weak", [True] * 3 + [False] * 17)
    result = compare_many([(base, strong), (base, weak)], num_resamples=500)
    assert result["num_comparisons"] == 2
    raw = [row["mcnemar_exact_p"] for row in result["comparisons"]]
    assert result["comparisons"][0]["holm_p"] == pytest.approx(2 * raw[0])
    assert result["comparisons"][1]["holm_p"] == pytest.approx(raw[1])
    assert result["comparisons"][1]["bh_p"] == pytest.approx(raw[1])
    json.dumps(result)


def test_samples_are_averaged_per_prompt_for_the_intervals(tmp_path: Path) -> None:
    base = _write(tmp_path, "base", [False, False, True, True], samples=3)
    treat = _write(tmp_path, "treat", [True, False, True, True], samples=3)
    result = compare_runs(base, treat, num_resamples=200)
    assert result.samples_per_prompt == 3
    assert result.comparison.table.gained == 3
    assert result.comparison.paired_t.estimate == pytest.approx(0.25)


def test_compare_refuses_runs_on_different_prompts(tmp_path: Path) -> None:
    base = _write(tmp_path, "base", [False, True, True])
    other = _write(tmp_path, "other", [False, True])
    with pytest.raises(CrossdiffError, match="same prompts"):
        compare_runs(base, other)
    with pytest.raises(CrossdiffError, match="unknown metric"):
        compare_runs(base, base, metric="vibes")


def test_a_broken_run_file_names_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "base", [False, True])
    generations = path / "generations.jsonl"
    generations.write_text(generations.read_text() + "{not json\n")
    with pytest.raises(CrossdiffError, match=r"generations.jsonl:3"):
        load_run(path)
